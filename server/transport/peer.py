"""Where a call comes from: the peer address, or the client behind trusted proxies.

One rule, Envoy's `xff_num_trusted_hops`: the operator says which direct peers are proxies
(CIDRs, '*' for every peer, or peers on the control plane's proxy Unix socket) and how many
trusted proxies stand in front of the server. Each proxy appends the address it saw to
x-forwarded-for, so with N trusted hops the client is the Nth entry from the right; entries
further left were written by the client (or by proxies nobody trusts) and are never read.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.config import Settings

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """Which direct peers are proxies whose x-forwarded-for is believed, and how many."""

    networks: Sequence[Network] = ()
    any_peer: bool = False  # '*': every peer is a proxy (the server is reachable only via one)
    unix_peers: bool = False  # peers on the proxy Unix socket (only the proxy connects there)
    hops: int = 1  # trusted proxies in the chain, the one connected to us included

    def is_proxy(self, peer: str) -> bool:
        """Is the direct peer `peer` (grpc's form, 'ipv4:1.2.3.4:5') a trusted proxy?"""
        if self.any_peer:
            return True
        if peer.startswith("unix:"):
            return self.unix_peers
        ip = _ip(peer_address(peer))
        return ip is not None and any(ip in net for net in self.networks)


def peer_address(peer: str) -> str:
    """'ipv4:127.0.0.1:5000' → '127.0.0.1', 'ipv6:[::1]:5000' → '::1', else the raw peer."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        host = rest.rsplit(":", 1)[0].strip("[]")
        ip = _ip(host)
        # An IPv4 client of a dual-stack listener: the address people know is the IPv4 one.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return host
    return peer


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_entry(entry: str) -> str | None:
    """One x-forwarded-for entry as a normalised IP: '1.2.3.4', '1.2.3.4:80', '::1',
    '[::1]' or '[::1]:80'; None when it is not an address."""
    entry = entry.strip()
    if entry.startswith("["):
        host, sep, rest = entry[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        entry = host
    elif entry.count(":") == 1:  # IPv4 with a port (a bare IPv6 has several colons)
        host, _, port = entry.partition(":")
        if not port.isdigit():
            return None
        entry = host
    ip = _ip(entry)
    if ip is None:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def client_address(peer: str, forwarded_for: str | None, proxies: TrustedProxies) -> str:
    """The caller's address. x-forwarded-for is read only when the direct peer is a trusted
    proxy, and then only its `hops`-th entry from the right, the one the outermost trusted
    proxy appended; with too few entries, or a malformed one there, the direct peer's address
    stands (never a client-written entry)."""
    address = peer_address(peer)
    if not forwarded_for or not proxies.is_proxy(peer):
        return address
    entries = forwarded_for.split(",")
    if len(entries) < proxies.hops:
        return address
    return _forwarded_entry(entries[-proxies.hops]) or address


def trusted_proxies(settings: Settings) -> TrustedProxies:
    """The proxy rule of `settings` (CAMFLEET_TRUSTED_PROXIES, _TRUSTED_PROXY_HOPS and
    _PROXY_SOCKET)."""
    return TrustedProxies(
        networks=settings.trusted_proxies,
        any_peer=settings.trust_any_proxy,
        unix_peers=bool(settings.proxy_socket),
        hops=settings.trusted_proxy_hops,
    )


def listen_on_proxy_socket(server: Any, path: str) -> bool:
    """Also serve on the Unix socket `path` for a proxy on this host: its directory is made
    owner-only (0700) and the socket 0600, so only processes of this user (Envoy in ./start)
    can connect, and calls on it may be believed. False when it cannot be bound."""
    socket_path = Path(path).resolve()
    socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(socket_path.parent, 0o700)
    # Bound by its name from inside its directory: a socket's path is limited to 107 bytes,
    # which a deep data directory exceeds. grpc binds here and now, and nothing else in this
    # process depends on the working directory (every path it opens is absolute).
    cwd = os.getcwd()
    os.chdir(socket_path.parent)
    try:
        bound = server.add_insecure_port(f"unix:{socket_path.name}")
    except RuntimeError as exc:
        log.debug("bind of %s failed: %s", socket_path, exc)
        return False
    finally:
        os.chdir(cwd)
    if not bound:
        return False
    os.chmod(socket_path, 0o600)
    return True
