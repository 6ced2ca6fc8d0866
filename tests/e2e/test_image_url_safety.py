"""image_url through the running API: refused destinations, size and content outcomes.

The API runs with the production policy, except that the suite's own loopback origins
(``CUTOUT_OUTBOUND_TEST_ORIGINS``) are reachable; the canary below is not one of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.e2e.test_errors import assert_error
from tests.e2e.test_remove_background import ENDPOINT
from tests.images import encode
from tests.outbound import Canary, Origin, canary, origin

MB = 1024 * 1024

pytestmark = pytest.mark.usefixtures("unchanged_balance")


@pytest.fixture(scope="module")
def bird() -> Iterator[Canary]:
    with canary() as listening:
        yield listening


@pytest.fixture(scope="module")
def scripted(test_origin_ports: dict[str, int]) -> Iterator[Origin]:
    with origin(test_origin_ports["scripted"]) as server:
        yield server


def fetch(client, tenant, url: str):
    return client.post(ENDPOINT, headers={"X-API-Key": tenant.api_key}, json={"image_url": url})


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{P}/a.jpg",
        "http://localhost:{P}/a.jpg",
        "http://[::1]:{P}/a.jpg",
        "http://[::ffff:127.0.0.1]:{P}/a.jpg",
        "http://2130706433:{P}/a.jpg",
        "http://0x7f.1:{P}/a.jpg",
        "http://127.0.0.1/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://user:pw@127.0.0.1:{P}/a.jpg",
    ],
)
def test_refused_destinations(client, tenant, bird, template):
    bird.hits.clear()
    response = fetch(client, tenant, template.replace("{P}", str(bird.port)))
    body = assert_error(response, 400, "invalid_parameter")
    assert "public http(s) address" in body["error"]
    assert bird.hits == []


def test_a_redirect_to_loopback_is_refused(client, tenant, bird, scripted):
    bird.hits.clear()
    scripted.redirect("/to-canary.jpg", f"http://127.0.0.1:{bird.port}/a.jpg")
    body = assert_error(
        fetch(client, tenant, f"{scripted.url}/to-canary.jpg"), 400, "invalid_parameter"
    )
    assert "public http(s) address" in body["error"]
    assert bird.hits == []


def test_a_declared_size_over_25_mb(client, tenant, scripted):
    scripted.serve("/huge.jpg", b"\xff\xd8\xff", {"Content-Length": str(25 * MB + 1)})
    assert_error(fetch(client, tenant, f"{scripted.url}/huge.jpg"), 400, "file_size_too_large")


def test_a_streamed_body_over_25_mb(client, tenant, scripted):
    scripted.serve("/stream.jpg", b"\xff\xd8\xff" + b"\x00" * (25 * MB), {"Content-Length": "omit"})
    assert_error(fetch(client, tenant, f"{scripted.url}/stream.jpg"), 400, "file_size_too_large")


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"<html>not an image</html>", "image/jpeg", "malformed_image"),
        (b"", "image/png", "malformed_image"),
        (encode(np.zeros((80, 80, 3), np.uint8), "GIF"), "image/png", "unsupported_image_format"),
    ],
    ids=["html-declared-jpeg", "empty", "gif-declared-png"],
)
def test_what_arrives_is_probed_by_magic_bytes(client, tenant, scripted, body, content_type, code):
    scripted.serve("/thing", body, {"Content-Type": content_type})
    assert_error(fetch(client, tenant, f"{scripted.url}/thing"), 400, code)


def test_a_server_error_names_the_status(client, tenant, scripted):
    scripted.routes["/broken.jpg"] = lambda: (500, {}, b"oops")
    body = assert_error(
        fetch(client, tenant, f"{scripted.url}/broken.jpg"), 400, "invalid_parameter"
    )
    assert "HTTP 500" in body["error"]
