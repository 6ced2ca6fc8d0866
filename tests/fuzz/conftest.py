"""Hypothesis budgets for the fuzz harnesses.

CI runs each harness for ``FUZZ_EXAMPLES`` examples (1000 by default; ``CUTOUT_FUZZ_EXAMPLES``
overrides it, e.g. 20000 for a long local run). Runs are derandomised unless a seed is given, so a
red CI run repeats on a laptop.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("CUTOUT_FUZZ_EXAMPLES", "1000"))

settings.register_profile(
    "fuzz",
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
