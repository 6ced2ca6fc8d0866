"""Giving freed memory back to the system, so a worker's resident size follows what it holds."""

from __future__ import annotations

import ctypes


def return_free_heap() -> None:
    """Hand glibc's free heap pages back to the system (``malloc_trim``).

    A long-running worker's malloc serves allocations of up to 32 MB from its heap once it has
    freed blocks that large (glibc's adaptive mmap threshold), and freed heap pages stay
    resident: after many jobs, the arena's chunks freed above were still counted in the RSS.
    A no-op where the C library is not glibc.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _load_glibc()
