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
from starlette.datastructures import UploadFile

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
    model: Any = None  # additive extension, checked by api.model_choice


@dataclass(frozen=True, slots=True)
class RemovalRequest:
    image: bytes | None
    image_url: str | None
    options: JobOptions
    model: Any = None  # as sent; see api.model_choice


def _field_error(error: ValidationError, prefix: str = "") -> ApiError:
    first = error.errors()[0]
    name = ".".join(
        [prefix, *(str(part) for part in first["loc"])] if prefix else map(str, first["loc"])
    )
    if first["type"] == "missing":
        return ApiError(ErrorCode.MISSING_PARAMETER, f"Missing required parameter: {name}.")
    return ApiError(ErrorCode.INVALID_PARAMETER, f"Invalid parameter {name}: {first['msg']}.")


def _validate(data: dict[str, Any], image: bytes | None) -> RemovalRequest:
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
        if not fields.image_url.lower().startswith(("http://", "https://")):
            raise ApiError(
                ErrorCode.INVALID_PARAMETER,
                "Invalid parameter image_url: it must be an http(s) URL.",
            )
    options = JobOptions(format=fields.format, shadow=_shadow(fields.shadow))
    return RemovalRequest(
        image=image,
        image_url=None if image else fields.image_url,
        options=options,
        model=fields.model,
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


async def _from_json(request: Request) -> RemovalRequest:
    body = await request.body()
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(
            ErrorCode.INVALID_REQUEST_BODY, "The request body is not valid JSON."
        ) from None
    if not isinstance(data, dict):
        raise ApiError(ErrorCode.INVALID_REQUEST_BODY, "The request body must be a JSON object.")
    return _validate(data, image=None)


def _form_shadow(raw: str) -> Any:
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


async def _from_multipart(request: Request, max_image_bytes: int) -> RemovalRequest:
    try:
        form = await request.form(max_files=1, max_fields=16, max_part_size=64 * 1024)
    except ValueError as error:  # python-multipart's parse errors
        raise ApiError(
            ErrorCode.INVALID_REQUEST_BODY, f"The multipart body is invalid: {error}"
        ) from None
    try:
        data: dict[str, Any] = {}
        image: bytes | None = None
        for name, value in form.multi_items():
            if name == "image":
                if not isinstance(value, UploadFile):
                    raise ApiError(
                        ErrorCode.INVALID_PARAMETER, "Invalid parameter image: send it as a file."
                    )
                image = await value.read(max_image_bytes + 1)
                if len(image) > max_image_bytes:
                    raise ApiError(
                        ErrorCode.FILE_SIZE_TOO_LARGE, "File size too large; the limit is 25 MB."
                    )
            elif isinstance(value, str):
                data[name] = _form_shadow(value) if name == "shadow" else value
        return _validate(data, image)
    finally:
        await form.close()


async def parse_removal_request(request: Request, max_image_bytes: int) -> RemovalRequest:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        return await _from_json(request)
    if media_type == "multipart/form-data":
        return await _from_multipart(request, max_image_bytes)
    if not media_type and not await request.body():
        raise ApiError(ErrorCode.INVALID_REQUEST_BODY, "The request body was empty.")
    raise ApiError(
        ErrorCode.UNSUPPORTED_CONTENT_TYPE,
        "The content type must be application/json or multipart/form-data.",
    )
