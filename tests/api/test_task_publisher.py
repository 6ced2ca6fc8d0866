"""The API's async task publisher writes what Celery and kombu would write, where they read it.

Against the real Redis: the envelope is compared with the one ``send_task`` pushes for the same
task id, and kombu's own Redis channel reads the message back and decodes it.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import redis
from redis.asyncio import Redis

from api.task_publisher import TaskPublisher
from storage.settings import Settings
from workers.celery_app import create_celery
from workers.contract import REMOVE_BACKGROUND_TASK

# Differ between any two messages, or name the sending process.
VARYING = {("properties", "delivery_tag"), ("properties", "reply_to"), ("headers", "origin")}


def _without_varying(envelope: dict) -> dict:
    copy = json.loads(json.dumps(envelope))
    for section, key in VARYING:
        copy[section].pop(key, None)
    return copy


def _queue() -> str:
    return f"publisher-test-{uuid.uuid4().hex[:8]}"


def test_the_envelope_is_the_one_celery_pushes(settings: Settings):
    celery = create_celery(settings)
    queue, task_id, args = _queue(), str(uuid.uuid4()), [str(uuid.uuid4())]
    celery.send_task(REMOVE_BACKGROUND_TASK, args=args, queue=queue, task_id=task_id)
    sync = redis.Redis.from_url(settings.redis_url)
    key = f"{settings.redis_namespace}:{queue}"
    pushed = json.loads(sync.lpop(key))
    sync.delete(*sync.keys(f"{settings.redis_namespace}:*{queue}*"))

    ours = TaskPublisher(celery, Redis.from_url(settings.redis_url)).envelope(
        REMOVE_BACKGROUND_TASK, args, queue, task_id
    )
    assert _without_varying(ours) == _without_varying(pushed)
    assert ours["properties"]["delivery_tag"] != pushed["properties"]["delivery_tag"]


def test_kombu_reads_back_what_was_sent(settings: Settings):
    celery = create_celery(settings)
    queue, args = _queue(), [str(uuid.uuid4())]

    async def send() -> str:
        client = Redis.from_url(settings.redis_url)
        try:
            return await TaskPublisher(celery, client).send(REMOVE_BACKGROUND_TASK, args, queue)
        finally:
            await client.aclose()

    task_id = asyncio.run(send())
    with celery.connection_for_read() as connection:
        message = connection.default_channel.basic_get(queue, no_ack=True)
    assert message is not None, "nothing in the queue's list where kombu looks"
    assert message.headers["task"] == REMOVE_BACKGROUND_TASK
    assert message.headers["id"] == task_id
    assert message.decode()[0] == args
