"""Parsing ``POST /v1/batches``: up to ``max_batch_items`` items, each with its own options.

- ``application/json``: ``{"items": [{"image_url": ..., "shadow": ..., "webhook_url": ...}, ...],
  "webhook_url": ...}``; the top-level ``webhook_url`` is the default for items without one.
- ``multipart/form-data``: an ``items`` field holding the same JSON array, where an item may name
  an uploaded file part instead of a URL (``{"image": "photo1"}``), plus those file parts.

Each item is validated exactly like a ``/v1/remove-background`` body; any invalid item refuses
the whole batch (before anything is stored or charged) and the message names it: ``items[3]``.

A batch is admitted only when every item gets a concurrent-jobs slot (api/job_flow.py), so a
batch larger than the tenant's ``max_concurrent_jobs`` could never be: it is refused here as
invalid (400), not as "retry later" (429), before any image is read or fetched.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import Request

from api.bounded import each_bounded
from api.errors import ApiError
from api.image_input import prepared_image
from api.job_flow import BatchItem
from api.remove_request import (
    RemovalRequest,
    body_media_type,
    json_object,
    open_form,
    read_upload,
    validate_fields,
)
from api.services import Services
from api.webhook_check import check_webhook_url
from storage.error_codes import ErrorCode
from storage.settings import Settings

T = TypeVar("T")


async def _for_item(index: int, step: Awaitable[T]) -> T:
    """Run one item's step, naming the item in any refusal."""
    try:
        return await step
    except ApiError as error:
        raise ApiError(error.code, f"items[{index}]: {error.message}") from None


async def _validate(data: Any, image: bytes | None) -> RemovalRequest:
    if not isinstance(data, dict):
        raise ApiError(ErrorCode.INVALID_PARAMETER, "an item must be a JSON object.")
    return validate_fields(data, image, webhook=True)


def _item_list(raw: Any, limit: int, plan_cap: int) -> list[Any]:
    if raw is None:
        raise ApiError(ErrorCode.MISSING_PARAMETER, "Missing required parameter: items.")
    if not isinstance(raw, list) or not raw:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, "Invalid parameter items: a non-empty list is required."
        )
    if len(raw) > limit:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER,
            f"Invalid parameter items: at most {limit} items per batch ({len(raw)} sent).",
        )
    if len(raw) > plan_cap:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER,
            f"Invalid parameter items: your plan runs at most {plan_cap} jobs at once, and a"
            f" batch runs all its items at once: send at most {plan_cap} per batch"
            f" ({len(raw)} sent).",
        )
    return raw


def _with_default_webhook(item: Any, default: Any) -> Any:
    if isinstance(item, dict) and default is not None and "webhook_url" not in item:
        return {**item, "webhook_url": default}
    return item


async def _from_json(request: Request, limit: int, plan_cap: int) -> list[RemovalRequest]:
    body = await json_object(request)
    items = _item_list(body.get("items"), limit, plan_cap)
    default = body.get("webhook_url")
    return [
        await _for_item(i, _validate(_with_default_webhook(item, default), None))
        for i, item in enumerate(items)
    ]


async def _from_multipart(
    request: Request, limit: int, plan_cap: int, max_image_bytes: int
) -> list[RemovalRequest]:
    form = await open_form(request, max_files=limit, max_fields=8)
    try:
        raw_items = form.get("items")
        if not isinstance(raw_items, str):
            raise ApiError(ErrorCode.MISSING_PARAMETER, "Missing required parameter: items.")
        try:
            parsed = json.loads(raw_items)
        except ValueError:
            raise ApiError(
                ErrorCode.INVALID_PARAMETER, "Invalid parameter items: it is not valid JSON."
            ) from None
        items = _item_list(parsed, limit, plan_cap)
        default = form.get("webhook_url")
        requests: list[RemovalRequest] = []
        for i, item in enumerate(items):
            image = None
            if isinstance(item, dict) and "image" in item:
                part = item["image"]
                if not isinstance(part, str) or part not in form:
                    raise ApiError(
                        ErrorCode.MISSING_PARAMETER,
                        f"items[{i}]: Missing required parameter: no file part named {part!r}.",
                    )
                image = await _for_item(i, read_upload(part, form[part], max_image_bytes))
                item = {key: value for key, value in item.items() if key != "image"}
            requests.append(
                await _for_item(i, _validate(_with_default_webhook(item, default), image))
            )
        return requests
    finally:
        await form.close()


async def _checked_webhook(settings: Settings, url: str | None) -> None:
    check_webhook_url(settings, url)


async def parse_batch(request: Request, services: Services, plan_cap: int) -> list[BatchItem]:
    """The batch's items with their images, fetched (a few at once) and probed.

    ``plan_cap`` is the caller's ``max_concurrent_jobs``: the most items its batch may hold.
    """
    settings = services.settings
    limit = settings.max_batch_items
    if await body_media_type(request) == "application/json":
        requests = await _from_json(request, limit, plan_cap)
    else:
        requests = await _from_multipart(request, limit, plan_cap, settings.max_image_bytes)

    for index, removal in enumerate(requests):
        await _for_item(index, _checked_webhook(settings, removal.webhook_url))
    images: list[bytes | None] = [None] * len(requests)

    async def load(index: int, removal: RemovalRequest) -> None:
        images[index] = await _for_item(index, prepared_image(services, removal))

    await each_bounded(
        settings.batch_fetch_concurrency,
        [functools.partial(load, i, removal) for i, removal in enumerate(requests)],
    )
    return [
        BatchItem(image=image, options=removal.options, webhook_url=removal.webhook_url)
        for image, removal in zip(images, requests, strict=True)
        if image is not None
    ]
