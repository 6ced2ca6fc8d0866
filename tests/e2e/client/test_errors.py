"""The SDK's exception table stays in step with the server's ``error_code`` vocabulary."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from cutout_client import errors
from storage.error_codes import ErrorCode, http_status

FAMILY_BY_STATUS = {
    400: errors.InputError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.ConflictError,
    429: errors.RateLimitError,
}


def test_every_server_error_code_has_its_own_exception_class():
    assert set(errors.ERROR_CLASSES) == {code.value for code in ErrorCode}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_each_class_belongs_to_the_family_of_its_status(code):
    cls = errors.ERROR_CLASSES[code.value]
    status = http_status(code)
    assert issubclass(cls, FAMILY_BY_STATUS.get(status, errors.ServerError))
    body = {"error": "words", "error_code": code.value}
    raised = errors.from_response(httpx.Response(status, json=body))
    assert type(raised) is cls
    assert (raised.status, raised.message, raised.error_code) == (status, "words", code.value)


def test_an_unknown_code_falls_back_to_its_status_family():
    body = {"error": "new", "error_code": "brand_new_code"}
    raised = errors.from_response(httpx.Response(403, json=body))
    assert type(raised) is errors.PermissionDeniedError
    assert raised.error_code == "brand_new_code"
    assert type(errors.from_response(httpx.Response(502, text="<html>"))) is errors.ServerError


def test_retry_after_reads_seconds_and_http_dates():
    assert errors.parse_retry_after("7") == 7.0
    assert errors.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert errors.parse_retry_after("soon") is None
    assert errors.parse_retry_after(None) is None


def test_the_sdk_imports_no_server_code():
    probe = (
        "import sys, cutout_client;"
        "print(','.join(m for m in sys.modules"
        " if m.split('.')[0] in ('api', 'workers', 'storage', 'cutout', 'onnxruntime')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
