"""Parsing and validating a ``/v1/remove-background`` request body.

Both body types the seed allows end in the same :class:`RemovalRequest`: ``application/json``
(``image_url``, ``format``, ``shadow``) and ``multipart/form-data`` (``image`` and/or
``image_url``, ``format``, ``shadow`` as ``true``/``false`` or a JSON object). Validation errors
name the offending field, e.g. ``shadow.light_source.position.x``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from api.errors import ApiError
from storage.error_codes import ErrorCode
from workers.contract import JobOptions, ShadowOptions

SUPPORTED_FORMATS = ("png",)


class Position(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    x: float = Field(-0.3, ge=-1, le=1)
    y: float = Field(-0.6, ge=-1, le=1)
    z: float = Field(0.7, ge=0, le=2)


class LightSource(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    size: float = Field(0.3, ge=0, le=1)
    position: Position


class ShadowParameter(BaseModel):
    """The seed's ShadowParameter. An object without ``light_source`` means automatic light."""

    model_config = ConfigDict(strict=True, extra="forbid")
    enabled: bool = True
    opacity: float = Field(0.5, ge=0, le=1)
    light_source: LightSource | None = None

    def resolve(self) -> ShadowOptions | None:
        if not self.enabled:
            return None
        if self.light_source is None:
            return ShadowOptions(opacity=self.opacity, automatic=True)
        position = self.light_source.position
        return ShadowOptions(
            opacity=self.opacity,
            size=self.light_source.size,
            x=position.x,
            y=position.y,
            z=position.z,
        )


class Fields(BaseModel):
    """The body's fields, whichever encoding they arrived in. Unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")
    image_url: str | None = None
    format: str = "png"
    shadow: Any = None  # validated by _shadow, so errors name the nested field
    webhook_url: str | None = None  # asynchronous jobs only; the synchronous endpoint ignores it
    model: Any = None  # additive extension, checked by api.model_choice


@dataclass(frozen=True, slots=True)
class RemovalRequest:
    image: bytes | None
    image_url: str | None
    options: JobOptions
    webhook_url: str | None = None


def _field_error(error: ValidationError, prefix: str = "") -> ApiError:
    first = error.errors()[0]
    name = ".".join(
        [prefix, *(str(part) for part in first["loc"])] if prefix else map(str, first["loc"])
    )
    if first["type"] == "missing":
        return ApiError(ErrorCode.MISSING_PARAMETER, f"Missing required parameter: {name}.")
    return ApiError(ErrorCode.INVALID_PARAMETER, f"Invalid parameter {name}: {first['msg']}.")


def _require_http_url(name: str, url: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, f"Invalid parameter {name}: it must be an http(s) URL."
        )


def validate_fields(
    data: dict[str, Any], image: bytes | None, *, webhook: bool = False
) -> RemovalRequest:
    """One request's (or one batch item's) fields, checked the same way for every endpoint.

    ``webhook_url`` exists for asynchronous jobs only; elsewhere it is ignored like any unknown
    field, as the seed contract has it.
    """
    if not webhook:
        data = {name: value for name, value in data.items() if name != "webhook_url"}
    try:
        fields = Fields.model_validate(data)
    except ValidationError as error:
        raise _field_error(error) from None
    if fields.format not in SUPPORTED_FORMATS:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, "Invalid parameter format: only png is supported."
        )
    if image is None:
        if fields.image_url is None:
            raise ApiError(
                ErrorCode.MISSING_PARAMETER, "Missing required parameter: image_url or image."
            )
        _require_http_url("image_url", fields.image_url)
    if fields.webhook_url is not None:
        _require_http_url("webhook_url", fields.webhook_url)
    # ``model`` travels as sent; api.model_choice checks it against the allow-list.
    options = JobOptions(format=fields.format, shadow=_shadow(fields.shadow), model=fields.model)
    return RemovalRequest(
        image=image,
        image_url=None if image else fields.image_url,
        options=options,
        webhook_url=fields.webhook_url,
    )


def _shadow(value: Any) -> ShadowOptions | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return ShadowParameter(enabled=value).resolve()
    if not isinstance(value, dict):
        raise ApiError(
            ErrorCode.INVALID_PARAMETER,
            "Invalid parameter shadow: expected true, false or a ShadowParameter object.",
        )
    try:
        return ShadowParameter.model_validate(value).resolve()
    except ValidationError as error:
        raise _field_error(error, prefix="shadow") from None


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or the seed's ``invalid_request_body``."""
    body = await request.body()
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(
            ErrorCode.INVALID_REQUEST_BODY, "The request body is not valid JSON."
        ) from None
    if not isinstance(data, dict):
        raise ApiError(ErrorCode.INVALID_REQUEST_BODY, "The request body must be a JSON object.")
    return data


async def _from_json(request: Request, webhook: bool) -> RemovalRequest:
    return validate_fields(await json_object(request), image=None, webhook=webhook)


def form_shadow(raw: str) -> Any:
    """A form field holds ``true``/``false`` or the ShadowParameter object as JSON."""
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER,
            "Invalid parameter shadow: expected true, false or a JSON object.",
        ) from None


async def open_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    try:
        return await request.form(
            max_files=max_files, max_fields=max_fields, max_part_size=64 * 1024
        )
    except (ValueError, MultiPartException, HTTPException) as error:
        # python-multipart raises ValueError; Starlette wraps its own MultiPartException in a
        # 400 HTTPException when running inside an app.
        detail = getattr(error, "detail", None) or getattr(error, "message", None) or error
        raise ApiError(
            ErrorCode.INVALID_REQUEST_BODY, f"The multipart body is invalid: {detail}"
        ) from None


async def read_upload(name: str, value: UploadFile | str, max_image_bytes: int) -> bytes:
    """A file part's bytes, refused once they pass the size limit."""
    if not isinstance(value, UploadFile):
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"Invalid parameter {name}: send it as a file.")
    image = await value.read(max_image_bytes + 1)
    if len(image) > max_image_bytes:
        raise ApiError(ErrorCode.FILE_SIZE_TOO_LARGE, "File size too large; the limit is 25 MB.")
    return image


async def _from_multipart(request: Request, max_image_bytes: int, webhook: bool) -> RemovalRequest:
    form = await open_form(request, max_files=1, max_fields=16)
    try:
        data: dict[str, Any] = {}
        image: bytes | None = None
        for name, value in form.multi_items():
            if name == "image":
                image = await read_upload("image", value, max_image_bytes)
            elif isinstance(value, str):
                data[name] = form_shadow(value) if name == "shadow" else value
        return validate_fields(data, image, webhook=webhook)
    finally:
        await form.close()


async def body_media_type(request: Request) -> str:
    """``application/json`` or ``multipart/form-data``; anything else is refused here."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("application/json", "multipart/form-data"):
        return media_type
    if not media_type and not await request.body():
        raise ApiError(ErrorCode.INVALID_REQUEST_BODY, "The request body was empty.")
    raise ApiError(
        ErrorCode.UNSUPPORTED_CONTENT_TYPE,
        "The content type must be application/json or multipart/form-data.",
    )


async def parse_removal_request(
    request: Request, max_image_bytes: int, *, webhook: bool = False
) -> RemovalRequest:
    """The body of ``/v1/remove-background``; with ``webhook``, also its ``webhook_url``."""
    if await body_media_type(request) == "application/json":
        return await _from_json(request, webhook)
    return await _from_multipart(request, max_image_bytes, webhook)
