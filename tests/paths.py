"""Where the tests find their photographs."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "docs" / "samples"
EVAL_DIR = Path(os.environ.get("CUTOUT_EVAL_DIR", REPO.parent / "shared" / "eval" / "dev"))
