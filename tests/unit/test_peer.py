"""Which address a call comes from, with and without trusted proxies."""

from __future__ import annotations

import ipaddress

from server.transport.peer import client_address, peer_address

LOCAL = (ipaddress.ip_network("127.0.0.1/32"),)


def test_peer_formats() -> None:
    assert peer_address("ipv4:127.0.0.1:5123") == "127.0.0.1"
    assert peer_address("ipv6:[::1]:5123") == "::1"
    assert peer_address("unix:/tmp/sock") == "unix:/tmp/sock"


def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    assert client_address("ipv4:127.0.0.5:1", "127.0.0.9", LOCAL) == "127.0.0.5"
    assert client_address("ipv4:127.0.0.1:1", "127.0.0.9", ()) == "127.0.0.1"


def test_rightmost_untrusted_hop_wins() -> None:
    # The client prepended a fake hop; the proxy appended the real one.
    assert client_address("ipv4:127.0.0.1:1", "127.0.0.66, 127.0.0.7", LOCAL) == "127.0.0.7"
    # A chain of trusted proxies is walked through.
    assert client_address("ipv4:127.0.0.1:1", "127.0.0.7, 127.0.0.1", LOCAL) == "127.0.0.7"


def test_garbage_hops_stop_the_walk() -> None:
    assert client_address("ipv4:127.0.0.1:1", "not-an-ip", LOCAL) == "127.0.0.1"
    assert client_address("ipv4:127.0.0.1:1", "127.0.0.7, junk", LOCAL) == "127.0.0.1"


def test_trust_any_proxy() -> None:
    assert client_address("ipv4:127.0.0.5:1", "127.0.0.7", None) == "127.0.0.7"
