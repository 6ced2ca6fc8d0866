"""Where a worker runs and what it consumes: ``cutout worker [--gpu N]``.

Pure functions, so the choice is testable on a machine without a GPU:

- ``--gpu N`` asks for CUDA device N and the GPU queue (``<namespace>.<gpu_queue>``);
- without it the worker runs on the CPU and consumes the default queue;
- when the onnxruntime build has no GPU provider, a ``--gpu`` worker says so and falls back to
  the CPU, still consuming the GPU queue (jobs routed there keep flowing, only slower).

Jobs are routed to queues by model (``CUTOUT_MODEL_QUEUES``), see :func:`workers.contract.route`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.settings import Settings
from workers.contract import queue_name

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "ROCMExecutionProvider")


@dataclass(frozen=True, slots=True)
class Placement:
    device_id: int | None  # the GPU every GPU provider is pinned to; None on a CPU worker
    queues: tuple[str, ...]  # full queue names, namespace included
    providers: tuple[str, ...]  # requested providers, in order of preference
    note: str  # one line for the log: what was asked and what will run


def place_worker(
    settings: Settings, gpu: int | None, available_providers: Sequence[str]
) -> Placement:
    namespace = settings.redis_namespace
    cpu_only = tuple(p for p in settings.ort_providers if p not in GPU_PROVIDERS)
    if gpu is None:
        return Placement(
            device_id=None,
            queues=(queue_name(namespace, settings.default_queue),),
            providers=cpu_only or ("CPUExecutionProvider",),
            note="CPU worker",
        )
    queues = (queue_name(namespace, settings.gpu_queue),)
    usable = [p for p in settings.ort_providers if p in GPU_PROVIDERS and p in available_providers]
    if not usable:
        return Placement(
            device_id=None,
            queues=queues,
            providers=cpu_only or ("CPUExecutionProvider",),
            note=f"GPU {gpu} requested but this onnxruntime build has no GPU provider "
            f"(available: {', '.join(available_providers)}); falling back to the CPU",
        )
    return Placement(
        device_id=gpu,
        queues=queues,
        providers=tuple(settings.ort_providers),
        note=f"GPU worker pinned to device {gpu} ({', '.join(usable)})",
    )
