"""How many generated examples the property tests run: a CI budget by default, the full one on
demand.

``HYPOTHESIS_PROFILE=ci`` (the default, what ``make test`` and CI run) gives each fuzz harness
in ``tests/fuzz/`` 250 examples and schemathesis 25 per operation and generation mode;
``HYPOTHESIS_PROFILE=thorough`` gives the full counts (1000 and 50), e.g. before a release or
after touching a parser. ``CUTOUT_FUZZ_EXAMPLES`` and ``CUTOUT_SCHEMATHESIS_EXAMPLES`` override
either (e.g. 20000 for a long local fuzz run). Runs are derandomised, so a red run repeats on a
laptop with the same profile.

Why two budgets: the fuzz harnesses and schemathesis were a tenth of the suite's wall time at the
full counts, and the first few hundred derandomised examples hold the cases that ever failed.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

BUDGETS = {"ci": (250, 25), "thorough": (1000, 50)}  # profile -> (fuzz, schemathesis) examples
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in BUDGETS:
    raise ValueError(f"HYPOTHESIS_PROFILE must be one of {sorted(BUDGETS)}, not {PROFILE!r}")

FUZZ_EXAMPLES = int(os.environ.get("CUTOUT_FUZZ_EXAMPLES", BUDGETS[PROFILE][0]))
SCHEMATHESIS_EXAMPLES = int(os.environ.get("CUTOUT_SCHEMATHESIS_EXAMPLES", BUDGETS[PROFILE][1]))

# The property tests' shared settings: no deadline (a loaded CI machine is slow, and timing is
# measured in bench/ only), derandomised, no example database.
for _name, (_fuzz, _) in BUDGETS.items():
    settings.register_profile(
        _name,
        max_examples=_fuzz,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
settings.register_profile("fuzz", settings.get_profile(PROFILE), max_examples=FUZZ_EXAMPLES)
