"""Response and documentation schemas: what OpenAPI shows for ``/v1/remove-background``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.remove_request import ShadowParameter
from storage.error_codes import ErrorCode


class ResultUrl(BaseModel):
    result_url: str = Field(
        description="A URL to access the resultant image, valid for 1 hour. The file is a PNG.",
        examples=["https://s3.example.com/cutout/results/3f1c.../a166.png?X-Amz-Expires=3600&..."],
    )


class ErrorBody(BaseModel):
    error: str = Field(description="A description of the error.")
    error_code: ErrorCode = Field(description="A code to handle the error programmatically.")


class JsonBody(BaseModel):
    """``application/json``: the image is fetched from ``image_url``."""

    image_url: str = Field(description="URL of the image to be processed.")
    format: str = Field("png", description="The format of the result. Only png is supported.")
    shadow: bool | ShadowParameter | None = Field(
        None,
        description=(
            "Enable and configure AI-generated shadow (+3 credits). true estimates the light"
            " from the photo; an object with light_source sets it by hand."
        ),
    )
    model: str | None = Field(
        None,
        description="Extension: segmentation model by name (default: the server's).",
    )


class MultipartBody(BaseModel):
    """``multipart/form-data``: the image is uploaded, or fetched from ``image_url``."""

    image: bytes | None = Field(
        None,
        json_schema_extra={"format": "binary"},
        description="The image file; wins over image_url when both are sent.",
    )
    image_url: str | None = Field(None, description="URL of the image to be processed.")
    format: str = Field("png", description="Only png is supported.")
    shadow: str | None = Field(
        None, description="true, false, or the ShadowParameter object as JSON text."
    )
    model: str | None = Field(None, description="Extension: segmentation model by name.")


def error_example(code: ErrorCode, message: str) -> dict[str, object]:
    return {"summary": code.value, "value": {"error": message, "error_code": code.value}}
