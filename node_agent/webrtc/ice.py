"""Which of the host's addresses WebRTC offers viewers (ICE host candidates).

aioice gathers every address of every interface except loopback. A node whose HTTP listener
is bound to one address is reachable there only, so that address is the one to offer (on a
loopback-only node, for local use and tests, loopback is the only one that works); a node
bound to a wildcard offers what aioice finds. The choice is process-wide: aioice reads it
from a module-level function."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import aioice.ice

_WILDCARDS = {"0.0.0.0", "::"}  # noqa: S104 - names of the wildcard, not a bind
_default = aioice.ice.get_host_addresses


def addresses_for(listen_host: str, configured: Sequence[str] = ()) -> list[str]:
    """The addresses to offer: `configured` when given, else the listener's own address when
    it is one IP address, else [] (every address aioice finds)."""
    if configured:
        return list(configured)
    try:
        ipaddress.ip_address(listen_host)
    except ValueError:
        return []
    return [] if listen_host in _WILDCARDS else [listen_host]


def offer_addresses(addresses: Sequence[str]) -> None:
    """Make aioice gather candidates on `addresses` only ([]: aioice's own choice)."""
    chosen = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if not chosen:
            return _default(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        return [a for a in chosen if (use_ipv4 and ":" not in a) or (use_ipv6 and ":" in a)]

    aioice.ice.get_host_addresses = host_addresses
