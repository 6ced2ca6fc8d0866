"""Sending Celery task messages from the event loop: Celery builds them, one async LPUSH sends.

Celery's ``send_task`` is synchronous, so the API ran it in a worker thread, and it was the
largest single cost of accepting a job: ~530 µs of CPU per message, a third of it kombu building
a fresh redis-py client for every publish (redis-py's client constructor copies ~170 response
callbacks; redis/redis-py#3624), plus the hand-over to the thread and back.

Here Celery still makes the message (``app.amqp.as_task_v2``: protocol 2's headers, properties
and body) and kombu serialises the body; what is done by hand is only the last step of kombu's
Redis transport: the envelope it pushes onto the queue's list (``kombu.transport.virtual``'s
``prepare_message`` and ``basic_publish``, then ``LPUSH`` on ``<global_keyprefix><queue>``), sent
on the API's asyncio Redis client. ``tests/api/test_task_publisher.py`` checks the envelope
against the one kombu writes for the same task, so an upgrade that changes it fails there, and
every end-to-end test's jobs travel this way to a real Celery worker.

Messages go to the default (middle) priority, under the anonymous exchange with the queue as
routing key, as Celery's ``send_task(..., queue=name)`` sends them.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence

from celery import Celery
from kombu.serialization import dumps
from redis.asyncio import Redis

# What a persistent AMQP message is marked with; kombu's Redis transport keeps it as given.
PERSISTENT = 2


class TaskPublisher:
    """Publishes Celery tasks to the Redis broker without leaving the event loop."""

    def __init__(self, celery: Celery, redis: Redis) -> None:
        self._amqp = celery.amqp
        options = celery.conf.broker_transport_options or {}
        self._prefix: str = options.get("global_keyprefix", "")
        self._redis = redis

    def envelope(self, task: str, args: Sequence[str], queue: str, task_id: str) -> dict:
        """The message as kombu's Redis transport stores it in the queue's list."""
        # ignore_result None, as send_task passes it: the task's own setting decides.
        message = self._amqp.as_task_v2(task_id, task, args=list(args), ignore_result=None)
        content_type, content_encoding, body = dumps(message.body, serializer="json")
        raw = body.encode(content_encoding) if isinstance(body, str) else body
        return {
            "body": base64.b64encode(raw).decode("ascii"),
            "content-encoding": content_encoding,
            "content-type": content_type,
            "headers": message.headers,
            "properties": {
                **message.properties,
                "delivery_mode": PERSISTENT,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }

    async def send(self, task: str, args: Sequence[str], queue: str) -> str:
        """Queue one task; its id. Raises what the Redis client raises when Redis is down."""
        task_id = str(uuid.uuid4())
        payload = json.dumps(self.envelope(task, args, queue, task_id))
        await self._redis.lpush(self._prefix + queue, payload)
        return task_id
