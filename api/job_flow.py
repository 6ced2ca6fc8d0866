"""A job's life as the API sees it: accept (store, charge, enqueue), then wait for its outcome.

Order matters for money:

0. a queue deeper than its bound refuses the job before anything is stored or charged;
1. the input goes to S3 first, so a storage failure charges nothing;
2. the job row and its debit commit in one transaction;
3. the Celery message is sent only after that commit, so a worker never sees a job that might
   still roll back; if sending fails, the job is failed and refunded on the spot;
4. a synchronous caller that gives up waiting fails the job (and refunds it) unless a worker
   finished it first; the job row's conditional updates make these outcomes exclusive.
"""

from __future__ import annotations

import logging
import uuid

import anyio

from api.backpressure import refuse_when_overloaded
from api.errors import ApiError
from api.services import Services
from storage import jobs
from storage.api_keys import Caller
from storage.error_codes import ErrorCode
from storage.ledger import InsufficientCredits
from storage.models import Job, JobStatus
from storage.objects import input_key
from storage.pricing import job_cost
from workers.contract import REMOVE_BACKGROUND_TASK, JobOptions, cpu_queue

log = logging.getLogger(__name__)


async def accept_job(
    services: Services, caller: Caller, image: bytes, options: JobOptions, request_id: str
) -> Job:
    await refuse_when_overloaded(services, cpu_queue(services.settings.redis_namespace))
    job_id = uuid.uuid4()
    key = input_key(caller.tenant_id, job_id)
    await anyio.to_thread.run_sync(services.store.put, key, image)
    new_job = jobs.NewJob(
        id=job_id,
        tenant_id=caller.tenant_id,
        api_key_id=caller.api_key_id,
        cost=job_cost(shadow=options.shadow is not None),
        options=options.to_json(),
        input_key=key,
        request_id=request_id,
    )
    try:
        async with services.sessions.begin() as session:
            await session.run_sync(jobs.create_and_debit, new_job)
    except InsufficientCredits:
        await anyio.to_thread.run_sync(services.store.delete, key)
        raise ApiError(
            ErrorCode.INSUFFICIENT_API_CREDITS, "Insufficient credits available"
        ) from None

    services.waiter.expect(job_id)
    try:
        await anyio.to_thread.run_sync(_send, services, job_id)
    except Exception:
        services.waiter.forget(job_id)
        log.exception("job %s could not be enqueued; refunding", job_id)
        await fail_job(services, job_id, ErrorCode.SERVICE_UNAVAILABLE, "The queue is unavailable.")
        raise ApiError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The job queue is unavailable; nothing was charged. Retry shortly.",
            headers={"Retry-After": "5"},
        ) from None
    return await read_job(services, job_id)


def _send(services: Services, job_id: uuid.UUID) -> None:
    services.celery.send_task(REMOVE_BACKGROUND_TASK, args=[str(job_id)])


async def read_job(services: Services, job_id: uuid.UUID) -> Job:
    async with services.sessions() as session:
        job = await session.run_sync(jobs.get, job_id)
    if job is None:
        raise LookupError(f"job {job_id} vanished")
    return job


async def fail_job(services: Services, job_id: uuid.UUID, code: ErrorCode, message: str) -> None:
    async with services.sessions.begin() as session:
        await session.run_sync(jobs.fail_and_refund, job_id, code, message)


async def wait_for_outcome(services: Services, job_id: uuid.UUID) -> Job:
    """The finished job; after the wait timeout, fails it (refunded) unless it finished."""

    async def is_finished() -> bool:
        return (await read_job(services, job_id)).status not in jobs.UNFINISHED

    finished = await services.waiter.wait(
        job_id, services.settings.job_wait_timeout_seconds, is_finished
    )
    if not finished:
        log.warning("job %s did not finish in time; failing it", job_id)
        await fail_job(services, job_id, ErrorCode.TIMEOUT, "The image took too long to process.")
    job = await read_job(services, job_id)
    assert job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    return job
