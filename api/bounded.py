"""Running a batch's per-item steps a few at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import anyio


async def each_bounded(limit: int, calls: Iterable[Callable[[], Awaitable[object]]]) -> None:
    """Await every call, at most ``limit`` at once.

    The first failure cancels the rest and is raised as itself (not as an exception group), so
    an :class:`api.errors.ApiError` from one item reaches the error handler unchanged.
    """
    limiter = anyio.CapacityLimiter(limit)

    async def run(call: Callable[[], Awaitable[object]]) -> None:
        async with limiter:
            await call()

    try:
        async with anyio.create_task_group() as group:
            for call in calls:
                group.start_soon(run, call)
    except BaseExceptionGroup as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
