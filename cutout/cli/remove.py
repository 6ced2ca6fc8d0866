"""``cutout remove``: the pipeline in this process, no servers, for one image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def remove(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Input image.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the PNG.")],
    shadow: Annotated[bool, typer.Option(help="Add an automatic shadow.")] = False,
) -> None:
    """Remove the background of one image, entirely on this machine."""
    from storage.image_probe import ImageRejected, probe
    from storage.settings import get_settings
    from workers.contract import JobOptions, ShadowOptions
    from workers.pipeline.run import StageTimes, remove_background
    from workers.runtime import WorkerRuntime

    settings = get_settings()
    data = source.read_bytes()
    options = JobOptions(shadow=ShadowOptions(automatic=True) if shadow else None)
    times = StageTimes()
    try:
        probe(data, min_side=settings.min_image_side, max_side=settings.max_image_side)
        png = remove_background(data, options, WorkerRuntime(settings).segmenter, times)
    except ImageRejected as rejected:
        typer.echo(f"{source}: {rejected.code}: {rejected.message}", err=True)
        raise typer.Exit(2) from None
    output.write_bytes(png)
    stages = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in times.seconds.items())
    typer.echo(f"{output} ({len(png)} bytes; {stages})")
