"""The SSRF bypass corpus: every URL here must be refused, and nothing may be connected to.

How "nothing was reached" is observed without ever sending a packet off this machine: the client
gets a *connector* that, instead of opening a socket where it is asked, records the ask and
connects to a loopback canary. So a broken guard shows up as a recorded attempt and a canary
hit, never as traffic to 10.0.0.1 or 169.254.169.254. Names are answered by a stub resolver (no
real DNS); the positive controls at the bottom prove that the harness does see a connection
when the guard lets one through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpcore
import pytest

from storage.address_policy import AddressPolicy
from storage.safe_http import Blocked, SafeHttpClient, TooManyRedirects
from tests.outbound import Canary, Origin, canary, origin

PUBLIC_IP = "93.184.216.34"  # never connected to: the connector diverts every socket

# What the stub resolver answers; anything else that is not an IP literal does not resolve.
NAMES: dict[str, list[str]] = {
    "public.test": [PUBLIC_IP],
    "rebind.test": ["127.0.0.1"],
    "loop6.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "compat.test": ["::7f00:1"],
    "meta.test": ["169.254.169.254"],
    "meta6.test": ["fd00:ec2::254"],
    "private10.test": ["10.1.2.3"],
    "private172.test": ["172.20.0.5"],
    "private192.test": ["192.168.10.10"],
    "cgnat.test": ["100.64.1.1"],
    "mixed.test": [PUBLIC_IP, "127.0.0.1"],
    "mixed-late.test": [PUBLIC_IP, PUBLIC_IP, "10.0.0.8"],
    "mixed6.test": ["2606:2800:220:1:248:1893:25c8:1946", "fd12:3456::1"],
    "nat64.test": ["64:ff9b::7f00:1"],
    "sixtofour.test": ["2002:a9fe:a9fe::1"],
    "teredo.test": ["2001:0:4136:e378:8000:63bf:80ff:fffe"],
    "zero.test": ["0.0.0.0"],  # noqa: S104 (an answer, not a bind)
    "linklocal6.test": ["fe80::1"],
    "multicast.test": ["224.0.0.251"],
    "bogus.test": ["not-an-address"],
}

# {P} is the canary's port, which the policy allows: only the address check can stop these.
DIRECT = [
    # IPv4 loopback in every spelling a C resolver accepts
    "http://127.0.0.1:{P}/",
    "http://127.1:{P}/",
    "http://127.0.1:{P}/",
    "http://2130706433:{P}/",
    "http://0x7f000001:{P}/",
    "http://0x7f.1:{P}/",
    "http://0x7f.0x0.0x0.0x1:{P}/",
    "http://0177.0.0.1:{P}/",
    "http://0177.1:{P}/",
    "http://017700000001:{P}/",
    "http://127.000.000.001:{P}/",
    "http://0:{P}/",
    "http://0.0.0.0:{P}/",
    "http://127.255.255.254:{P}/",
    "http://127.0.0.1.:{P}/",
    "https://127.0.0.1:{P}/",
    "http://127.0.0.1:{P}\\@public.test/",
    "http://127.0.0.1:{P}#@public.test/",
    "http://127.0.0.1:{P}?@public.test/",
    # IPv6 forms of loopback and friends
    "http://[::1]:{P}/",
    "http://[::]:{P}/",
    "http://[0:0:0:0:0:0:0:1]:{P}/",
    "http://[0000::0001]:{P}/",
    "http://[::ffff:127.0.0.1]:{P}/",
    "http://[::ffff:7f00:1]:{P}/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{P}/",
    "http://[::127.0.0.1]:{P}/",
    "http://[64:ff9b::127.0.0.1]:{P}/",
    "http://[64:ff9b::7f00:1]:{P}/",
    "http://[64:ff9b:1::1]:{P}/",
    "http://[2002:7f00:1::]:{P}/",
    "http://[2002:a9fe:a9fe::]:{P}/",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{P}/",
    "http://[fe80::1]:{P}/",
    "http://[fe80::1%25eth0]:{P}/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fc00::1]:{P}/",
    "http://[fd12:3456:789a::1]:{P}/",
    "http://[ff02::1]:{P}/",
    "http://[fec0::1]:{P}/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]:{P}/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[100::1]:{P}/",
    "http://[2001:db8::1]:{P}/",
    # cloud metadata, private, CGNAT, multicast, reserved, documentation
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.169.254:{P}/",
    "http://0xa9fea9fe/",
    "http://2852039166/",
    "http://0251.0376.0251.0376/",
    "http://169.254.0.1:{P}/",
    "http://10.0.0.1:{P}/",
    "http://10.255.255.255/",
    "http://012.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.0.1/",
    "http://192.168.1.1:{P}/",
    "http://3232235777/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://224.0.0.1/",
    "http://239.255.255.250:{P}/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.0.1/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    "http://198.51.100.7/",
    "http://203.0.113.9/",
    # internal names
    "http://localhost:{P}/",
    "http://LOCALHOST:{P}/",
    "http://localhost.:{P}/",
    "http://foo.localhost:{P}/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata/",
    "http://instance-data/latest/",
    "http://printer.local/",
    "http://\u24dbocalhost:{P}/",
    # names the stub resolver points at refused addresses
    "http://rebind.test:{P}/",
    "http://REBIND.test:{P}/",
    "http://rebind.test.:{P}/",
    "http://loop6.test:{P}/",
    "http://mapped.test:{P}/",
    "http://compat.test:{P}/",
    "http://meta.test/",
    "http://meta6.test/",
    "http://private10.test/",
    "http://private172.test/",
    "http://private192.test/",
    "http://cgnat.test/",
    "http://mixed.test:{P}/",
    "http://mixed-late.test/",
    "http://mixed6.test/",
    "http://nat64.test:{P}/",
    "http://sixtofour.test/",
    "http://teredo.test/",
    "http://zero.test:{P}/",
    "http://linklocal6.test/",
    "http://multicast.test/",
    "http://bogus.test/",
    # schemes, user info and ports (public.test is public: only the URL check stops these)
    "file:///etc/passwd",
    "ftp://public.test/a.jpg",
    "gopher://127.0.0.1:{P}/_GET%20/",
    "dict://127.0.0.1:{P}/info",
    "ldap://public.test/",
    "ws://public.test/",
    "data:image/png;base64,iVBORw0KGgo=",
    "http://user@public.test/",
    "http://user:pass@public.test/",
    "http://public.test@127.0.0.1:{P}/",
    "http://public.test:22/",
    "http://public.test:6379/",
    "https://public.test:8443/",
    "http://public.test:0/",
    "http:///a.jpg",
    "http://",
]

# Redirect targets: the first hop (a loopback test origin) is allowed, the second never is.
REDIRECT_TARGETS = [
    "http://127.0.0.1:{P}/",
    "http://localhost:{P}/",
    "http://[::1]:{P}/",
    "http://[::ffff:127.0.0.1]:{P}/",
    "http://2130706433:{P}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://10.0.0.1/",
    "http://192.168.0.1:{P}/",
    "http://rebind.test:{P}/",
    "http://meta.test/",
    "http://mixed.test/",
    "http://public.test:22/",
    "http://user:pw@public.test/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{P}/",
    "//127.0.0.1:{P}/",
    "//[::1]:{P}/x",
]


async def stub_resolver(host: str, port: int) -> list[str]:
    host = host.rstrip(".").lower()  # as DNS does
    if host in NAMES:
        return NAMES[host]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: unknown to the test resolver") from None
    return [host]


class DivertingConnector(httpcore.AsyncNetworkBackend):
    """Records where a socket was asked for and opens it on the canary instead.

    Loopback test origins (the redirecting origin) are connected to for real.
    """

    def __init__(self, canary_port: int, passthrough: set[tuple[str, int]]) -> None:
        self.canary_port = canary_port
        self.passthrough = passthrough
        self.attempts: list[tuple[str, int]] = []
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host,
        port,
        timeout=None,  # noqa: ASYNC109 (httpcore's interface)
        local_address=None,
        socket_options=None,
    ) -> httpcore.AsyncNetworkStream:
        if (host, port) not in self.passthrough:
            self.attempts.append((host, port))
            host, port = "127.0.0.1", self.canary_port
        return await self._inner.connect_tcp(host, port, timeout)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@dataclass
class Harness:
    canary: Canary
    origin: Origin
    connector: DivertingConnector
    client: SafeHttpClient

    def reset(self) -> None:
        self.canary.hits.clear()
        self.connector.attempts.clear()
        self.origin.requests.clear()


@pytest.fixture(scope="module")
def listeners() -> Iterator[tuple[Canary, Origin]]:
    with canary() as bird, origin() as server:
        yield bird, server


@pytest.fixture
async def harness(listeners: tuple[Canary, Origin]) -> AsyncIterator[Harness]:
    bird, server = listeners
    passthrough = {("127.0.0.1", server.port)}
    policy = AddressPolicy(
        allowed_ports=frozenset({80, 443, bird.port}), test_origins=frozenset(passthrough)
    )
    connector = DivertingConnector(bird.port, passthrough)
    client = SafeHttpClient(
        policy, connect_timeout=2, total_timeout=5, resolver=stub_resolver, connector=connector
    )
    state = Harness(bird, server, connector, client)
    state.reset()
    yield state
    await client.aclose()


def test_the_corpus_is_big_enough():
    assert len(DIRECT) + len(REDIRECT_TARGETS) >= 90
    assert len(set(DIRECT)) == len(DIRECT)


@pytest.mark.parametrize("template", DIRECT)
async def test_refused_and_nothing_connected(harness: Harness, template: str):
    url = template.replace("{P}", str(harness.canary.port))
    with pytest.raises(Blocked):
        await harness.client.fetch(url, max_bytes=1024)
    assert harness.connector.attempts == []
    assert harness.canary.hits == []


@pytest.mark.parametrize("template", DIRECT[:40:4])
async def test_post_is_refused_too(harness: Harness, template: str):
    url = template.replace("{P}", str(harness.canary.port))
    with pytest.raises(Blocked):
        await harness.client.post(url, content=b'{"type": "job.succeeded"}')
    assert harness.connector.attempts == []
    assert harness.canary.hits == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("template", REDIRECT_TARGETS)
async def test_redirects_to_refused_targets(harness: Harness, template: str, status: int):
    target = template.replace("{P}", str(harness.canary.port))
    path = f"/redirect-{status}"
    harness.origin.redirect(path, target, status)
    with pytest.raises(Blocked):
        await harness.client.fetch(f"{harness.origin.url}{path}", max_bytes=1024)
    assert [request[1] for request in harness.origin.requests] == [path]  # first hop happened
    assert harness.connector.attempts == []
    assert harness.canary.hits == []


async def test_a_redirect_chain_longer_than_three_is_cut(harness: Harness):
    for hop in range(4):
        harness.origin.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    harness.origin.serve("/hop4", b"too far")
    with pytest.raises(TooManyRedirects):
        await harness.client.fetch(f"{harness.origin.url}/hop0", max_bytes=1024)
    assert [request[1] for request in harness.origin.requests] == [f"/hop{i}" for i in range(4)]


async def test_three_redirects_are_followed(harness: Harness):
    for hop in range(3):
        harness.origin.redirect(f"/chain{hop}", f"/chain{hop + 1}", 307)
    harness.origin.serve("/chain3", b"arrived")
    answer = await harness.client.fetch(f"{harness.origin.url}/chain0", max_bytes=1024)
    assert answer.content == b"arrived"
    assert answer.url.endswith("/chain3")


# --- positive controls: the harness sees a connection whenever the guard lets one through


async def test_control_a_public_name_is_connected_to_and_seen(harness: Harness):
    """public.test passes the policy; the diverted socket lands on the canary, and the peer
    check then refuses it (the socket is not connected to the address that was checked)."""
    with pytest.raises(Blocked, match="peer"):
        await harness.client.fetch("http://public.test/", max_bytes=1024)
    assert harness.connector.attempts == [(PUBLIC_IP, 80)]
    assert len(harness.canary.wait_for_hits(1)) == 1


async def test_control_the_canary_answers_when_allowed(listeners: tuple[Canary, Origin]):
    bird, _ = listeners
    bird.hits.clear()
    allowed = AddressPolicy(test_origins=frozenset({("127.0.0.1", bird.port)}))
    async with SafeHttpClient(allowed, resolver=stub_resolver) as client:
        answer = await client.fetch(f"http://127.0.0.1:{bird.port}/", max_bytes=1024)
    assert answer.content == b"canary"
    assert len(bird.wait_for_hits(1)) == 1


async def test_dns_is_asked_once_and_the_checked_address_is_the_one_connected(harness: Harness):
    """DNS rebinding: a second lookup would answer loopback; there is no second lookup."""
    answers = iter([[PUBLIC_IP], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    client = SafeHttpClient(
        harness.client.policy, resolver=rebinding, connector=harness.connector, total_timeout=5
    )
    async with client:
        with pytest.raises(Blocked, match="peer"):
            await client.fetch("http://rebinding.test/", max_bytes=1024)
    assert calls == ["rebinding.test"]
    assert harness.connector.attempts == [(PUBLIC_IP, 80)]
