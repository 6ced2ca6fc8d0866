"""The one place webhook deliveries touch the network.

Delivery code depends only on :data:`Poster` (URL, body, headers → HTTP status, raising on
network failure), so the transport can change without touching the retry logic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from storage.settings import Settings

Poster = Callable[[str, bytes, Mapping[str, str]], int]


def make_poster(settings: Settings) -> Poster:
    timeout = settings.webhook_timeout_seconds

    def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as http:
            return http.post(url, content=body, headers=dict(headers)).status_code

    return post
