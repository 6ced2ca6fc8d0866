"""Typed values the SDK takes and returns: shadow settings, results, jobs and batches.

Results are frozen dataclasses built from the API's JSON; field names follow the API, and every
object keeps the raw JSON in ``raw`` so fields added by a newer server are not lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

JobStatus = Literal["queued", "running", "succeeded", "failed"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed"})


@dataclass(frozen=True, slots=True)
class Light:
    """A hand-placed light: x/y in −1..1 from the image centre, z height 0..2, size 0..1."""

    x: float = -0.3
    y: float = -0.6
    z: float = 0.7
    size: float = 0.3


@dataclass(frozen=True, slots=True)
class Shadow:
    """An AI shadow (+3 credits). Without ``light`` the light is estimated from the photo."""

    opacity: float = 0.5
    light: Light | None = None

    def to_param(self) -> dict[str, Any]:
        param: dict[str, Any] = {"opacity": self.opacity}
        if self.light is not None:
            param["light_source"] = {
                "size": self.light.size,
                "position": {"x": self.light.x, "y": self.light.y, "z": self.light.z},
            }
        return param


ShadowArg = bool | Shadow | None


def shadow_param(shadow: ShadowArg) -> bool | dict[str, Any] | None:
    if shadow is None or shadow is False:
        return None
    if shadow is True:
        return True
    return shadow.to_param()


@dataclass(frozen=True, slots=True)
class RemovalResult:
    """The answer of ``remove_background``: the PNG bytes, or a URL valid for one hour."""

    credits_charged: int
    request_id: str | None
    png: bytes | None = None
    result_url: str | None = None
    credits_remaining: int | None = None

    def save(self, path: str | Path) -> Path:
        """Write the PNG (asked for with ``as_url=False``, the default) to ``path``."""
        if self.png is None:
            raise ValueError("this result holds a URL; download it with client.download(url)")
        target = Path(path)
        target.write_bytes(self.png)
        return target


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Job:
    """``GET /v1/jobs/{id}``: an asynchronous job's state."""

    id: str
    status: str
    credits_charged: int | None = None
    credits_refunded: int | None = None
    result_url: str | None = None
    error_code: str | None = None
    error: str | None = None
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        return cls(
            id=str(data["job_id"]),
            status=str(data.get("status")),
            credits_charged=data.get("credits_charged"),
            credits_refunded=data.get("credits_refunded"),
            result_url=data.get("result_url"),
            error_code=data.get("error_code"),
            error=data.get("error"),
            created_at=_time(data.get("created_at")),
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class JobAccepted:
    """``POST /v1/jobs/remove-background`` → 202: the job was validated and charged."""

    job_id: str
    status_url: str | None
    credits_charged: int | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One photo of a batch: a local image or a URL, with its own shadow."""

    image: bytes | None = None
    image_url: str | None = None
    shadow: ShadowArg = None
    filename: str = "image"


@dataclass(frozen=True, slots=True)
class BatchAccepted:
    """``POST /v1/batches`` → 202: every item was validated and charged, one job each."""

    batch_id: str
    status_url: str | None
    job_ids: tuple[str, ...]
    credits_charged: int | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Batch:
    """``GET /v1/batches/{id}``: counts per status, credits, and the jobs in item order."""

    id: str
    done: bool
    total: int
    counts: dict[str, int]
    credits_charged: int
    credits_refunded: int
    jobs: tuple[Job, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.done

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Batch:
        jobs = tuple(Job.from_json(item) for item in data.get("jobs") or [])
        return cls(
            id=str(data["batch_id"]),
            done=bool(data.get("done")),
            total=int(data.get("total", len(jobs))),
            counts=dict(data.get("counts") or {}),
            credits_charged=int(data.get("credits_charged") or 0),
            credits_refunded=int(data.get("credits_refunded") or 0),
            jobs=jobs,
            raw=data,
        )
