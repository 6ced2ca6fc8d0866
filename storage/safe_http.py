"""Outbound HTTP to addresses that clients choose (``image_url``, webhook endpoints).

Everything goes through :class:`SafeHttpClient`, which enforces :mod:`storage.address_policy`
where it cannot be sidestepped:

- the host is resolved once, *every* resolved address is checked (one refused address refuses the
  name), and the socket connects to the checked address itself, so a DNS answer that changes
  between check and connect (rebinding) has nothing to change;
- after connecting, the socket's actual peer is checked again;
- redirects are followed by hand, at most :data:`MAX_REDIRECTS`, each hop checked like the first;
- bodies are streamed with a hard byte cap, and a total time limit covers the whole exchange;
- no proxies or ``.netrc`` from the environment (``trust_env`` off), HTTP/1.1 only, no
  content-encoding (a compressed image would only hide its size).

TLS still verifies the certificate against the host *name* (httpcore passes the origin's name
to the handshake), so connecting to the address does not weaken HTTPS.

Typical use::

    async with client_from_settings(settings) as http:
        fetched = await http.fetch(url, max_bytes=25 * 1024 * 1024)   # GET, raises on non-2xx
        answer = await http.post(url, content=body, headers={...})     # no redirects, any status

Every failure is an :class:`OutboundError` subclass; ``str(error)`` is for logs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import certifi
import httpcore
import httpx

from storage.address_policy import (
    AddressPolicy,
    BlockedDestination,
    IPAddress,
    parse_test_origins,
)

if TYPE_CHECKING:
    from storage.settings import Settings

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "cutout/1 (+https://github.com/cutout)"

# (host, port) → addresses. Tests pass a stub so that names can "resolve" to private addresses.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class OutboundError(Exception):
    """Base of every failure of an outbound request."""


class Blocked(OutboundError):
    """The URL, a resolved address or the connected peer is refused by the address policy."""


class ResponseTooLarge(OutboundError):
    """The body is larger than the caller's limit (declared or counted while streaming)."""


class OutboundTimeout(OutboundError):
    """Connecting or the whole exchange took longer than allowed."""


class UnsuccessfulStatus(OutboundError):
    """:meth:`SafeHttpClient.fetch` got a non-2xx final answer."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the server answered HTTP {status}")
        self.status = status


class TooManyRedirects(OutboundError):
    """More than :data:`MAX_REDIRECTS` redirects."""


class OutboundFailed(OutboundError):
    """Name resolution, connection or protocol failure."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, without repeats."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address policy between name and socket."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver,
        connector: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = connector or httpcore.AnyIOBackend()

    async def _resolve(self, host: str, port: int, limit: float | None) -> list[IPAddress]:
        try:
            with anyio.fail_after(limit):
                addresses = await self._resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        try:
            return [self._policy.check_address(address, port) for address in addresses]
        except BlockedDestination as refused:
            raise Blocked(f"{host} resolves to {refused}") from None
        except ValueError:
            raise Blocked(f"{host} resolves to something that is not an address") from None

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await self._resolve(host, port, timeout):
            try:
                stream = await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
                continue
            await self._verify_peer(stream, address, port)
            return stream
        assert last_error is not None
        raise last_error

    async def _verify_peer(
        self, stream: httpcore.AsyncNetworkStream, address: IPAddress, port: int
    ) -> None:
        """The socket must be connected to the address we checked, and that address allowed."""
        peer = stream.get_extra_info("server_addr")
        try:
            if not peer:
                raise BlockedDestination("the peer address is unknown")
            peer_address = ipaddress.ip_address(peer[0])
            if peer_address != address:
                raise BlockedDestination(f"connected to {peer_address}, not {address}")
            self._policy.check_address(peer_address, int(peer[1]))
        except BlockedDestination as refused:
            await stream.aclose()
            raise Blocked(f"peer check failed: {refused}") from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise Blocked("unix sockets are never reachable from outbound requests")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's same-named ones (the names match one to one)."""
    try:
        yield
    except httpcore.TimeoutException as error:
        mapped = getattr(httpx, type(error).__name__, httpx.TimeoutException)
        raise mapped(str(error)) from error
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        mapped = getattr(httpx, type(error).__name__, httpx.TransportError)
        raise mapped(str(error)) from error


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        await self._stream.aclose()


class _GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool that uses :class:`_GuardedBackend`."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=64,
            max_keepalive_connections=16,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


@dataclass(frozen=True, slots=True)
class Answer:
    """A finished exchange: the final URL (after redirects), status, headers and body."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes


async def _read_capped(response: httpx.Response, max_bytes: int, *, truncate: bool) -> bytes:
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"Content-Length {declared} exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        if size + len(chunk) > max_bytes:
            if truncate:
                chunks.append(chunk[: max_bytes - size])
                break
            raise ResponseTooLarge(f"the body exceeds {max_bytes} bytes")
        size += len(chunk)
        chunks.append(chunk)
    return b"".join(chunks)


class SafeHttpClient:
    """An HTTP client that only talks to addresses :class:`AddressPolicy` allows.

    Share one per process (it pools connections); close it with :meth:`aclose` or ``async with``.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        connect_timeout: float = 5.0,
        total_timeout: float = 20.0,
        resolver: Resolver | None = None,
        user_agent: str = USER_AGENT,
        connector: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """``resolver`` and ``connector`` (what opens sockets to checked addresses) default to
        the system's; tests replace them to map names and to divert connections to a canary."""
        self.policy = policy
        self.total_timeout = total_timeout
        self._http = httpx.AsyncClient(
            transport=_GuardedTransport(
                _GuardedBackend(policy, resolver or system_resolver, connector)
            ),
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        )

    async def __aenter__(self) -> SafeHttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _check(self, url: str | httpx.URL) -> httpx.URL:
        try:
            return self.policy.check_url(url).url
        except BlockedDestination as refused:
            raise Blocked(str(refused)) from None

    @contextlib.asynccontextmanager
    async def _exchange(self, time_limit: float | None) -> AsyncIterator[None]:
        """The total time limit, and transport failures as :class:`OutboundError`."""
        try:
            with anyio.fail_after(time_limit or self.total_timeout):
                yield
        except TimeoutError:
            raise OutboundTimeout("the exchange took too long") from None
        except httpx.TimeoutException as error:
            raise OutboundTimeout(f"timed out ({type(error).__name__})") from None
        except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError) as error:
            raise OutboundFailed(f"{type(error).__name__}: {error}") from None

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        time_limit: float | None = None,
    ) -> Answer:
        """GET ``url``, following up to :data:`MAX_REDIRECTS` checked redirects.

        Raises :class:`UnsuccessfulStatus` for a non-2xx final answer and
        :class:`ResponseTooLarge` past ``max_bytes``.
        """
        target = self._check(url)
        async with self._exchange(time_limit):
            for _hop in range(MAX_REDIRECTS + 1):
                async with self._http.stream("GET", target, headers=headers) as response:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        target = self._check(target.join(location))
                        continue
                    if not response.is_success:
                        raise UnsuccessfulStatus(response.status_code)
                    encoding = response.headers.get("content-encoding", "identity").lower()
                    if encoding != "identity":
                        raise OutboundFailed(f"refusing a {encoding}-encoded body")
                    body = await _read_capped(response, max_bytes, truncate=False)
                    return Answer(str(target), response.status_code, response.headers, body)
            raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")
        raise AssertionError("unreachable")  # pragma: no cover (for type checkers)

    async def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int = 64 * 1024,
        time_limit: float | None = None,
    ) -> Answer:
        """POST ``content`` to ``url`` once; redirects are not followed, any status is returned.

        Made for webhook deliveries: the caller decides from ``status`` whether to retry. The
        response body is cut at ``max_response_bytes`` (it is only kept for diagnostics).
        """
        target = self._check(url)
        request = self._http.stream("POST", target, content=content, headers=headers)
        async with self._exchange(time_limit), request as response:
            body = await _read_capped(response, max_response_bytes, truncate=True)
            return Answer(str(target), response.status_code, response.headers, body)
        raise AssertionError("unreachable")  # pragma: no cover


def policy_from_settings(settings: Settings) -> AddressPolicy:
    return AddressPolicy(
        allowed_ports=frozenset(settings.outbound_allowed_ports),
        test_origins=parse_test_origins(settings.outbound_test_origins),
    )


def client_from_settings(
    settings: Settings, *, resolver: Resolver | None = None, user_agent: str = USER_AGENT
) -> SafeHttpClient:
    """The client every process builds once at start-up."""
    return SafeHttpClient(
        policy_from_settings(settings),
        connect_timeout=settings.outbound_connect_timeout_seconds,
        total_timeout=settings.image_url_timeout_seconds,
        resolver=resolver,
        user_agent=user_agent,
    )


def post_blocking(
    settings: Settings,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str] | None = None,
    max_response_bytes: int = 64 * 1024,
    time_limit: float | None = None,
    resolver: Resolver | None = None,
) -> Answer:
    """:meth:`SafeHttpClient.post` for synchronous code (Celery tasks): one client per call."""

    async def send() -> Answer:
        async with client_from_settings(settings, resolver=resolver) as http:
            return await http.post(
                url,
                content=content,
                headers=headers,
                max_response_bytes=max_response_bytes,
                time_limit=time_limit,
            )

    return anyio.run(send)
