"""Execution-provider selection, tested on a CPU-only machine."""

from __future__ import annotations

from workers.models.session import CPU, choose_providers

CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


def test_unavailable_gpu_providers_are_skipped_and_cpu_remains():
    assert choose_providers([TRT, CUDA, CPU], [CPU], device_id=0) == [(CPU, {})]


def test_gpu_providers_are_pinned_to_the_worker_device_in_order():
    chosen = choose_providers([TRT, CUDA, CPU], [TRT, CUDA, CPU], device_id=3)
    assert chosen == [(TRT, {"device_id": 3}), (CUDA, {"device_id": 3}), (CPU, {})]


def test_cpu_closes_the_list_even_when_not_requested():
    assert choose_providers([CUDA], [CUDA, CPU], device_id=None) == [(CUDA, {}), (CPU, {})]
