"""schemathesis against the running API's own OpenAPI schema: no input may cause a 5xx.

Every operation of ``/openapi.json`` gets up to ``CUTOUT_SCHEMATHESIS_EXAMPLES`` generated
requests (100 by default) that fit the schema and as many that break it, authenticated as a
tenant with plenty of credits and no practical rate limit. Any URL the generator puts in a body
or query is pointed at the suite's scripted loopback origin first (which answers 404), so no
generated request makes the API or a worker contact a random host.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.outbound import Origin, origin

EXAMPLES = int(os.environ.get("CUTOUT_SCHEMATHESIS_EXAMPLES", "100"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
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
    return make_tenant(credits=1_000_000, per_minute=1_000_000)


def test_no_server_errors(api, worker, fuzz_tenant, scripted_origin):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    safe_url = f"{scripted_origin.url}/fuzz.jpg"

    def exercise(case) -> None:
        case.body = _defuse(case.body, safe_url)
        case.query = _defuse(case.query, safe_url)
        headers = {name: value for name, value in (case.headers or {}).items()}
        case.headers = {**headers, "X-API-Key": fuzz_tenant.api_key}
        response = case.call(timeout=90)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(f"{case.method} {case.path}: {response.text[:200]}")

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = given(case=operation.as_strategy(generation_mode=mode))(exercise)
            try:
                FUZZ_SETTINGS(run)()
            except Unsatisfiable:
                # An operation with no parameters or body has no invalid form to generate.
                assert mode == GenerationMode.NEGATIVE, operation.label

    print(f"schemathesis: {len(operations)} operations, {statuses.total()} requests, {statuses}")
    assert len(operations) >= 2
    assert statuses.total() >= len(operations)
    assert statuses[401] == 0  # every request got past authentication to the parsers
    assert server_errors == []
