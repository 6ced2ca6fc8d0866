"""Jobs take every core when they run alone and one when other worker processes are busy."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from storage.settings import Settings
from tests.paths import REPO
from workers.cpu_share import RunningJobs
from workers.models.registry import U2NETP, locate
from workers.models.session import CPU, OPENVINO, SessionConfig, narrow_session_wanted
from workers.pipeline.segment import Segmenter
from workers.runtime import WorkerRuntime

HOLD_A_SLOT = """
import sys, time
from pathlib import Path
from workers.cpu_share import RunningJobs
with RunningJobs(Path(sys.argv[1]), slots=4).running() as others:
    print(others, flush=True)
    time.sleep(60)
"""


def hold_a_slot(directory: Path, busy_before: int = 0) -> subprocess.Popen[str]:
    """Another worker process, in the middle of a job, until it is killed; it saw
    ``busy_before`` others when it started."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_SLOT, str(directory)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == str(busy_before)  # it holds its slot now
    return process


def test_a_job_counts_the_other_processes_running_one_and_not_itself(tmp_path):
    jobs = RunningJobs(tmp_path, slots=4)
    with jobs.running() as others:
        assert others == 0
    first, second = hold_a_slot(tmp_path), hold_a_slot(tmp_path, busy_before=1)
    try:
        with jobs.running() as others:
            assert others == 2
    finally:
        first.kill()
        second.kill()


def test_a_killed_process_leaves_no_busy_slot_behind(tmp_path):
    """The kernel drops a dead process's lock: no stale count after a worker is SIGKILLed."""
    other = hold_a_slot(tmp_path)
    with RunningJobs(tmp_path, slots=4).running() as others:
        assert others == 1
    other.send_signal(signal.SIGKILL)
    other.wait(10)
    with RunningJobs(tmp_path, slots=4).running() as others:
        assert others == 0


def _count_in_forked_child(jobs: RunningJobs, result: multiprocessing.Queue) -> None:
    with jobs.running() as others:
        result.put(others)


def test_a_forked_pool_process_sees_its_parent_busy(tmp_path):
    """Celery forks pool processes: a child must not share its parent's lock, or it would take
    the parent's busy slot for a free one."""
    jobs = RunningJobs(tmp_path, slots=4)
    context = multiprocessing.get_context("fork")
    result = context.Queue()
    with jobs.running() as others:
        assert others == 0
        child = context.Process(target=_count_in_forked_child, args=(jobs, result))
        child.start()
        child.join(30)
    assert result.get(timeout=5) == 1


def test_only_a_multi_threaded_cpu_provider_session_gets_a_narrow_twin():
    assert narrow_session_wanted(SessionConfig((CPU,), intra_op_threads=2), [CPU])
    assert narrow_session_wanted(SessionConfig((CPU,), intra_op_threads=0), [CPU])
    openvino = SessionConfig((OPENVINO, CPU), intra_op_threads=2)
    assert not narrow_session_wanted(openvino, [OPENVINO, CPU])
    assert not narrow_session_wanted(SessionConfig((CPU,), intra_op_threads=1), [CPU])
    off = SessionConfig((CPU,), intra_op_threads=2, adaptive_threads=False)
    assert not narrow_session_wanted(off, [CPU])
    gpu = SessionConfig(("CUDAExecutionProvider", CPU), intra_op_threads=2)
    assert not narrow_session_wanted(gpu, ["CUDAExecutionProvider", CPU])


def test_the_operator_can_turn_adaptive_threads_off(monkeypatch):
    assert WorkerRuntime(Settings()).session_config.adaptive_threads is True
    monkeypatch.setenv("CUTOUT_ORT_ADAPTIVE_THREADS", "false")
    assert WorkerRuntime(Settings()).session_config.adaptive_threads is False


@pytest.fixture(scope="module")
def wide_segmenter() -> Segmenter:
    config = SessionConfig((CPU,), intra_op_threads=2)
    return Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), config)


def test_the_narrow_session_runs_on_one_thread_and_computes_the_same_mask(wide_segmenter):
    assert wide_segmenter.adapts_threads
    wide = wide_segmenter._session.get_session_options()
    narrow = wide_segmenter._narrow_session.get_session_options()
    assert (wide.intra_op_num_threads, narrow.intra_op_num_threads) == (2, 1)
    assert narrow.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    pixels = np.random.default_rng(0).integers(0, 256, (300, 400, 4), dtype=np.uint8)
    np.testing.assert_allclose(
        wide_segmenter.predict(pixels, narrow=True), wide_segmenter.predict(pixels), atol=1e-5
    )


def test_a_job_runs_narrow_only_while_another_process_runs_one(tmp_path, wide_segmenter):
    runtime = WorkerRuntime(Settings())
    runtime.running_jobs = RunningJobs(tmp_path, slots=4)
    cv2.setNumThreads(2)
    with runtime.job_threads(wide_segmenter) as narrow:
        assert (narrow, cv2.getNumThreads()) == (False, 2)
    other = hold_a_slot(tmp_path)
    try:
        with runtime.job_threads(wide_segmenter) as narrow:
            assert (narrow, cv2.getNumThreads()) == (True, 1)
        assert cv2.getNumThreads() == 2  # the wide budget is back for the next job
    finally:
        other.kill()
