"""Where a call comes from: the peer address, or the client behind a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_address(peer: str) -> str:
    """'ipv4:127.0.0.1:5000' → '127.0.0.1', 'ipv6:[::1]:5000' → '::1', else the raw peer."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        host = rest.rsplit(":", 1)[0]
        return host.strip("[]")
    return peer


def _trusted(address: str, proxies: Sequence[Network] | None) -> bool:
    if proxies is None:  # '*': every peer is a proxy (the server is reachable only through one)
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: Sequence[Network] | None) -> str:
    """The caller's address. x-forwarded-for is believed only when the direct peer is a trusted
    proxy, and then only up to the first hop that is not itself a trusted proxy (rightmost
    untrusted), so a client cannot forge its address by sending the header itself. `proxies`
    None trusts every peer."""
    address = peer_address(peer)
    if not forwarded_for or not _trusted(address, proxies):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        address = hop
        if not _trusted(hop, proxies):
            break
    return address
