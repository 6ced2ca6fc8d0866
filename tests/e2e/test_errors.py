"""Every refusal the contract defines, through real HTTP, and that none of them costs credits."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from storage import api_keys
from storage.db import transaction
from tests.e2e.test_remove_background import ENDPOINT, upload
from tests.images import encode, sample

MB = 1024 * 1024


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    assert response.headers["x-request-id"]
    return body


# --- authentication -----------------------------------------------------------------------


def test_missing_key(client):
    assert_error(client.post(ENDPOINT, json={}), 401, "invalid_auth_token")


def test_malformed_and_unknown_keys(client):
    for key in ("nope", api_keys.generate_key()):
        response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={})
        assert_error(response, 401, "invalid_auth_token")


def test_revoked_key_is_refused_on_the_next_request(client, tenant, sessions, settings):
    secret = settings.api_key_secret.get_secret_value()
    with sessions() as session:
        caller = api_keys.find_caller(session, tenant.api_key, secret)
    assert caller is not None
    with transaction(sessions) as session:
        api_keys.revoke_key(session, caller.api_key_id)
    response = upload(client, tenant.api_key, sample("coffee.jpg"))
    assert_error(response, 401, "invalid_auth_token")


# --- request bodies -----------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged_balance")
@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("text/plain", b"hello", 400, "unsupported_content_type"),
        ("application/x-www-form-urlencoded", b"image_url=x", 400, "unsupported_content_type"),
        ("application/json", b"", 400, "invalid_request_body"),
        ("application/json", b"{not json", 400, "invalid_request_body"),
        ("application/json", b"[1, 2]", 400, "invalid_request_body"),
        ("application/json", b"{}", 400, "missing_parameter"),
        ("application/json", b'{"format": "png"}', 400, "missing_parameter"),
        ("application/json", b'{"image_url": "ftp://x/y.png"}', 400, "invalid_parameter"),
        ("application/json", b'{"image_url": 42}', 400, "invalid_parameter"),
        (
            "application/json",
            b'{"image_url": "http://a/b.jpg", "format": "jpg"}',
            400,
            "invalid_parameter",
        ),
    ],
)
def test_bad_bodies(client, tenant, content_type, body, status, code):
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key, "Content-Type": content_type},
        content=body,
    )
    assert_error(response, status, code)


def test_empty_body_without_content_type(client, tenant):
    response = client.post(ENDPOINT, headers={"X-API-Key": tenant.api_key})
    assert_error(response, 400, "invalid_request_body")


def test_multipart_without_any_image(client, tenant):
    response = client.post(
        ENDPOINT, headers={"X-API-Key": tenant.api_key}, files={"format": (None, "png")}
    )
    assert_error(response, 400, "missing_parameter")


@pytest.mark.usefixtures("unchanged_balance")
@pytest.mark.parametrize(
    ("shadow", "field"),
    [
        ({"opacity": 1.5}, "shadow.opacity"),
        ({"opacity": "0.5"}, "shadow.opacity"),
        ({"enabled": "yes"}, "shadow.enabled"),
        ({"light_source": {"size": -0.1, "position": {}}}, "shadow.light_source.size"),
        ({"light_source": {"position": {"x": -1.01}}}, "shadow.light_source.position.x"),
        ({"light_source": {"position": {"y": 2}}}, "shadow.light_source.position.y"),
        ({"light_source": {"position": {"z": 2.5}}}, "shadow.light_source.position.z"),
        ({"light_source": {"position": {"z": -0.1}}}, "shadow.light_source.position.z"),
        ({"opactiy": 0.5}, "shadow.opactiy"),
        ("sometimes", "shadow"),
    ],
)
def test_invalid_shadow_parameters_name_the_field(client, tenant, shadow, field):
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key},
        json={"image_url": "http://example.com/a.jpg", "shadow": shadow},
    )
    body = assert_error(response, 400, "invalid_parameter")
    assert field in body["error"]


def test_light_source_without_its_required_position(client, tenant):
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key},
        json={"image_url": "http://example.com/a.jpg", "shadow": {"light_source": {"size": 0.2}}},
    )
    body = assert_error(response, 400, "missing_parameter")
    assert "shadow.light_source.position" in body["error"]


def test_multipart_shadow_field_must_be_boolean_or_json(client, tenant):
    response = upload(client, tenant.api_key, sample("coffee.jpg"), shadow="maybe")
    assert_error(response, 400, "invalid_parameter")


# --- images ----------------------------------------------------------------------------------


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.usefixtures("unchanged_balance")
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is not an image", "malformed_image"),
        (sample("coffee.jpg")[:5000], "malformed_image"),
        (encode(np.zeros((100, 100, 3), np.uint8), "GIF"), "unsupported_image_format"),
        (encode(np.zeros((100, 100, 3), np.uint8), "BMP"), "unsupported_image_format"),
        (_bomb_png(6001, 6001), "resolution_too_high"),
        (_bomb_png(60_000, 60_000), "resolution_too_high"),
        (encode(np.zeros((40, 400, 3), np.uint8), "PNG"), "invalid_parameter"),
        (encode(np.full((300, 300, 3), 255, np.uint8), "PNG"), "unknown_foreground"),
    ],
    ids=["text", "truncated-jpeg", "gif", "bmp", "6001px", "bomb", "too-small", "blank"],
)
def test_bad_images_are_refused_and_cost_nothing(client, tenant, data, code):
    assert_error(upload(client, tenant.api_key, data), 400, code)


@pytest.mark.usefixtures("unchanged_balance")
def test_over_25_mb_declared_upload_is_refused(client, tenant):
    response = upload(client, tenant.api_key, b"\xff\xd8\xff" + b"\x00" * (26 * MB))
    assert_error(response, 400, "file_size_too_large")


@pytest.mark.usefixtures("unchanged_balance")
def test_over_25_mb_streamed_upload_is_refused_while_streaming(client, tenant):
    boundary = "cutoutboundary"
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        chunk = b"\x00" * MB
        for _ in range(60):
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        response = client.post(
            ENDPOINT,
            headers={
                "X-API-Key": tenant.api_key,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            content=body(),
        )
    except httpx.HTTPError:
        pytest.fail("the server should answer, not drop the connection")
    assert_error(response, 400, "file_size_too_large")


@pytest.mark.usefixtures("unchanged_balance")
def test_image_url_answering_404(client, tenant, photo_server):
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key},
        json={"image_url": f"{photo_server}/missing.jpg"},
    )
    body = assert_error(response, 400, "invalid_parameter")
    assert "404" in body["error"]


# --- credits and limits ----------------------------------------------------------------------


def test_insufficient_credits(client, make_tenant, balance_of):
    broke = make_tenant(credits=0)
    assert_error(
        upload(client, broke.api_key, sample("coffee.jpg")), 403, "insufficient_api_credits"
    )

    three = make_tenant(credits=3)
    response = upload(client, three.api_key, sample("coffee.jpg"), shadow="true")
    assert_error(response, 403, "insufficient_api_credits")
    assert balance_of(three.id) == 3


def test_rate_limit_returns_429_with_retry_after(client, make_tenant):
    tenant = make_tenant(per_minute=3)
    headers = {"X-API-Key": tenant.api_key, "Content-Type": "application/json"}
    for _ in range(3):
        assert client.post(ENDPOINT, headers=headers, content=b"{}").status_code == 400
    response = client.post(ENDPOINT, headers=headers, content=b"{}")
    assert_error(response, 429, "rate_limit_exceeded")
    assert int(response.headers["retry-after"]) >= 1


def test_error_bodies_are_json_objects_with_exactly_two_fields(client):
    body = client.post(ENDPOINT, json={}).json()
    assert set(body) == {"error", "error_code"}
    assert json.dumps(body)
