"""Structured logging shared by every process: one JSON object per line, with context.

A request id is bound when the API receives a request, stored on the job row, and bound again
by the worker that runs the job, so one id follows a photo from ingress to result. Context lives
in context variables (task-local under asyncio), and a filter copies it onto every record.
Every line is redacted last: URL query strings (presigned signatures) and API keys never appear.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

_CONTEXT = {"request_id": request_id, "job_id": job_id}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, variable.get())
        return True


# Query strings carry presigned signatures and tokens (ours, and those in callers' image_url);
# API keys have a recognisable prefix. Neither may reach a log line, whoever logs it.
_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>\\]+)\?[^\s\"'<>\\]*")
_API_KEY = re.compile(r"\bcut_[0-9A-Za-z]{38}\b")


def redact(text: str) -> str:
    """Drop URL query strings and API keys from a formatted log line."""
    return _API_KEY.sub("cut_[redacted]", _URL_QUERY.sub(r"\1?[redacted]", text))


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then redacts: covers messages, arguments and tracebacks alike."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._inner.format(record))


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Bind context fields (``request_id``, ``job_id``) for the duration of a block."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def configure(level: str = "INFO", fmt: Literal["json", "text"] = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    inner: logging.Formatter
    if fmt == "json":
        inner = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        inner = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
