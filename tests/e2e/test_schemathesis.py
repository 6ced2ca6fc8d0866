"""schemathesis against the running API's own OpenAPI schema: no input may cause a 5xx.

Every operation of ``/openapi.json`` gets up to ``SCHEMATHESIS_EXAMPLES`` generated requests
(25 in CI, 50 with ``HYPOTHESIS_PROFILE=thorough``, see ``tests/budgets.py``) that fit the schema
and as many that break it, authenticated as a
tenant with plenty of credits and no practical rate limit. Any URL the generator puts in a body
or query is pointed at the suite's scripted loopback origin first (which answers 404), so no
generated request makes the API or a worker contact a random host.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.budgets import SCHEMATHESIS_EXAMPLES
from tests.outbound import Origin, origin

FUZZ_SETTINGS = settings(
    max_examples=SCHEMATHESIS_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def scripted_origin(test_origin_ports: dict[str, int]) -> Iterator[Origin]:
    with origin(test_origin_ports["scripted"]) as server:
        yield server


def _defuse(value: Any, safe_url: str) -> Any:
    """Every http(s)-looking string replaced by a URL on the scripted origin."""
    if isinstance(value, str) and value.strip().lower().startswith(("http:", "https:", "//")):
        return safe_url
    if isinstance(value, dict):
        return {key: _defuse(item, safe_url) for key, item in value.items()}
    if isinstance(value, list):
        return [_defuse(item, safe_url) for item in value]
    return value


@pytest.fixture
def fuzz_tenant(make_tenant):
    return make_tenant(credits=1_000_000, per_minute=1_000_000, concurrency=1_000_000)


def _operations() -> list[str]:
    """``METHOD /path`` of every operation the app documents (read at collection time)."""
    from api.app import create_app

    paths = create_app().openapi()["paths"]
    return [f"{method.upper()} {path}" for path, methods in paths.items() for method in methods]


@pytest.fixture(scope="module")
def api_schema(api, worker):
    return schemathesis.openapi.from_url(f"{api.url}/openapi.json")


def test_every_operation_is_exercised(api_schema):
    documented = [result.ok().label for result in api_schema.get_all_operations()]
    assert sorted(documented) == sorted(_operations())


@pytest.mark.parametrize("label", _operations())
def test_no_server_errors(label, api_schema, fuzz_tenant, scripted_origin):
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    safe_url = f"{scripted_origin.url}/fuzz.jpg"

    def exercise(case) -> None:
        case.body = _defuse(case.body, safe_url)
        case.query = _defuse(case.query, safe_url)
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"}
        case.headers = {**headers, "X-API-Key": fuzz_tenant.api_key}
        response = case.call(timeout=90)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(f"{case.method} {case.path}: {response.text[:200]}")

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        run = given(case=operation.as_strategy(generation_mode=mode))(exercise)
        try:
            FUZZ_SETTINGS(run)()
        except Unsatisfiable:
            # An operation with no parameters or body has no invalid form to generate.
            assert mode == GenerationMode.NEGATIVE, label

    print(f"schemathesis {label}: {statuses.total()} requests, {dict(statuses)}")
    assert statuses.total() >= 1
    # Nearly every request gets past authentication to the parsers (a negative case may still
    # mangle a header so that the key does not arrive).
    assert statuses[401] <= statuses.total() // 10
    assert server_errors == []
