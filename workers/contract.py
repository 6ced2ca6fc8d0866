"""What the API and the workers agree on: task and queue names, and the job's options.

Standard library only, so the API can enqueue jobs without importing the pipeline, numpy or
onnxruntime. The options travel in the job row (``jobs.options``), not in the Celery message:
tasks take a job id and re-read the row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

REMOVE_BACKGROUND_TASK = "cutout.remove_background"
DELIVER_WEBHOOK_TASK = "cutout.deliver_webhook"
SWEEP_TASK = "cutout.sweep"


def queue_name(namespace: str, queue: str) -> str:
    return f"{namespace}.{queue}"


def route(model: str | None, default_model: str, model_queues: dict[str, str], default: str) -> str:
    """The queue (without namespace) a job for ``model`` goes to: configured, else the default."""
    return model_queues.get(model or default_model, default)


class Routing(Protocol):
    """The settings routing needs (``storage.settings.Settings`` has them)."""

    redis_namespace: str
    model_name: str
    model_queues: dict[str, str]
    default_queue: str


def job_queue(settings: Routing, model: str | None) -> str:
    """The Celery queue a job for ``model`` goes to (CUTOUT_MODEL_QUEUES, else the default).

    One function for every sender: the API when it accepts a job, the sweep when it re-sends a
    stuck one, so a re-sent job reaches a worker that has its model.
    """
    queue = route(model, settings.model_name, settings.model_queues, settings.default_queue)
    return queue_name(settings.redis_namespace, queue)


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


class LightSource(StrEnum):
    """Where the light of a rendered shadow came from."""

    MANUAL = "manual"  # the caller's light_source
    ESTIMATED = "estimated"  # estimated from the photo (shadow: true)
    DEFAULT = "default"  # shadow: true, but the photo gave no usable cue: the seed's defaults


@dataclass(frozen=True, slots=True)
class ShadowLight:
    """The light a shadow was rendered with, recorded on the job and reported to the caller.

    :meth:`as_parameter` is a ShadowParameter object: sent back as ``shadow`` it renders the
    same shadow, so a caller can reproduce or tweak an automatic one.
    """

    opacity: float
    size: float
    x: float
    y: float
    z: float
    source: LightSource
    cue: str | None = None  # which cue an estimate came from ("cast_shadow", "shading")
    confidence: float = 0.0  # the chosen cue's confidence in [0, 1]

    def as_parameter(self) -> dict[str, Any]:
        return {
            "opacity": self.opacity,
            "light_source": {
                "size": self.size,
                "position": {"x": self.x, "y": self.y, "z": self.z},
            },
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShadowLight:
        return cls(**{**data, "source": LightSource(data["source"])})


@dataclass(frozen=True, slots=True)
class JobOptions:
    format: str = "png"
    shadow: ShadowOptions | None = None
    model: str | None = None  # additive: None means the server's default model

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobOptions:
        shadow = data.get("shadow")
        return cls(
            format=data.get("format", "png"),
            shadow=ShadowOptions(**shadow) if shadow else None,
            model=data.get("model"),
        )
