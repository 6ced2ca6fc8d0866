"""Which per-request model names the API lets through (no server, no model code)."""

from __future__ import annotations

import pytest

from api.errors import ApiError
from api.model_choice import choose_model
from storage.error_codes import ErrorCode
from storage.settings import Settings


def test_allowed_names_pass_and_the_default_model_means_none():
    settings = Settings(request_models=["u2netp", "birefnet-general"])
    assert choose_model(None, settings) is None
    assert choose_model("u2netp", settings) is None  # the default: same job as sending nothing
    assert choose_model("birefnet-general", settings) == "birefnet-general"


@pytest.mark.parametrize("value", ["isnet-general-use", "U2NETP", 3, ["u2netp"], {"a": 1}])
def test_anything_else_is_an_invalid_parameter_naming_model(value):
    with pytest.raises(ApiError) as refused:
        choose_model(value, Settings())
    assert refused.value.code == ErrorCode.INVALID_PARAMETER
    assert "model" in refused.value.message
