"""Fetching ``image_url``: bounded in time and size, streamed, never buffered past the limit.

Fetch failures map onto the seed's codes: an unreachable host, a non-2xx answer or a timeout is
``invalid_parameter`` (the URL is the parameter that is wrong); more than the size limit is
``file_size_too_large``; what arrives is then probed like any upload.
"""

from __future__ import annotations

import httpx

from api.errors import ApiError
from storage.error_codes import ErrorCode

MAX_REDIRECTS = 3


def make_client(timeout_seconds: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=5.0),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
        headers={"User-Agent": "cutout-fetch/1 (+image_url)"},
    )


async def fetch_image(client: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    try:
        async with client.stream("GET", url) as response:
            if not response.is_success:
                raise ApiError(
                    ErrorCode.INVALID_PARAMETER,
                    "Invalid parameter image_url: the server answered"
                    f" HTTP {response.status_code}.",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ApiError(
                    ErrorCode.FILE_SIZE_TOO_LARGE, "File size too large; the limit is 25 MB."
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ApiError(
                        ErrorCode.FILE_SIZE_TOO_LARGE, "File size too large; the limit is 25 MB."
                    )
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, "Invalid parameter image_url: the download timed out."
        ) from None
    except (httpx.HTTPError, ValueError) as error:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER,
            f"Invalid parameter image_url: it could not be fetched ({type(error).__name__}).",
        ) from None
