"""How a worker process's C heap behaves: job temporaries reused, freed memory given back."""

from __future__ import annotations

import ctypes

# mallopt(3) parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# Allocations below this come from the heap, not from a fresh mmap: glibc's own ceiling for
# its adaptive threshold. It covers a job's temporaries (grid images, masks, stage copies) up
# to ~8 MP, where a float32 mask reaches 32 MB; larger arrays are mapped and unmapped as before.
HEAP_ALLOCATIONS_BELOW = 32 << 20
# Free memory at the heap's top is handed back only beyond this.
TRIM_ABOVE = 128 << 20


def reuse_freed_heap() -> bool:
    """Let malloc keep and reuse freed blocks of up to 32 MB instead of mapping fresh ones.

    A job makes hundreds of short-lived arrays of 0.1–30 MB (refinement's grid images, masks,
    per-stage copies). glibc maps blocks above its adaptive threshold (128 KB at start) with
    ``mmap`` and trims the heap's top once 2× that threshold is free there; the pages of every
    fresh block are then faulted in and zeroed again. At 2.5 MP that was ~85,000 page faults
    per 3 refinements and about a fifth of refinement's CPU time. Fixed thresholds keep those
    pages in the process: between jobs a pool process may hold up to ``TRIM_ABOVE`` of free
    heap. :func:`return_free_heap` still hands it back around a large photo's full-size
    arrays, so the 36 MP peak is lower than before (``bench/memory.py``).

    Setting either threshold turns glibc's adaptive one off, so both are set together (only
    the trim threshold would leave mmap at 128 KB: every array fresh, 10× the faults). Call it
    once, before the process allocates its working set. False where the C library is not glibc.
    """
    if _LIBC is None:
        return False
    return bool(
        _LIBC.mallopt(M_MMAP_THRESHOLD, HEAP_ALLOCATIONS_BELOW)
        and _LIBC.mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE)
    )


def return_free_heap() -> None:
    """Hand glibc's free heap pages back to the system (``malloc_trim``).

    Freed heap pages stay resident (see :func:`reuse_freed_heap`): after a large photo, the
    blocks freed above were still counted in the worker's RSS. A no-op where the C library is
    not glibc.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _load_glibc()
