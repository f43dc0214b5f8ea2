"""Which address a call comes from: the direct peer, or the entry the outermost trusted proxy
appended to x-forwarded-for (Envoy's xff_num_trusted_hops), never one the client wrote."""

from __future__ import annotations

import ipaddress

from server.transport.peer import TrustedProxies, client_address, peer_address

LOCAL = TrustedProxies(networks=(ipaddress.ip_network("127.0.0.1/32"),))
ANY = TrustedProxies(any_peer=True)
SOCKET = TrustedProxies(unix_peers=True)


def test_peer_formats() -> None:
    assert peer_address("ipv4:127.0.0.1:5123") == "127.0.0.1"
    assert peer_address("ipv6:[::1]:5123") == "::1"
    assert peer_address("ipv6:[::ffff:127.0.0.2]:5123") == "127.0.0.2"
    assert peer_address("unix:/tmp/sock") == "unix:/tmp/sock"


def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    assert client_address("ipv4:127.0.0.5:1", "127.0.0.9", LOCAL) == "127.0.0.5"
    assert client_address("ipv4:127.0.0.1:1", "127.0.0.9", TrustedProxies()) == "127.0.0.1"
    # A Unix peer is a proxy only when the server has a proxy socket.
    assert client_address("unix:", "127.0.0.9", TrustedProxies()) == "unix:"


def test_the_entry_the_trusted_proxy_appended_wins() -> None:
    # The client wrote fake entries; Envoy appended the real peer last.
    spoofed = "10.9.9.9, 127.0.0.66, 127.0.0.7"
    assert client_address("ipv4:127.0.0.1:1", spoofed, LOCAL) == "127.0.0.7"
    assert client_address("ipv4:172.18.0.5:1", spoofed, ANY) == "127.0.0.7"
    assert client_address("unix:", spoofed, SOCKET) == "127.0.0.7"


def test_trust_any_proxy_reads_the_rightmost_entry_not_the_leftmost() -> None:
    # The finding: with '*' every hop was "trusted" and the client's own entry won.
    assert client_address("ipv4:127.0.0.5:1", "10.9.9.9,127.0.0.2", ANY) == "127.0.0.2"


def test_two_hops_take_the_second_entry_from_the_right() -> None:
    two = TrustedProxies(any_peer=True, hops=2)
    # client-written, client (seen by the outer proxy), outer proxy (seen by Envoy)
    assert client_address("ipv4:10.0.0.1:1", "6.6.6.6, 203.0.113.7, 10.0.0.2", two) == (
        "203.0.113.7"
    )
    # Fewer entries than hops: nothing trustworthy names the client; the peer stands.
    assert client_address("ipv4:10.0.0.1:1", "203.0.113.7", two) == "10.0.0.1"


def test_entry_forms_are_normalised() -> None:
    assert client_address("ipv4:127.0.0.1:1", "x, 127.0.0.7:4321", LOCAL) == "127.0.0.7"
    assert client_address("ipv4:127.0.0.1:1", "x, [2001:db8::1]:443", LOCAL) == "2001:db8::1"
    assert client_address("ipv4:127.0.0.1:1", "x,2001:DB8::1", LOCAL) == "2001:db8::1"
    assert client_address("ipv4:127.0.0.1:1", "::ffff:127.0.0.8", LOCAL) == "127.0.0.8"


def test_malformed_entries_fall_back_to_the_peer() -> None:
    for garbage in ("not-an-ip", "127.0.0.7, junk", "", " , ", "1.2.3.4:port", "[::1", "[::1]x"):
        assert client_address("ipv4:127.0.0.1:1", garbage, LOCAL) == "127.0.0.1", garbage
    assert client_address("ipv4:127.0.0.1:1", "127.0.0.7, " + "9" * 5000, LOCAL) == "127.0.0.1"
