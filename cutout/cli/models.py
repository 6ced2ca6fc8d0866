"""``cutout models``: list the registry, pull weights, import imgly's IS-Net, register files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Segmentation models: list, pull, add, import.")

Dir = Annotated[
    Path | None,
    typer.Option("--models-dir", help="Default: CUTOUT_MODELS_DIR.", show_default=False),
]


def _models_dir(models_dir: Path | None) -> Path:
    from storage.settings import get_settings

    return models_dir or get_settings().models_dir


@app.command("list")
def list_models(models_dir: Dir = None, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every known model, whether its weights are here, and its licence."""
    from storage.settings import get_settings
    from workers.models.registry import ModelNotFound, locate, registry

    folder = _models_dir(models_dir)
    default = get_settings().model_name
    rows = []
    for spec in registry(folder).values():
        try:
            where = str(locate(spec, folder))
        except ModelNotFound:
            where = None
        rows.append(
            {
                "name": spec.name,
                "default": spec.name == default,
                "installed": where is not None,
                "path": where,
                "input_size": spec.input_size,
                "license": spec.license,
                "note": spec.note,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "*" if row["default"] else " "
        state = "installed" if row["installed"] else "not pulled"
        typer.echo(
            f"{mark} {row['name']:<24} {row['input_size']:>5}px  {state:<10}  {row['license']}"
        )


@app.command()
def pull(
    name: str,
    models_dir: Dir = None,
    sha256: Annotated[str | None, typer.Option(help="Checksum to verify against.")] = None,
    url: Annotated[str | None, typer.Option(help="Download from this URL (a mirror).")] = None,
) -> None:
    """Download a model's weights into the models folder, verifying the checksum."""
    from workers.models.fetch import PullRefused
    from workers.models.fetch import pull as do_pull
    from workers.models.registry import ChecksumMismatch, ModelNotFound, get_spec

    folder = _models_dir(models_dir)
    try:
        spec = get_spec(name, folder)
        path = do_pull(spec, folder, sha256=sha256, url=url)
    except (ModelNotFound, PullRefused, ChecksumMismatch) as error:
        typer.echo(f"cannot pull {name}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{name}: {path} (verified; licence: {spec.license})")


@app.command("import-imgly")
def import_imgly(
    package: Annotated[
        Path,
        typer.Argument(
            exists=True, help="The .tgz from `npm pack @imgly/background-removal-data`."
        ),
    ],
    models_dir: Dir = None,
    resource: str = "/models/medium",
) -> None:
    """Build imgly's IS-Net ONNX (AGPL-3.0) from its npm package's chunks."""
    from workers.models.fetch import import_imgly as do_import
    from workers.models.registry import ChecksumMismatch, get_spec

    folder = _models_dir(models_dir)
    spec = get_spec("imgly-isnet", folder)
    try:
        path = do_import(package, spec, folder, resource)
    except (KeyError, ChecksumMismatch) as error:
        typer.echo(f"cannot import: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"imgly-isnet: {path} (licence: {spec.license})")


@app.command()
def add(
    name: str,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    input_size: Annotated[int, typer.Option(min=32)] = 1024,
    mean: Annotated[tuple[float, float, float], typer.Option()] = (0.485, 0.456, 0.406),
    std: Annotated[tuple[float, float, float], typer.Option()] = (0.229, 0.224, 0.225),
    logits: Annotated[bool, typer.Option(help="The model outputs logits (sigmoid them).")] = False,
    license: Annotated[str, typer.Option(help="Licence of the weights.")] = "unknown (custom)",
    models_dir: Dir = None,
) -> None:
    """Register an ONNX file by its path (pinned to its current SHA-256)."""
    from workers.models.registry import register_custom

    try:
        spec = register_custom(
            _models_dir(models_dir),
            name,
            path,
            input_size=input_size,
            mean=mean,
            std=std,
            output="logits" if logits else "probability",
            license=license,
        )
    except (ValueError, LookupError) as error:
        typer.echo(f"cannot add {name}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{name}: {spec.path} ({spec.checksum})")
