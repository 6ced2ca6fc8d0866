"""The optional per-request ``model`` field (an additive extension of the seed contract).

A request may name a segmentation model; the server accepts only the names its operator allows
(``CUTOUT_REQUEST_MODELS``), so a client cannot make workers load arbitrary weights. The API
never imports model code: the allow-list is plain configuration, read from the settings.
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from storage.error_codes import ErrorCode
from storage.settings import Settings


def choose_model(value: Any, settings: Settings) -> str | None:
    """The model a job will run (None: the server's default), or ``invalid_parameter``."""
    if value is None or value == "":
        return None
    allowed = settings.request_models
    if not isinstance(value, str) or value not in allowed:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER,
            f"Invalid parameter model: expected one of {', '.join(allowed) or '(none)'}.",
        )
    return None if value == settings.model_name else value
