"""Prometheus' multiprocess directory, prepared before prometheus_client is first imported.

Celery's prefork pool runs jobs in child processes while the metrics server runs in the parent,
so metrics must go through files that every process writes and the parent reads. prometheus_client
chooses file-backed values when it is first imported, if ``PROMETHEUS_MULTIPROC_DIR`` is set: so
this module uses the standard library only, and ``cutout worker`` (and ``cutout serve`` with
several processes) calls it first.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare() -> Path:
    """Use the configured directory (emptied: stale files would add old counts) or a new one."""
    configured = os.environ.get(ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        return path
    path = Path(tempfile.mkdtemp(prefix="cutout-metrics-"))
    os.environ[ENV] = str(path)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def enabled() -> bool:
    return bool(os.environ.get(ENV))
