"""What a job costs, in credits: the one place prices are set."""

from __future__ import annotations

JOB_CREDITS = 1
SHADOW_CREDITS = 3


def job_cost(*, shadow: bool) -> int:
    return JOB_CREDITS + (SHADOW_CREDITS if shadow else 0)
