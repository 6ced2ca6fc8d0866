"""The one place webhook deliveries touch the network: the SSRF-safe client of
:mod:`storage.safe_http`, the same that fetches ``image_url``.

Delivery code depends only on :data:`Poster` (URL, body, headers → HTTP status, raising on any
failure), so the retry logic is independent of the transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from storage.safe_http import Blocked, post_blocking
from storage.settings import Settings

Poster = Callable[[str, bytes, Mapping[str, str]], int]


class Refused(Exception):
    """The URL's destination is forbidden (private address, port…): retrying cannot help."""


def make_poster(settings: Settings) -> Poster:
    def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            answer = post_blocking(
                settings,
                url,
                content=body,
                headers=headers,
                time_limit=settings.webhook_timeout_seconds,
            )
        except Blocked as blocked:
            raise Refused(str(blocked)) from blocked
        return answer.status

    return post
