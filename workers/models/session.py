"""onnxruntime sessions: provider order, device pinning and thread counts in one place.

The provider list comes from configuration in order of preference. Providers this onnxruntime
build lacks are skipped (the CPU wheel has no CUDA), and a GPU worker pins every GPU provider to
its device. The session logs which providers it actually runs on, since onnxruntime otherwise
falls back silently.

OpenVINO's provider (the ``openvino`` extra: onnxruntime's OpenVINO build) runs on the CPU with
the worker's thread budget and ``CUTOUT_OPENVINO_PRECISION``: in ``bf16`` on a CPU with
AVX-512 BF16 or AMX it runs U²-Netp in about half the CPU time, for slightly different masks
(``bench/openvino_bf16.py``, docs/models.md).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
OPENVINO = "OpenVINOExecutionProvider"
_GPU_PROVIDERS = {"CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider"}

ProviderEntry = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    providers: tuple[str, ...] = ("CUDAExecutionProvider", CPU)
    device_id: int | None = None
    intra_op_threads: int = 0
    inter_op_threads: int = 1
    openvino_precision: str = "bf16"
    allow_spinning: bool = False  # see Settings.ort_allow_spinning
    adaptive_threads: bool = True  # see Settings.ort_adaptive_threads and narrow_session_wanted


def choose_providers(
    requested: Sequence[str],
    available: Sequence[str],
    device_id: int | None,
    *,
    threads: int = 0,
    openvino_precision: str = "bf16",
) -> list[ProviderEntry]:
    """The requested providers this build offers, in order, GPU ones pinned to ``device_id``,
    OpenVINO's on the CPU with ``threads`` (0: its default) and ``openvino_precision``.

    The CPU provider always closes the list, so a session can be created on any machine.
    """
    chosen: list[ProviderEntry] = []
    for name in requested:
        if name not in available:
            log.info("execution provider %s is not available in this onnxruntime build", name)
            continue
        options: dict[str, Any] = {}
        if name in _GPU_PROVIDERS and device_id is not None:
            options["device_id"] = device_id
        if name == OPENVINO:
            options = openvino_options(threads, openvino_precision)
        chosen.append((name, options))
    if not any(name == CPU for name, _ in chosen):
        chosen.append((CPU, {}))
    return chosen


def first_provider(config: SessionConfig) -> str:
    """The provider a session for ``config`` will run on first, in this onnxruntime build."""
    available = ort.get_available_providers()
    return choose_providers(config.providers, available, config.device_id)[0][0]


def openvino_options(threads: int, precision: str) -> dict[str, str]:
    """OpenVINO on the CPU, with OpenVINO's own precision hint (``f32`` or ``bf16``): the
    provider's ``precision`` option only offers FP32 and ACCURACY on a CPU.

    The thread budget goes to OpenVINO itself too (``INFERENCE_NUM_THREADS``): with only the
    provider's ``num_of_threads`` its pool kept spinning after each run, and an inference of
    U²-Netp cost 302 ms of CPU instead of 221 once the worker had other work between runs.

    Pinning is off: OpenVINO binds its threads to cores counted from the first, so every
    one-thread worker process of a machine ran on the same core. Two processes each took
    443 ms per inference instead of 221, and together did no more than one.
    """
    config: dict[str, object] = {
        "INFERENCE_PRECISION_HINT": precision,
        "ENABLE_CPU_PINNING": False,
    }
    options = {"device_type": "CPU"}
    if threads > 0:
        options["num_of_threads"] = str(threads)
        config["INFERENCE_NUM_THREADS"] = threads
    options["load_config"] = json.dumps({"CPU": config})
    return options


@functools.cache
def share_cpu_arena() -> None:
    """One CPU arena for every session of the process, growing by exactly what a run asks for.

    onnxruntime's default arena grows by powers of two, and after a large photo's inference
    (``Segmenter.infer(..., release_memory=True)``) it kept ~100 MB of U²-Netp's static-scale
    graph resident; an arena of exactly-sized regions gives all of it back (RSS after release:
    189 → 77 MB; inference time unchanged).
    """
    memory = ort.OrtMemoryInfo(
        "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
    )
    same_as_requested = 1  # ArenaExtendStrategy::kSameAsRequested
    ort.create_and_register_allocator(memory, ort.OrtArenaCfg(0, same_as_requested, -1, -1))


def narrow_session_wanted(config: SessionConfig, active_providers: Sequence[str]) -> bool:
    """Whether a worker also keeps a one-thread session, for jobs that start while other worker
    processes are busy (:mod:`workers.cpu_share`): only when its wide one has more threads, runs
    on onnxruntime's CPU provider, and the machine has more than one core. A GPU session's
    threads only feed the GPU; OpenVINO shares cores well on its own (two busy processes of two
    threads ran as many inferences as of one) and a second compiled model added 33 MB to the
    36 MP job's peak (643 → 676 MB)."""
    wide = config.intra_op_threads != 1 and (os.cpu_count() or 1) > 1
    return config.adaptive_threads and wide and active_providers[0] == CPU


def open_session(
    path: Path, config: SessionConfig, *, model: bytes | None = None
) -> ort.InferenceSession:
    """The model at ``path``, or its rewritten graph ``model`` (serialised) when given."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Memory-pattern planning makes the CPU arena grow on the second run (U²-Netp: ~340 MB →
    # ~540 MB resident) for no measurable speed-up; without it the arena stays at its first size.
    options.enable_mem_pattern = False
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if config.allow_spinning else "0"
    )
    share_cpu_arena()
    options.add_session_config_entry("session.use_env_allocators", "1")
    providers = choose_providers(
        config.providers,
        ort.get_available_providers(),
        config.device_id,
        threads=config.intra_op_threads,
        openvino_precision=config.openvino_precision,
    )
    try:
        session = ort.InferenceSession(
            model or str(path),
            sess_options=options,
            providers=[name for name, _ in providers],
            provider_options=[opts for _, opts in providers],
        )
    except Exception as error:  # a GPU provider listed but unusable (driver, libraries, device)
        if providers == [(CPU, {})]:
            raise
        log.warning("model %s: %s failed (%s); using the CPU", path.name, providers, error)
        session = ort.InferenceSession(model or str(path), sess_options=options, providers=[CPU])
    log.info(
        "model %s loaded; active providers: %s; device %s; threads intra %s inter %s",
        path.name,
        ", ".join(session.get_providers()),
        "cpu" if config.device_id is None else config.device_id,
        config.intra_op_threads or "auto",
        config.inter_op_threads,
    )
    return session
