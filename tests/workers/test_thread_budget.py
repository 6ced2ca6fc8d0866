"""A worker process keeps OpenCV inside its CPU slot's thread budget."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import pytest

from storage.settings import Settings
from workers.runtime import WorkerRuntime


@pytest.fixture
def opencv_threads() -> Iterator[int]:
    before = cv2.getNumThreads()
    yield before
    cv2.setNumThreads(before)


def test_opencv_gets_the_onnxruntime_thread_count(opencv_threads: int) -> None:
    cv2.setNumThreads(4)
    WorkerRuntime(Settings(ort_intra_op_threads=1)).limit_threads()
    assert cv2.getNumThreads() == 1


def test_automatic_onnxruntime_threads_leave_opencv_alone(opencv_threads: int) -> None:
    cv2.setNumThreads(3)
    WorkerRuntime(Settings(ort_intra_op_threads=0)).limit_threads()
    assert cv2.getNumThreads() == 3
