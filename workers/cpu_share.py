"""How busy the machine's other worker processes are, so a job alone can take every core.

A worker process runs inference with ``CUTOUT_ORT_INTRA_OP_THREADS`` threads. Wide threads halve
the latency of a job that runs alone, but when every process is busy they cost CPU for nothing:
on a 2-core host, two processes of two threads used 1,151 ms of worker CPU per request where
one thread each used 851, and served 1.55 requests/s instead of 2.08 (``bench/service_cpu.py
--threads 2`` and ``--threads 1``). So each job looks, when it starts, at whether another worker
process of this machine is running a job: alone it runs wide, otherwise on one thread.

Processes find each other through lock files: a running job holds an exclusive ``flock`` on one
slot file, and a process counts the slots it cannot lock. The kernel drops the lock when its
holder exits, so a worker killed mid-job leaves nothing stale behind.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def default_directory() -> Path:
    return Path(tempfile.gettempdir()) / f"cutout-running-jobs-{os.getuid()}"


class RunningJobs:
    """The slot files of one machine's (or container's) worker processes."""

    def __init__(self, directory: Path | None = None, slots: int | None = None) -> None:
        self.directory = directory or default_directory()
        self.slots = slots or max(4, 2 * (os.cpu_count() or 1))
        self._files: list[BinaryIO] = []
        self._pid = -1

    @contextmanager
    def running(self) -> Iterator[int]:
        """Hold a slot while the job runs; yields how many other processes are running one."""
        files = self._open()
        mine = next((file for file in files if _try_lock(file)), None)
        try:
            yield sum(1 for file in files if file is not mine and _held_elsewhere(file))
        finally:
            if mine is not None:
                fcntl.flock(mine, fcntl.LOCK_UN)

    def _open(self) -> list[BinaryIO]:
        """The slot files, opened by this process: a lock belongs to an open file description,
        which a forked pool process would share with its parent."""
        if self._pid != os.getpid():
            self.directory.mkdir(parents=True, exist_ok=True)
            self._files = [
                open(self.directory / f"slot-{index}", "ab")  # noqa: SIM115 (held for the process)
                for index in range(self.slots)
            ]
            self._pid = os.getpid()
        return self._files


def _try_lock(file: BinaryIO) -> bool:
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _held_elsewhere(file: BinaryIO) -> bool:
    if not _try_lock(file):
        return True
    fcntl.flock(file, fcntl.LOCK_UN)
    return False
