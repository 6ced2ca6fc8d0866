"""The API stays thin: importing it must not load model or pipeline code."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("onnxruntime", "cv2", "workers.pipeline", "workers.models", "workers.tasks")


def test_the_api_never_imports_model_code():
    probe = (
        "import sys; from api.app import create_app; create_app();"
        f"print(','.join(m for m in sys.modules if m.startswith({HEAVY!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
