"""A job's life as the API sees it: accept (store, charge, enqueue), then wait for its outcome.

Order matters for money:

0. a queue deeper than its bound refuses the job before anything is stored or charged;
1. the input is stored first (in S3, or in Redis when small: storage/inline_inputs.py), so a
   storage failure charges nothing;
2. the job row and its debit commit together: one autocommitted statement, or one transaction
   with the Idempotency-Key it attaches (storage/db.py make_single_statement_sessionmaker);
3. the Celery message is sent only after that commit (api/task_publisher.py), so a worker
   never sees a job that might still roll back; if sending fails, the job is failed and
   refunded on the spot;
4. a synchronous caller that gives up waiting fails the job (and refunds it) unless a worker
   finished it first; the job row's conditional updates make these outcomes exclusive.

Asynchronous jobs and batches take the same steps and do not wait; a batch charges all its
items in one transaction, so it is paid in full or not at all.

Between 0 and 1, each job takes a concurrent-jobs slot named by its id (api/job_slots.py): a
tenant at its cap is refused (429) before anything is stored or charged, a batch only when all
its items fit. The slot is given back when the job ends, by whichever process ends it, or at
once when the request fails before its job was recorded.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import anyio
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.backpressure import refuse_when_overloaded
from api.bounded import each_bounded
from api.errors import ApiError
from api.job_slots import too_many_jobs
from api.model_choice import choose_model
from api.services import Services
from storage import batches, idempotency, inline_inputs, jobs, ledger, outbox
from storage.api_keys import Caller
from storage.error_codes import ErrorCode
from storage.ledger import InsufficientCredits
from storage.models import Job, JobStatus
from storage.objects import input_key
from storage.pricing import job_cost
from workers.contract import (
    DELIVER_WEBHOOK_TASK,
    REMOVE_BACKGROUND_TASK,
    JobOptions,
    dispatch_queue,
    job_queue,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


def insufficient_credits() -> ApiError:
    return ApiError(ErrorCode.INSUFFICIENT_API_CREDITS, "Insufficient credits available")


async def check_affordable(services: Services, caller: Caller, options: JobOptions) -> None:
    """Refuse early, from the balance read now, before any download or upload.

    Only an optimisation: the balance may change a millisecond later, and the conditional debit
    in :func:`accept_job` is what decides.
    """
    async with services.sessions() as session:
        balance = await session.run_sync(ledger.balance, caller.tenant_id)
    if balance < job_cost(shadow=options.shadow is not None):
        raise insufficient_credits()


async def accept_job(
    services: Services,
    caller: Caller,
    image: bytes,
    options: JobOptions,
    request_id: str,
    *,
    webhook_url: str | None = None,
    wait: bool = True,
    idempotency_key: str | None = None,
) -> jobs.NewJob:
    """Store, charge and enqueue one job; ``wait`` when the caller will wait for its outcome.

    With an ``idempotency_key`` (held by this request), the key is tied to the job in the
    transaction that charges it. Returns what was written, not a re-read of the row: the job
    is ``queued`` as of its acceptance, whatever a fast worker has done with it since.
    """
    options = replace(options, model=choose_model(options.model, services.settings))
    await refuse_when_overloaded(services, job_queue(services.settings, options.model))
    job_id = uuid.uuid4()
    new_job = _new_job(caller, job_id, options, request_id, webhook_url)
    async with _slots_until_recorded(services, caller, [job_id], waited_for=wait):
        new_job = await _store_input(services, new_job, image)
        if idempotency_key is None:  # one statement: see make_single_statement_sessionmaker
            await _charge(services, [new_job.input_key], jobs.create_and_debit, new_job, alone=True)
        else:
            await _charge(
                services, [new_job.input_key], _create_and_debit, new_job, idempotency_key
            )

    if wait:
        services.waiter.expect(job_id)
    try:
        await _send(services, job_id, options.model)
    except Exception:
        services.waiter.forget(job_id)
        log.exception("job %s could not be enqueued; refunding", job_id)
        await fail_job(services, job_id, ErrorCode.SERVICE_UNAVAILABLE, "The queue is unavailable.")
        raise ApiError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The job queue is unavailable; nothing was charged. Retry shortly.",
            headers={"Retry-After": "5"},
        ) from None
    return new_job


@dataclass(frozen=True, slots=True)
class BatchItem:
    image: bytes
    options: JobOptions
    webhook_url: str | None = None


async def accept_batch(
    services: Services, caller: Caller, items: Sequence[BatchItem], request_id: str
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Store every input, charge all items in one transaction (or none), then enqueue each.

    An item whose message cannot be sent is failed and refunded like a synchronous job; the
    others go ahead.
    """
    await refuse_when_overloaded(services, job_queue(services.settings, None))
    batch_id = uuid.uuid4()
    models = [choose_model(item.options.model, services.settings) for item in items]
    items = [
        replace(item, options=replace(item.options, model=model))
        for item, model in zip(items, models, strict=True)
    ]
    new_jobs = [
        _new_job(caller, uuid.uuid4(), item.options, request_id, item.webhook_url, batch_id, i)
        for i, item in enumerate(items)
    ]
    job_ids = [new_job.id for new_job in new_jobs]
    async with _slots_until_recorded(services, caller, job_ids, waited_for=False):
        await each_bounded(
            services.settings.batch_fetch_concurrency,
            [
                functools.partial(
                    anyio.to_thread.run_sync, services.store.put, job.input_key, item.image
                )
                for job, item in zip(new_jobs, items, strict=True)
            ],
        )
        await _charge(
            services,
            [new_job.input_key for new_job in new_jobs],
            batches.create_and_debit,
            batch_id,
            caller.tenant_id,
            new_jobs,
            request_id,
        )
    for new_job, model in zip(new_jobs, models, strict=True):
        try:
            await _send(services, new_job.id, model)
        except Exception:
            log.exception("batch %s: job %s could not be enqueued; refunding", batch_id, new_job.id)
            await fail_job(
                services, new_job.id, ErrorCode.SERVICE_UNAVAILABLE, "The queue is unavailable."
            )
    return batch_id, job_ids


@asynccontextmanager
async def _slots_until_recorded(
    services: Services, caller: Caller, job_ids: list[uuid.UUID], *, waited_for: bool
) -> AsyncIterator[None]:
    """Hold the jobs' slots while the block records them; a block that fails gives them back.

    Once recorded, a job's slot is the job's: its end releases it. A synchronous job keeps the
    request's lifetime (the request fails the job when its wait ends); an asynchronous one gets
    the lifetime of a queued job (storage/job_slots.py says why).
    """
    cap = caller.max_concurrent_jobs
    admission = await services.slots.acquire(caller.tenant_id, cap, job_ids)
    if not admission.admitted:
        raise too_many_jobs(cap, len(job_ids), admission.free)
    try:
        yield
    except BaseException:
        await services.slots.release(caller.tenant_id, job_ids)
        raise
    if not waited_for:
        await services.slots.extend(caller.tenant_id, job_ids)


def _new_job(
    caller: Caller,
    job_id: uuid.UUID,
    options: JobOptions,
    request_id: str,
    webhook_url: str | None,
    batch_id: uuid.UUID | None = None,
    batch_index: int | None = None,
) -> jobs.NewJob:
    return jobs.NewJob(
        id=job_id,
        tenant_id=caller.tenant_id,
        api_key_id=caller.api_key_id,
        cost=job_cost(shadow=options.shadow is not None),
        options=options.to_json(),
        input_key=input_key(caller.tenant_id, job_id),
        request_id=request_id,
        webhook_url=webhook_url,
        batch_id=batch_id,
        batch_index=batch_index,
    )


async def _store_input(services: Services, new_job: jobs.NewJob, image: bytes) -> jobs.NewJob:
    """The input in Redis when small (storage/inline_inputs.py), else in S3; the job to write."""
    settings = services.settings
    if not inline_inputs.fits(settings, len(image)):
        await anyio.to_thread.run_sync(services.store.put, new_job.input_key, image)
        return new_job
    key = inline_inputs.input_key(settings, new_job.id)
    await services.redis.set(
        inline_inputs.redis_key(key), image, ex=settings.inline_input_ttl_seconds
    )
    return replace(new_job, input_key=key)


async def _delete_inputs(services: Services, keys: list[str]) -> None:
    in_s3, in_redis = inline_inputs.split(keys)
    if in_redis:
        await services.redis.delete(*in_redis)
    if in_s3:
        await anyio.to_thread.run_sync(services.store.delete_many, in_s3)


def _create_and_debit(session: Session, new_job: jobs.NewJob, idempotency_key: str) -> None:
    jobs.create_and_debit(session, new_job)
    idempotency.attach(session, new_job.tenant_id, idempotency_key, new_job.id)


async def _charge(
    services: Services,
    keys: list[str],
    write: Callable[..., Any],
    *args: Any,
    alone: bool = False,
) -> None:
    """Run the charging write in one transaction (``alone``: it is a single statement, which
    commits by itself); when it cannot be paid, delete the inputs."""
    sessions = services.single_statements if alone else services.sessions
    try:
        async with sessions.begin() as session:
            await session.run_sync(write, *args)
    except InsufficientCredits:
        await _delete_inputs(services, keys)
        raise insufficient_credits() from None


async def _send(services: Services, job_id: uuid.UUID, model: str | None) -> None:
    """Enqueue on the queue routed for the job's model (CUTOUT_MODEL_QUEUES)."""
    await services.tasks.send(
        REMOVE_BACKGROUND_TASK, [str(job_id)], job_queue(services.settings, model)
    )


async def read_job(services: Services, job_id: uuid.UUID) -> Job:
    async with services.sessions() as session:
        job = await session.run_sync(jobs.get, job_id)
    if job is None:
        raise LookupError(f"job {job_id} vanished")
    return job


async def fail_job(services: Services, job_id: uuid.UUID, code: ErrorCode, message: str) -> None:
    async with services.sessions.begin() as session:
        failed = await session.run_sync(jobs.end_failed, job_id, code, message)
        event_id = await session.run_sync(outbox.pending_event, job_id)
    if failed is not None:  # this call ended the job: its concurrent-jobs slot is free
        await services.slots.release(failed.tenant_id, [job_id])
    try:  # the job has ended: an input it kept in Redis is no longer needed (else: its TTL)
        await services.redis.delete(
            inline_inputs.redis_key(inline_inputs.input_key(services.settings, job_id))
        )
    except RedisError:
        log.warning("job %s: inline input left to its TTL", job_id)
    if event_id is not None:
        try:
            await services.tasks.send(
                DELIVER_WEBHOOK_TASK, [event_id], dispatch_queue(services.settings.redis_namespace)
            )
        except Exception:
            log.warning("webhook %s left to the sweep", event_id, exc_info=True)


# Postgres unreachable (restarting, failing over): worth waiting out, not worth failing a job
# that is paid for and may well be finishing in a worker.
DATABASE_DOWN = (DBAPIError, OSError)
DATABASE_PATIENCE_SECONDS = 30.0


async def _patiently(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, retried with backoff while Postgres is unreachable, for a bounded time."""
    deadline = anyio.current_time() + DATABASE_PATIENCE_SECONDS
    delay = 0.2
    while True:
        try:
            return await call()
        except DATABASE_DOWN as error:
            if anyio.current_time() + delay > deadline:
                raise
            log.warning("%s: database unreachable (%r); retrying", what, error)
            await anyio.sleep(delay)
            delay = min(delay * 2, 3.0)


async def wait_for_outcome(services: Services, job_id: uuid.UUID) -> Job:
    """The finished job; after the wait timeout, fails it (refunded) unless it finished.

    A brief Postgres outage does not end the wait: the job is paid for and may finish, so state
    reads that fail count as "not finished yet", and the final writes and reads are retried.
    """

    async def is_finished() -> bool:
        try:
            return (await read_job(services, job_id)).status not in jobs.UNFINISHED
        except DATABASE_DOWN as error:
            log.warning("job %s: state not readable (%r); still waiting", job_id, error)
            return False

    finished = await services.waiter.wait(
        job_id, services.settings.job_wait_timeout_seconds, is_finished
    )
    if not finished:
        log.warning("job %s did not finish in time; failing it", job_id)
        await _patiently(
            f"job {job_id}",
            lambda: fail_job(
                services, job_id, ErrorCode.TIMEOUT, "The image took too long to process."
            ),
        )
    job = await _patiently(f"job {job_id}", lambda: read_job(services, job_id))
    assert job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    return job
