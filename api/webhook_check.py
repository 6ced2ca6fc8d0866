"""Refusing a ``webhook_url`` the outbound policy would never deliver to, at submission time.

Only the checks that need no DNS lookup (scheme, host name, literal addresses, port): the
delivery itself resolves and checks every address again, through the SSRF-safe client.
"""

from __future__ import annotations

from api.errors import ApiError
from storage.address_policy import BlockedDestination
from storage.error_codes import ErrorCode
from storage.safe_http import policy_from_settings
from storage.settings import Settings


def check_webhook_url(settings: Settings, url: str | None) -> None:
    if url is None:
        return
    try:
        policy_from_settings(settings).check_url(url)
    except BlockedDestination as refused:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, f"Invalid parameter webhook_url: {refused}."
        ) from None
