"""Which URLs and network addresses our servers may send requests to.

``image_url`` and webhook endpoints are chosen by clients, so every outbound request is checked
twice: the URL before anything is resolved (:meth:`AddressPolicy.check_url`), and every address
the name resolves to, and the socket's actual peer, before a byte is sent
(:meth:`AddressPolicy.check_address`). Only public unicast addresses on the allowed ports pass.

Refused: loopback, private (RFC 1918, unique-local), link-local (cloud metadata lives at
169.254.169.254 and fd00:ec2::254), carrier-grade NAT, multicast, reserved, documentation and
unspecified addresses; IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4,
Teredo) when the carried address is refused; numeric host encodings such as ``2130706433`` or
``0x7f.1`` (whatever they decode to); user info in the URL; schemes other than http and https.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Python's is_global has changed between patch releases; this list is the contract, not it.
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",  # unspecified
        "::1/128",  # loopback
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo lives here)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique-local (fd00:ec2::254 is AWS metadata)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

# Names that cloud providers answer metadata requests on, refused before any lookup.
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "localhost",
    }
)

# A host made only of digits, dots and hex notation is a numeric address in some spelling.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)


class BlockedDestination(Exception):
    """A URL or address our policy refuses; the message says why, for logs (not for clients)."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries in one of the transition formats."""
    carried: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        carried.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried.extend(address.teredo)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return carried


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be contacted, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "an IPv6 address with a zone"
        for carried in _embedded_ipv4(address):
            reason = refusal_reason(carried)
            if reason is not None:
                return f"an IPv6 form of {carried} ({reason})"
    for network in _REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return f"in {network}"
    if not address.is_global or address.is_multicast or address.is_reserved:
        return "not a public unicast address"
    return None


def parse_numeric_host(host: str) -> IPAddress | None:
    """The address a host names when it is an IP literal in any spelling, else None.

    Besides the canonical forms this decodes what C resolvers accept: ``2130706433``,
    ``0x7f.1``, ``0177.0.0.1``, ``127.1``.
    """
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(literal)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host) and any(char.isdigit() for char in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class Destination:
    """A URL that passed the policy: what to connect to."""

    url: httpx.URL
    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class AddressPolicy:
    """Where outbound requests may go; built from settings by :func:`policy_from_settings`."""

    allowed_ports: frozenset[int] = frozenset({80, 443})
    # (ip, port) pairs on loopback that tests may reach; empty outside the test environment.
    test_origins: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    def _is_test_origin(self, address: IPAddress, port: int) -> bool:
        return (str(address), port) in self.test_origins

    def check_address(self, address: str | IPAddress, port: int) -> IPAddress:
        """The parsed address when a connection to it is allowed; raises otherwise."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if self._is_test_origin(ip, port):
            return ip
        reason = refusal_reason(ip)
        if reason is not None:
            raise BlockedDestination(f"{ip} is {reason}")
        if port not in self.allowed_ports:
            raise BlockedDestination(f"port {port} is not allowed")
        return ip

    def check_url(self, url: str | httpx.URL) -> Destination:
        """Scheme, user info, host name and port checks that need no DNS lookup."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as error:
            raise BlockedDestination(f"not a valid URL ({error})") from None
        scheme = parsed.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise BlockedDestination(f"scheme {scheme!r} is not allowed")
        if parsed.userinfo:
            raise BlockedDestination("URLs with user info are not allowed")
        host = parsed.host.lower().rstrip(".")
        if not host:
            raise BlockedDestination("the URL has no host")
        port = parsed.port if parsed.port is not None else DEFAULT_PORTS[scheme]
        if host in METADATA_HOSTS or host.endswith((".localhost", ".internal", ".local")):
            raise BlockedDestination(f"host {host!r} is internal")
        numeric = parse_numeric_host(host)
        if numeric is not None:
            if not isinstance(numeric, ipaddress.IPv6Address) and str(numeric) != host:
                raise BlockedDestination(f"{host!r} is a non-canonical spelling of {numeric}")
            self.check_address(numeric, port)
        elif port not in self.allowed_ports:
            raise BlockedDestination(f"port {port} is not allowed")
        return Destination(parsed, scheme, host, port)


def parse_test_origins(origins: Iterable[str]) -> frozenset[tuple[str, int]]:
    """``"127.0.0.1:8123"`` / ``"[::1]:8123"`` → (ip, port); only loopback addresses qualify."""
    parsed: set[tuple[str, int]] = set()
    for origin in origins:
        host, _, port = origin.rpartition(":")
        address = ipaddress.ip_address(host.strip("[]"))
        if not address.is_loopback:
            raise ValueError(f"test origin {origin!r} is not a loopback address")
        parsed.add((str(address), int(port)))
    return frozenset(parsed)
