"""``cutout remove``: cut out files, folders or globs, here or on a server, with progress.

A bad file never stops the run: it is reported (with its ``error_code``) and the rest go on;
the summary at the end counts what was processed, skipped and failed, and the credits charged.
The exit status is 0 when nothing failed, 2 otherwise.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_KEY_ENV = "CUTOUT_API_KEY"


@dataclass
class Summary:
    processed: int = 0
    skipped: int = 0
    credits_charged: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def fail(self, source: str, code: str, message: str) -> None:
        self.failed.append({"file": source, "error_code": code, "error": message})

    def as_json(self) -> dict[str, object]:
        return {
            "processed": self.processed,
            "skipped": self.skipped,
            "failed": self.failed,
            "credits_charged": self.credits_charged,
        }


def _shadow_choice(
    shadow: bool,
    opacity: float | None,
    light: tuple[float | None, float | None, float | None, float | None],
):
    from cutout.removers import ShadowChoice
    from cutout_client import Light

    x, y, z, size = light
    if not shadow and opacity is None and all(value is None for value in light):
        return None
    defaults = Light()
    placed = None
    if any(value is not None for value in light):
        placed = Light(
            x=defaults.x if x is None else x,
            y=defaults.y if y is None else y,
            z=defaults.z if z is None else z,
            size=defaults.size if size is None else size,
        )
    return ShadowChoice(opacity=0.5 if opacity is None else opacity, light=placed)


def remove(
    inputs: Annotated[
        list[str], typer.Argument(help="Image files, folders (recursive) or globs ('a/**/*.jpg').")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Output folder (mirrors the input tree), or a .png for one file."
        ),
    ] = Path("cutouts"),
    remote: Annotated[
        str | None,
        typer.Option(help="A Cutout server's URL; without it the pipeline runs in this process."),
    ] = None,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key for --remote.")
    ] = DEFAULT_KEY_ENV,
    concurrency: Annotated[
        int, typer.Option("-j", "--concurrency", min=1, max=64, help="Images at once.")
    ] = 2,
    skip_existing: Annotated[
        bool, typer.Option(help="Leave images whose output PNG already exists.")
    ] = False,
    shadow: Annotated[bool, typer.Option(help="Add a shadow (+3 credits on a server).")] = False,
    opacity: Annotated[
        float | None, typer.Option(min=0, max=1, help="Shadow opacity (implies --shadow).")
    ] = None,
    light_x: Annotated[float | None, typer.Option(min=-1, max=1, help="Light x, −1..1.")] = None,
    light_y: Annotated[float | None, typer.Option(min=-1, max=1, help="Light y, −1..1.")] = None,
    light_z: Annotated[float | None, typer.Option(min=0, max=2, help="Light height, 0..2.")] = None,
    light_size: Annotated[
        float | None, typer.Option(min=0, max=1, help="Light size (softness), 0..1.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Remove the background of images, in this process or on a Cutout server (--remote)."""
    from cutout import inputs as planning
    from cutout.removers import LocalRemover, RemoteRemover, Remover

    choice = _shadow_choice(shadow, opacity, (light_x, light_y, light_z, light_size))
    plan = planning.plan(inputs, output)
    summary = Summary()
    for source, reason in plan.problems:
        summary.fail(source, "no_input", reason)
        typer.echo(f"{source}: no_input: {reason}", err=True)
    tasks = plan.tasks
    if skip_existing:
        kept = [task for task in tasks if not task.output.exists()]
        summary.skipped = len(tasks) - len(kept)
        tasks = kept

    remover: Remover
    if remote:
        key = os.environ.get(api_key_env)
        if not key:
            typer.echo(f"--remote needs an API key in ${api_key_env}", err=True)
            raise typer.Exit(1)
        remover = RemoteRemover(remote, key, choice)
    else:
        remover = LocalRemover(choice)
    try:
        _run(tasks, remover, concurrency, summary, progress)
    finally:
        remover.close()
    _report(summary, as_json)
    if summary.failed:
        raise typer.Exit(2)


def _run(tasks, remover, concurrency: int, summary: Summary, show_progress: bool) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from cutout.removers import RemovalFailed

    def one(task) -> int:
        png, credits = remover.remove(task.source)
        task.output.parent.mkdir(parents=True, exist_ok=True)
        partial = task.output.with_name(task.output.name + ".part")
        partial.write_bytes(png)
        partial.replace(task.output)  # never leave a half-written PNG for --skip-existing
        return credits

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with (
        Progress(*columns, console=console, disable=not show_progress) as bar,
        ThreadPoolExecutor(max_workers=concurrency) as pool,
    ):
        progress_id = bar.add_task("cutting out", total=len(tasks))
        futures = {pool.submit(one, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                summary.credits_charged += future.result()
                summary.processed += 1
            except RemovalFailed as failed:
                summary.fail(str(task.source), failed.code, failed.message)
                console.print(
                    f"{task.source}: {failed.code}: {failed.message}", markup=False, soft_wrap=True
                )
            except OSError as error:  # the output could not be written
                summary.fail(str(task.source), "unwritable", str(error))
                console.print(f"{task.source}: unwritable: {error}", markup=False, soft_wrap=True)
            bar.advance(progress_id)


def _report(summary: Summary, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary.as_json()))
        return
    typer.echo(
        f"processed {summary.processed}, skipped {summary.skipped},"
        f" failed {len(summary.failed)}, credits charged {summary.credits_charged}"
    )
    for failure in summary.failed:
        typer.echo(f"  failed {failure['file']}: {failure['error_code']}: {failure['error']}")
