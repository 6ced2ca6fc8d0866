"""A worker's heap reuses freed job temporaries instead of faulting fresh pages in each time.

Measured in fresh interpreters, since the setting is for the whole process: the same churn of
10 MB arrays (three made, all freed: the pattern of a job's stages) with and without
:func:`workers.heap.reuse_freed_heap`.
"""

from __future__ import annotations

import subprocess
import sys

CHURN = """
import resource, sys
import numpy as np
from workers.heap import reuse_freed_heap, return_free_heap
if sys.argv[1] == "reuse":
    assert reuse_freed_heap()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def churn():
    arrays = [np.ones(10 << 20, dtype=np.uint8) for _ in range(3)]
    del arrays
churn()
before = faults()
for _ in range(20):
    churn()
during = faults() - before
def resident_mb():
    with open("/proc/self/status") as status:
        return int(next(l for l in status if l.startswith("VmRSS:")).split()[1]) / 1024
held = resident_mb()
return_free_heap()
print(during, held - resident_mb())
"""


def _run(mode: str) -> tuple[int, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True
    )
    faults, given_back = done.stdout.split()
    return int(faults), float(given_back)


def test_freed_blocks_are_reused_and_still_given_back_on_trim():
    adaptive_faults, _ = _run("adaptive")
    reused_faults, given_back_mb = _run("reuse")
    # glibc's default trims the heap's top each round, and the pages come back fresh the next
    # (measured: ~20,500 faults in 20 rounds, 4 MB a round).
    assert adaptive_faults > 10_000, "glibc's default trims the freed arrays each round"
    assert reused_faults < adaptive_faults / 20
    assert given_back_mb > 20, "malloc_trim still hands the kept blocks back"
