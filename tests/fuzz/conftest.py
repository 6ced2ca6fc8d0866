"""Hypothesis budgets for the fuzz harnesses: the ``fuzz`` profile from ``tests/budgets.py``.

250 examples per harness in CI (``HYPOTHESIS_PROFILE=ci``, the default), 1000 with
``HYPOTHESIS_PROFILE=thorough``; ``CUTOUT_FUZZ_EXAMPLES`` overrides both. Runs are derandomised,
so a red CI run repeats on a laptop.
"""

from __future__ import annotations

from tests.budgets import FUZZ_EXAMPLES

__all__ = ["FUZZ_EXAMPLES"]
