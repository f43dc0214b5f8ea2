"""The values of the agent's flags: host:port pairs, host names, addresses, directories and
labels, each parsed into its type or refused with a ConfigError naming the flag."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from node_agent.errors import ConfigError

# RFC 1123 host names: labels of letters, digits and inner hyphens.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")  # fmt: skip
WILDCARDS = {"0.0.0.0", "::"}  # noqa: S104 - names of the wildcard, not a bind


@dataclass(frozen=True)
class HostPort:
    """A validated host and TCP port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{url_host(self.host)}:{self.port}"


def url_host(host: str) -> str:
    """`host` as it appears in a URL or nginx `listen` (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.match(host))
    return True


def parse_host_port(name: str, raw: str) -> HostPort:
    """`raw` as HOST:PORT ([V6]:PORT for IPv6); ConfigError naming `name` otherwise."""
    shape = f"{name} must be HOST:PORT (e.g. 127.0.0.1:1935 or [::1]:1935), got {raw!r}"
    value = raw.strip()
    if value.startswith("["):
        host, sep, port_text = value[1:].partition("]:")
        if not sep or ":" not in host:
            raise ConfigError(shape)
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or ":" in host:
            raise ConfigError(shape)
    if not host or not _valid_host(host) or not port_text.isdigit():
        raise ConfigError(shape)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}: port must be 1-65535, got {port}")
    return HostPort(host, port)


def data_dir(name: str, raw: str) -> Path:
    if not raw.strip():
        raise ConfigError(f"{name} must not be empty")
    return Path(raw)


def node_name(name: str, raw: str) -> str:
    value = raw.strip() or socket.gethostname()
    if len(value) > 128 or not value.isprintable():
        raise ConfigError(f"{name} must be 1-128 printable characters, got {value!r}")
    return value


def public_host(name: str, raw: str) -> str:
    value = raw.strip()
    if value and not _valid_host(value):
        raise ConfigError(
            f"{name} must be a host name or IP address (no scheme or port), got {value!r}"
        )
    return value


LABEL_FLAG = "--label"


def ip_addresses(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated IP addresses."""
    out: list[str] = []
    for item in (a.strip() for a in raw.split(",")):
        if not item:
            continue
        try:
            out.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an IP address") from None
    return tuple(out)


def optional_host_port(name: str, raw: str) -> HostPort | None:
    return parse_host_port(name, raw) if raw.strip() else None


def rtmp_url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if value and (not value.startswith("rtmp://") or not value.isprintable() or " " in value):
        raise ConfigError(f"{name} must be an rtmp:// URL (e.g. rtmp://ingest:1935/live)")
    return value


def optional_dir(name: str, raw: str) -> Path | None:
    return Path(raw) if raw.strip() else None


def optional_file(name: str, raw: str) -> Path | None:
    return Path(raw.strip()) if raw.strip() else None


# Node labels, as the control plane checks them (server/common/labels.py, at most 32 per node):
# what cameras' node selectors match. Checked here too, so a typo stops the agent at once with
# the flag named, not at registration.
_LABEL_KEY = re.compile(r"^[a-z0-9_.-]{1,63}$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")
MAX_LABELS = 32


def parse_labels(name: str, raw: str) -> dict[str, str]:
    """`key=value` pairs separated by commas (each --label flag is one); ConfigError naming the
    first that is not label syntax or a key given twice."""
    labels: dict[str, str] = {}
    for pair in (p.strip() for p in raw.split(",")):
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"{name}: {pair!r} is not key=value (e.g. site=north)")
        if not _LABEL_KEY.match(key):
            raise ConfigError(f"{name}: label key {key!r} must be 1-63 characters of a-z 0-9 _ . -")
        if not _LABEL_VALUE.match(value):
            raise ConfigError(
                f"{name}: label {key}'s value {value!r} must be up to 63 characters of "
                "A-Z a-z 0-9 _ . -"
            )
        if key in labels:
            raise ConfigError(f"{name}: label {key!r} is given twice")
        labels[key] = value
    if len(labels) > MAX_LABELS:
        raise ConfigError(f"{name}: at most {MAX_LABELS} labels, got {len(labels)}")
    return labels


def cpu_cores(name: str, raw: str) -> float:
    """CPU cores as a positive number (fractions allowed: a container's quota); empty: the
    cores this process may run on (its affinity, which a cpuset narrows)."""
    if not raw.strip():
        return float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of cores, got {raw!r}") from None
    if not 0 < value <= 4096:
        raise ConfigError(f"{name} must be above 0 and at most 4096, got {raw!r}")
    return value
