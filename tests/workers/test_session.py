"""Execution-provider selection, tested on a CPU-only machine."""

from __future__ import annotations

import json

from storage.settings import Settings
from workers.models.session import CPU, OPENVINO, choose_providers
from workers.runtime import WorkerRuntime

CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


def test_unavailable_gpu_providers_are_skipped_and_cpu_remains():
    assert choose_providers([TRT, CUDA, CPU], [CPU], device_id=0) == [(CPU, {})]


def test_gpu_providers_are_pinned_to_the_worker_device_in_order():
    chosen = choose_providers([TRT, CUDA, CPU], [TRT, CUDA, CPU], device_id=3)
    assert chosen == [(TRT, {"device_id": 3}), (CUDA, {"device_id": 3}), (CPU, {})]


def test_cpu_closes_the_list_even_when_not_requested():
    assert choose_providers([CUDA], [CUDA, CPU], device_id=None) == [(CUDA, {}), (CPU, {})]


def test_openvino_runs_on_the_cpu_with_the_workers_threads_and_precision():
    chosen = choose_providers(
        [OPENVINO, CPU], [OPENVINO, CPU], device_id=None, threads=1, openvino_precision="bf16"
    )
    (name, options), cpu = chosen
    assert name == OPENVINO
    assert cpu == (CPU, {})
    assert options["device_type"] == "CPU"
    assert options["num_of_threads"] == "1"
    assert json.loads(options["load_config"]) == {
        "CPU": {
            "INFERENCE_PRECISION_HINT": "bf16",
            "INFERENCE_NUM_THREADS": 1,
            "ENABLE_CPU_PINNING": False,  # else every worker process runs on the first core
        }
    }


def test_openvino_left_to_its_own_thread_count_when_the_worker_sets_none():
    (_, options), _ = choose_providers(
        [OPENVINO], [OPENVINO, CPU], device_id=0, openvino_precision="f32"
    )
    assert "num_of_threads" not in options
    assert "INFERENCE_NUM_THREADS" not in json.loads(options["load_config"])["CPU"]
    assert "device_id" not in options, "a GPU worker's device is not OpenVINO's"
    assert json.loads(options["load_config"])["CPU"]["INFERENCE_PRECISION_HINT"] == "f32"


def test_openvino_requested_on_a_build_without_it_falls_back_to_the_cpu():
    assert choose_providers([OPENVINO, CPU], [CPU], device_id=None, threads=1) == [(CPU, {})]


def test_the_worker_passes_its_thread_budget_and_precision_to_the_session(monkeypatch):
    monkeypatch.setenv("CUTOUT_ORT_INTRA_OP_THREADS", "1")
    monkeypatch.setenv("CUTOUT_OPENVINO_PRECISION", "f32")
    config = WorkerRuntime(Settings()).session_config
    assert config.intra_op_threads == 1
    assert config.openvino_precision == "f32"


def test_idle_threads_do_not_spin_unless_the_operator_asks(monkeypatch):
    """Worker processes share the cores: a spinning pool keeps a core from the other process."""
    from pathlib import Path

    from workers.models.registry import U2NETP, locate
    from workers.models.session import SessionConfig, open_session

    assert WorkerRuntime(Settings()).session_config.allow_spinning is False
    monkeypatch.setenv("CUTOUT_ORT_ALLOW_SPINNING", "true")
    assert WorkerRuntime(Settings()).session_config.allow_spinning is True

    weights = locate(U2NETP, Path("/nonexistent"))
    for allow, entry in ((False, "0"), (True, "1")):
        config = SessionConfig((CPU,), intra_op_threads=2, allow_spinning=allow)
        options = open_session(weights, config).get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == entry
