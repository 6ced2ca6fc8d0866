"""Worker heartbeats in Redis: which worker processes have their model loaded, and on what.

Each worker process that finished loading its model writes one key with a short expiry and
refreshes it; a process that dies or hangs drops out when its key expires. The API's ``/readyz``
lists them, and a worker's own ``/readyz`` requires one from each of its pool processes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from storage.settings import Settings

INTERVAL_SECONDS = 10
TTL_SECONDS = 3 * INTERVAL_SECONDS


def key_prefix(settings: Settings) -> str:
    return f"{settings.redis_namespace}:worker-heartbeat:"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    host: str
    pid: int
    parent_pid: int
    model: str
    provider: str
    model_load_seconds: float

    def key(self, settings: Settings) -> str:
        return f"{key_prefix(settings)}{self.host}:{self.pid}"

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: str | bytes) -> Heartbeat:
        return cls(**json.loads(raw))
