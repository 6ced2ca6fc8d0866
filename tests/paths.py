"""Where the tests find their photographs."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "docs" / "samples"


def _eval_dir() -> Path:
    """The development set: $CUTOUT_EVAL_DIR, else ../shared beside the clone, else /work/shared."""
    if configured := os.environ.get("CUTOUT_EVAL_DIR"):
        return Path(configured)
    candidates = [REPO.parent / "shared" / "eval" / "dev", Path("/work/shared/eval/dev")]
    return next((path for path in candidates if path.is_dir()), candidates[0])


EVAL_DIR = _eval_dir()
