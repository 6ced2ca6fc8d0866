"""Fetching ``image_url`` through the SSRF-safe client, with each failure given a contract code.

The seed's 400 codes are a closed list that clients switch on, so fetch failures use them rather
than new codes, and the message tells the cases apart (docs/untrusted-input.md has the table):

- refused destination (private, loopback, metadata, port, scheme, user info): invalid_parameter;
- unresolvable, unreachable, protocol error, compressed body: invalid_parameter;
- a non-2xx answer (404, 500, ...), more than 3 redirects, too slow: invalid_parameter;
- more than 25 MB, declared or streamed: file_size_too_large;
- what arrives is probed like an upload: malformed_image or unsupported_image_format.
"""

from __future__ import annotations

import logging

from api.errors import ApiError
from storage.error_codes import ErrorCode
from storage.safe_http import (
    Blocked,
    OutboundError,
    OutboundTimeout,
    ResponseTooLarge,
    SafeHttpClient,
    TooManyRedirects,
    UnsuccessfulStatus,
)

log = logging.getLogger(__name__)

_PREFIX = "Invalid parameter image_url: "


def _refusal(error: OutboundError) -> ApiError:
    if isinstance(error, ResponseTooLarge):
        return ApiError(ErrorCode.FILE_SIZE_TOO_LARGE, "File size too large; the limit is 25 MB.")
    if isinstance(error, Blocked):
        reason = "it must point to a public http(s) address (ports 80 and 443 by default)."
    elif isinstance(error, UnsuccessfulStatus):
        reason = f"the server answered HTTP {error.status}."
    elif isinstance(error, OutboundTimeout):
        reason = "the download timed out."
    elif isinstance(error, TooManyRedirects):
        reason = "it redirected more than 3 times."
    else:
        reason = "it could not be fetched."
    return ApiError(ErrorCode.INVALID_PARAMETER, _PREFIX + reason)


async def fetch_image(client: SafeHttpClient, url: str, max_bytes: int) -> bytes:
    """The image's bytes, or an :class:`ApiError` with the contract's code."""
    try:
        answer = await client.fetch(url, max_bytes=max_bytes, headers={"Accept": "image/*"})
    except OutboundError as error:
        # The reason (which address, which hop) goes to our logs, not to the client.
        log.info("image_url refused: %s: %s", type(error).__name__, error)
        raise _refusal(error) from None
    return answer.content
