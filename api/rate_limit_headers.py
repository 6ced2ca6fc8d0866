"""The IETF ``RateLimit-Policy`` and ``RateLimit`` headers, serialized as Structured Fields.

Following draft-ietf-httpapi-ratelimit-headers: the policy header names each quota (``q``
requests per ``w`` seconds), the other reports what is left of it (``r``) and when it resets
(``t`` seconds). Two policies describe a plan: the per-minute quota and the burst.
"""

from __future__ import annotations

import math

import http_sf

from api.rate_limit import WINDOW_MS, Decision

POLICY_HEADER = "RateLimit-Policy"
STATE_HEADER = "RateLimit"
WINDOW_SECONDS = WINDOW_MS // 1000


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    burst_window = max(1, math.ceil(WINDOW_SECONDS * decision.burst / decision.limit))
    policy = [
        ("minute", {"q": decision.limit, "w": WINDOW_SECONDS}),
        ("burst", {"q": decision.burst, "w": burst_window}),
    ]
    state = [
        ("minute", {"r": decision.remaining, "t": decision.reset_seconds}),
        ("burst", {"r": decision.burst_remaining, "t": math.ceil(decision.burst_reset_ms / 1000)}),
    ]
    return {POLICY_HEADER: http_sf.ser(policy), STATE_HEADER: http_sf.ser(state)}
