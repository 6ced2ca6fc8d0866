"""Properties of the address policy over generated addresses and URLs.

- a refused IPv4 address stays refused in every IPv6 form that carries it;
- numeric spellings (decimal, hex, octal, short forms) are refused or canonical, never decoded
  into an address that the policy would refuse;
- arbitrary text as a URL is either a checked destination or BlockedDestination, nothing else.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.address_policy import AddressPolicy, BlockedDestination, refusal_reason

POLICY = AddressPolicy()

refused_v4 = st.sampled_from(
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/8",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ]
).flatmap(
    lambda net: st.integers(
        int(ipaddress.ip_network(net).network_address),
        int(ipaddress.ip_network(net).broadcast_address),
    ).map(ipaddress.IPv4Address)
)


def ipv6_forms(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    value = int(v4)
    return [
        ipaddress.IPv6Address((0xFFFF << 32) | value),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address(value) if value > 1 else ipaddress.IPv6Address("::ffff:0:0"),
        ipaddress.IPv6Address((0x64FF9B << 96) | value),  # 64:ff9b::a.b.c.d
        ipaddress.IPv6Address((0x2002 << 112) | (value << 80)),  # 6to4
        # Teredo: server 65.54.227.120, client address stored inverted
        ipaddress.IPv6Address(
            (0x20010000 << 96)
            | (int(ipaddress.IPv4Address("65.54.227.120")) << 64)
            | (0xFFFFFFFF ^ value)
        ),
    ]


@settings(settings.get_profile("fuzz"))
@given(refused_v4)
def test_refused_ipv4_is_refused_in_every_ipv6_form(v4: ipaddress.IPv4Address):
    assert refusal_reason(v4) is not None
    for form in ipv6_forms(v4):
        assert refusal_reason(form) is not None, form
        with pytest.raises(BlockedDestination):
            POLICY.check_url(f"http://[{form}]/")


def spellings(v4: ipaddress.IPv4Address) -> list[str]:
    value = int(v4)
    a, b, c, d = v4.packed
    return [
        str(value),
        hex(value),
        oct(value).replace("0o", "0"),
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{hex(a)}.{hex(b)}.{hex(c)}.{hex(d)}",
        f"0{a:o}.0{b:o}.0{c:o}.0{d:o}",
    ]


@settings(settings.get_profile("fuzz"))
@given(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
def test_numeric_spellings_are_never_decoded_into_a_pass(v4: ipaddress.IPv4Address):
    for spelling in spellings(v4):
        if spelling == str(v4):
            continue
        with pytest.raises(BlockedDestination):
            POLICY.check_url(f"http://{spelling}/")


url_text = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
        st.sampled_from(["http", "https", "HTTP", "ftp", "file", "gopher", ""]),
        st.one_of(
            st.text(max_size=20),
            st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
            st.from_regex(r"[a-z0-9.\-]{1,30}", fullmatch=True),
        ),
        st.one_of(st.just(""), st.integers(-1, 70000).map(lambda port: f":{port}")),
        st.text(max_size=20),
    ),
)


@settings(settings.get_profile("fuzz"))
@given(url_text)
def test_any_text_is_a_destination_or_refused(text: str):
    try:
        destination = POLICY.check_url(text)
    except BlockedDestination:
        return
    assert destination.scheme in ("http", "https")
    assert destination.port in POLICY.allowed_ports
    assert not destination.url.userinfo
    try:
        literal = ipaddress.ip_address(destination.host)
    except ValueError:
        return
    assert refusal_reason(literal) is None
