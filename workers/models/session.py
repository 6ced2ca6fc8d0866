"""onnxruntime sessions: provider order, device pinning and thread counts in one place.

The provider list comes from configuration in order of preference. Providers this onnxruntime
build lacks are skipped (the CPU wheel has no CUDA), and a GPU worker pins every GPU provider to
its device. The session logs which providers it actually runs on, since onnxruntime otherwise
falls back silently.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from workers.models.static_resizes import static_resizes_isolated

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
_GPU_PROVIDERS = {"CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider"}

ProviderEntry = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    providers: tuple[str, ...] = ("CUDAExecutionProvider", CPU)
    device_id: int | None = None
    intra_op_threads: int = 0
    inter_op_threads: int = 1


def choose_providers(
    requested: Sequence[str], available: Sequence[str], device_id: int | None
) -> list[ProviderEntry]:
    """The requested providers this build offers, in order, GPU ones pinned to ``device_id``.

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
        chosen.append((name, options))
    if not any(name == CPU for name, _ in chosen):
        chosen.append((CPU, {}))
    return chosen


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


def open_session(
    path: Path, config: SessionConfig, *, static_input_size: int | None = None
) -> ort.InferenceSession:
    """With ``static_input_size`` the model's run-time upsampling sizes are fixed for that input
    first (:mod:`workers.models.static_resizes`), when that leaves its output unchanged."""
    model = static_resizes_isolated(path, static_input_size) if static_input_size else None
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Memory-pattern planning makes the CPU arena grow on the second run (U²-Netp: ~340 MB →
    # ~540 MB resident) for no measurable speed-up; without it the arena stays at its first size.
    options.enable_mem_pattern = False
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    share_cpu_arena()
    options.add_session_config_entry("session.use_env_allocators", "1")
    providers = choose_providers(config.providers, ort.get_available_providers(), config.device_id)
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
