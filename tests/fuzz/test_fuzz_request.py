"""Fuzzing the request parser: any content type and body ends in a request or a 400 ApiError.

The parser runs on a real Starlette ``Request`` built from an ASGI scope (with ``app`` set, as in
the server, so Starlette's own multipart errors take their production path).
"""

from __future__ import annotations

import json

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from api.errors import ApiError
from api.remove_request import RemovalRequest, parse_removal_request

MAX_IMAGE_BYTES = 4096
BOUNDARY = "fuzzboundary"

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
light = st.fixed_dictionaries(
    {},
    optional={
        "size": st.floats(-2, 2) | json_values,
        "position": st.fixed_dictionaries(
            {}, optional={axis: st.floats(-3, 3) | json_values for axis in "xyz"}
        )
        | json_values,
    },
)
shadow = (
    st.booleans()
    | st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.booleans() | json_values,
            "opacity": st.floats(-1, 2) | json_values,
            "light_source": light | json_values,
        },
    )
    | json_values
)
json_bodies = st.fixed_dictionaries(
    {},
    optional={
        "image_url": st.sampled_from(["ftp://x/y", "http:/", "file:///etc/passwd", ""])
        | st.text(max_size=30)
        | json_values,
        "format": st.sampled_from(["png", "jpg", "PNG"]) | json_values,
        "shadow": shadow,
    },
).map(lambda body: json.dumps(body).encode()) | json_values.map(lambda v: json.dumps(v).encode())

part = st.tuples(
    st.sampled_from(["image", "image_url", "format", "shadow"]) | st.text(max_size=8),
    st.one_of(st.none(), st.text(max_size=12)),  # filename: None means a plain field
    st.binary(max_size=300)
    | st.sampled_from([b"true", b"false", b"{}", b'{"opacity": 2}', b"png", b"\xff\xfe"]),
)


def multipart(parts: list[tuple[str, str | None, bytes]], cut: int | None) -> bytes:
    chunks = []
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode(
                "utf-8", "surrogatepass"
            )
            + value
            + b"\r\n"
        )
    body = b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()
    return body[:cut]


multipart_bodies = st.builds(
    multipart, st.lists(part, max_size=5), st.one_of(st.none(), st.integers(0, 2000))
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        f"multipart/form-data; boundary={BOUNDARY}",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=other",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ]
) | st.text(max_size=40)


def request_for(content_type: str | None, body: bytes) -> Request:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("utf-8", "surrogateescape")))
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/remove-background",
        "headers": headers,
        "query_string": b"",
        "app": object(),
    }
    return Request(scope, receive)


def _parse(content_type: str | None, body: bytes) -> None:
    async def run() -> None:
        try:
            parsed = await parse_removal_request(request_for(content_type, body), MAX_IMAGE_BYTES)
        except ApiError as error:
            refusal = error
        else:
            assert isinstance(parsed, RemovalRequest)
            assert parsed.image is not None or (parsed.image_url or "").startswith("http")
            assert parsed.image is None or len(parsed.image) <= MAX_IMAGE_BYTES
            return
        assert refusal.status == 400, (refusal.code, refusal.message)
        assert refusal.message

    anyio.run(run)


@settings(settings.get_profile("fuzz"))
@given(
    content_type=st.one_of(st.none(), content_types),
    body=st.one_of(json_bodies, multipart_bodies, st.binary(max_size=500)),
)
def test_any_body_is_a_request_or_a_400(content_type: str | None, body: bytes):
    _parse(content_type, body)
