"""Job-outcome notifications on Redis pub/sub.

A worker publishes one message per finished job *after* its commit; API processes that wait for
synchronous jobs subscribe once to a single channel and wake the matching waiter. A message is
only a hint that the row changed: the waiter re-reads the job from Postgres, so a lost message
costs latency (the waiter also polls), never correctness.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from storage.settings import Settings


def channel(settings: Settings) -> str:
    return f"{settings.redis_namespace}:job-outcomes"


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: uuid.UUID
    status: str

    def encode(self) -> str:
        return json.dumps({"job_id": str(self.job_id), "status": self.status})

    @classmethod
    def decode(cls, raw: str | bytes) -> Outcome:
        data = json.loads(raw)
        return cls(job_id=uuid.UUID(data["job_id"]), status=str(data["status"]))
