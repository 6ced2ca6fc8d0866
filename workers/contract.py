"""What the API and the workers agree on: task and queue names, and the job's options.

Standard library only, so the API can enqueue jobs without importing the pipeline, numpy or
onnxruntime. The options travel in the job row (``jobs.options``), not in the Celery message:
tasks take a job id and re-read the row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

REMOVE_BACKGROUND_TASK = "cutout.remove_background"
DELIVER_WEBHOOK_TASK = "cutout.deliver_webhook"
SWEEP_TASK = "cutout.sweep"


def cpu_queue(namespace: str) -> str:
    return f"{namespace}.cpu"


def dispatch_queue(namespace: str) -> str:
    """Webhook deliveries and sweeps: light work, served by ``cutout dispatcher``."""
    return f"{namespace}.dispatch"


@dataclass(frozen=True, slots=True)
class ShadowOptions:
    """The seed's ShadowParameter, resolved to numbers.

    ``automatic`` means the caller sent ``shadow: true``: the light is estimated from the photo,
    and the numbers here are the fallback.
    """

    opacity: float = 0.5
    size: float = 0.3
    x: float = -0.3
    y: float = -0.6
    z: float = 0.7
    automatic: bool = False


@dataclass(frozen=True, slots=True)
class JobOptions:
    format: str = "png"
    shadow: ShadowOptions | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobOptions:
        shadow = data.get("shadow")
        return cls(
            format=data.get("format", "png"),
            shadow=ShadowOptions(**shadow) if shadow else None,
        )
