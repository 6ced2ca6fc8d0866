"""Waiting for something another process does: one poll loop for every test that needs one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    check: Callable[[], Any], timeout: float = 120, what: str = "condition", interval: float = 0.1
) -> Any:
    """Poll until ``check`` returns something truthy (and return it); fail after ``timeout`` s.

    The interval is short because the suite's wall time is mostly spent waiting: a check is a
    cheap query or HTTP call, so polling often costs little and ends each wait sooner.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
