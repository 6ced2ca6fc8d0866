"""SafeHttpClient against a loopback origin: limits, errors, redirects, POST for webhooks."""

from __future__ import annotations

import gzip
import socket
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from storage.address_policy import AddressPolicy
from storage.safe_http import (
    OutboundFailed,
    OutboundTimeout,
    ResponseTooLarge,
    SafeHttpClient,
    UnsuccessfulStatus,
    client_from_settings,
    policy_from_settings,
    post_blocking,
)
from storage.settings import Settings
from tests.outbound import Origin, origin
from tests.storage.test_ssrf_corpus import stub_resolver


@pytest.fixture(scope="module")
def server() -> Iterator[Origin]:
    with origin() as running:
        yield running


@pytest.fixture
async def client(server: Origin) -> AsyncIterator[SafeHttpClient]:
    server.requests.clear()
    server.delay = 0.0
    policy = AddressPolicy(test_origins=frozenset({("127.0.0.1", server.port)}))
    async with SafeHttpClient(
        policy, connect_timeout=1, total_timeout=5, resolver=stub_resolver
    ) as http:
        yield http


async def test_fetch_returns_the_body_and_final_url(client, server):
    server.serve("/a.jpg", b"\xff\xd8\xff" + b"x" * 1000)
    answer = await client.fetch(f"{server.url}/a.jpg", max_bytes=2000)
    assert answer.content == b"\xff\xd8\xff" + b"x" * 1000
    assert answer.status == 200
    assert answer.url == f"{server.url}/a.jpg"
    method, path, _ = server.requests[0]
    assert (method, path) == ("GET", "/a.jpg")


async def test_the_limit_itself_is_allowed(client, server):
    server.serve("/exact", b"y" * 4096)
    answer = await client.fetch(f"{server.url}/exact", max_bytes=4096)
    assert len(answer.content) == 4096


async def test_non_2xx_raises_with_the_status(client, server):
    with pytest.raises(UnsuccessfulStatus) as error:
        await client.fetch(f"{server.url}/missing", max_bytes=1024)
    assert error.value.status == 404


@pytest.mark.parametrize("declared", ["yes", "no"])
async def test_one_byte_over_the_limit_is_too_large(client, server, declared):
    headers = {} if declared == "yes" else {"Content-Length": "omit"}
    server.serve("/big", b"z" * 4097, headers)
    with pytest.raises(ResponseTooLarge):
        await client.fetch(f"{server.url}/big", max_bytes=4096)


async def test_a_large_declared_length_is_refused_before_reading(client, server):
    server.serve("/liar", b"tiny", {"Content-Length": str(10**12)})
    with pytest.raises(ResponseTooLarge):
        await client.fetch(f"{server.url}/liar", max_bytes=4096)


async def test_compressed_bodies_are_refused(client, server):
    server.serve("/gz", gzip.compress(b"\x00" * 100_000), {"Content-Encoding": "gzip"})
    with pytest.raises(OutboundFailed, match="gzip"):
        await client.fetch(f"{server.url}/gz", max_bytes=4096)
    assert server.requests  # it was asked for identity and got gzip anyway


async def test_a_slow_server_hits_the_total_limit(server):
    server.delay = 1.0
    policy = AddressPolicy(test_origins=frozenset({("127.0.0.1", server.port)}))
    server.serve("/slow", b"late")
    async with SafeHttpClient(policy, total_timeout=0.3, resolver=stub_resolver) as client:
        with pytest.raises(OutboundTimeout):
            await client.fetch(f"{server.url}/slow", max_bytes=1024)


async def test_a_hanging_resolver_hits_the_connect_limit():
    async def hangs(host: str, port: int) -> list[str]:
        await anyio.sleep(30)
        return []

    async with SafeHttpClient(AddressPolicy(), connect_timeout=0.2, resolver=hangs) as client:
        with pytest.raises(OutboundTimeout):
            await client.fetch("http://public.test/", max_bytes=1024)


async def test_an_unknown_name_fails_to_fetch(client):
    with pytest.raises(OutboundFailed, match="resolve"):
        await client.fetch("http://no-such-name.test/", max_bytes=1024)


async def test_a_closed_port_fails_to_fetch(server):
    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    policy = AddressPolicy(test_origins=frozenset({("127.0.0.1", closed)}))
    async with SafeHttpClient(policy, resolver=stub_resolver) as client:
        with pytest.raises((OutboundFailed, OutboundTimeout)):
            await client.fetch(f"http://127.0.0.1:{closed}/", max_bytes=1024)


async def test_post_sends_the_body_and_returns_any_status(client, server):
    server.routes["/hook"] = lambda: (503, {"Retry-After": "7"}, b"busy")
    answer = await client.post(
        f"{server.url}/hook", content=b'{"id": 1}', headers={"Content-Type": "application/json"}
    )
    assert (answer.status, answer.content, answer.headers["retry-after"]) == (503, b"busy", "7")
    assert server.requests == [("POST", "/hook", b'{"id": 1}')]


async def test_post_does_not_follow_redirects(client, server):
    server.redirect("/moved", "/elsewhere", 307)
    answer = await client.post(f"{server.url}/moved", content=b"{}")
    assert answer.status == 307
    assert [path for _, path, _ in server.requests] == ["/moved"]


async def test_post_cuts_a_long_answer(client, server):
    server.serve("/chatty", b"w" * 10_000)
    answer = await client.post(f"{server.url}/chatty", content=b"{}", max_response_bytes=100)
    assert answer.content == b"w" * 100


def test_post_blocking_from_synchronous_code(server):
    server.requests.clear()
    server.routes["/sync"] = lambda: (204, {}, b"")
    settings = Settings(environment="test", outbound_test_origins=[f"127.0.0.1:{server.port}"])
    answer = post_blocking(settings, f"{server.url}/sync", content=b"ping")
    assert answer.status == 204
    assert server.requests == [("POST", "/sync", b"ping")]


def test_policy_from_settings():
    settings = Settings(
        environment="test",
        outbound_allowed_ports=[443, 8443],
        outbound_test_origins=["127.0.0.1:5000", "[::1]:5001"],
    )
    policy = policy_from_settings(settings)
    assert policy.allowed_ports == {443, 8443}
    assert policy.test_origins == {("127.0.0.1", 5000), ("::1", 5001)}


async def test_client_from_settings_refuses_loopback_by_default():
    from storage.safe_http import Blocked

    settings = Settings(environment="development", outbound_test_origins=[])
    async with client_from_settings(settings) as http:
        with pytest.raises(Blocked):
            await http.fetch("http://127.0.0.1/", max_bytes=10)


@pytest.mark.parametrize("environment", ["development", "production"])
def test_test_origins_are_refused_outside_tests(environment):
    with pytest.raises(ValueError, match="OUTBOUND_TEST_ORIGINS"):
        Settings(
            environment=environment,
            api_key_secret="s" * 40,
            s3_create_bucket=False,
            outbound_test_origins=["127.0.0.1:5000"],
        )


@pytest.mark.parametrize("origin_text", ["10.0.0.1:80", "93.184.216.34:443"])
def test_test_origins_must_be_loopback(origin_text):
    with pytest.raises(ValueError, match="loopback"):
        Settings(environment="test", outbound_test_origins=[origin_text])
