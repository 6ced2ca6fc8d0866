"""``/docs`` shows an example body for every error code the API can answer with."""

from __future__ import annotations

import httpx

from api.app import create_app
from api.error_docs import EXAMPLES
from storage.error_codes import ErrorCode, http_status


def _examples(operation: dict) -> dict[str, tuple[int, dict]]:
    found = {}
    for status, response in operation["responses"].items():
        content = response.get("content", {}).get("application/json", {})
        for example in content.get("examples", {}).values():
            found[example["value"]["error_code"]] = (int(status), example["value"])
    return found


def test_every_error_code_has_an_example_message():
    assert set(EXAMPLES) == set(ErrorCode)
    assert all(message.strip() for message in EXAMPLES.values())


def test_remove_background_documents_every_code_under_its_status():
    document = create_app().openapi()
    examples = _examples(document["paths"]["/v1/remove-background"]["post"])
    assert set(examples) == {code.value for code in ErrorCode}
    for code in ErrorCode:
        status, body = examples[code.value]
        assert status == http_status(code)
        assert set(body) == {"error", "error_code"}


def test_every_code_appears_in_the_served_document(api):
    document = httpx.get(f"{api.url}/openapi.json").json()
    codes = {
        code
        for path in document["paths"].values()
        for operation in path.values()
        for code in _examples(operation)
    }
    assert codes >= {code.value for code in ErrorCode}
    assert httpx.get(f"{api.url}/docs").status_code == 200


def test_every_v1_route_documents_its_errors_under_the_right_status():
    document = create_app().openapi()
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            examples = _examples(operation)
            assert "invalid_auth_token" in examples, f"{method.upper()} {path}"
            for code, (status, _) in examples.items():
                assert status == http_status(ErrorCode(code)), f"{method.upper()} {path} {code}"
