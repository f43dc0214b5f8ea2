"""Agent configuration: command-line flags, each with a CAMFLEET_* environment equivalent.

Flags win over the environment, the environment over defaults. `OPTIONS` is the single list.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from node_agent.errors import ConfigError

# RFC 1123 host names: labels of letters, digits and inner hyphens.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")  # fmt: skip
_WILDCARDS = {"0.0.0.0", "::"}  # noqa: S104 - names of the wildcard, not a bind


@dataclass(frozen=True)
class Option:
    """One setting: its flag, environment variable, default and meaning."""

    flag: str
    env: str
    default: str
    help: str


OPTIONS: tuple[Option, ...] = (
    Option(
        "--control-plane",
        "CAMFLEET_CONTROL_PLANE",
        "127.0.0.1:50051",
        "HOST:PORT of the control plane's gRPC endpoint",
    ),
    Option(
        "--join-token",
        "CAMFLEET_JOIN_TOKEN",
        "",
        "join token from NodeService.CreateJoinToken; used only when no credential is stored",
    ),
    Option(
        "--data-dir",
        "CAMFLEET_AGENT_DATA_DIR",
        "./data/node",
        "where the credential, assignment, event spool and nginx files live",
    ),
    Option("--name", "CAMFLEET_NODE_NAME", "", "node name (default: this host's name)"),
    Option(
        "--rtmp-listen", "CAMFLEET_RTMP_LISTEN", "127.0.0.1:1935", "HOST:PORT cameras publish to"
    ),
    Option(
        "--http-listen", "CAMFLEET_HTTP_LISTEN", "127.0.0.1:8088", "HOST:PORT serving signed HLS"
    ),
    Option(
        "--public-host",
        "CAMFLEET_PUBLIC_HOST",
        "",
        "host name or address in the URLs given to users (default: the listen addresses' host)",
    ),
    Option("--capacity", "CAMFLEET_CAPACITY", "32", "how many streams this node can take"),
    Option("--log-level", "CAMFLEET_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Option(
        "--segment-seconds",
        "CAMFLEET_SEGMENT_SECONDS",
        "10",
        "length of recorded segments (cut on the next keyframe after it)",
    ),
    Option(
        "--warm-dir",
        "CAMFLEET_WARM_DIR",
        "",
        "second directory for older recordings, e.g. a mounted share (default: none)",
    ),
    Option(
        "--warm-after",
        "CAMFLEET_WARM_AFTER",
        "86400",
        "seconds after which a recorded segment moves to --warm-dir",
    ),
    Option(
        "--min-free-bytes",
        "CAMFLEET_MIN_FREE_BYTES",
        "1073741824",
        "free space kept on each recordings disk; below it the oldest segments are deleted",
    ),
)


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


@dataclass(frozen=True)
class AgentConfig:
    """Validated configuration of one node agent."""

    control_plane: HostPort
    data_dir: Path
    name: str
    rtmp_listen: HostPort
    http_listen: HostPort
    join_token: str = ""
    # "" means: the host of each listen address.
    public_host: str = ""
    capacity: int = 32
    log_level: str = "INFO"
    # Tunables without flags (tests shorten them).
    unknown_key_limit: int = 10
    unknown_key_window_s: float = 60.0
    check_timeout_s: float = 3.0
    stat_interval_s: float = 1.0
    hls_fragment_s: float = 1.0
    nginx_binary: str = shutil.which("nginx") or "/usr/sbin/nginx"
    # Recording.
    segment_s: float = 10.0
    warm_dir: Path | None = None
    warm_after_s: float = 86400.0
    min_free_bytes: int = 1 << 30
    ffmpeg_binary: str = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
    ffprobe_binary: str = shutil.which("ffprobe") or "/usr/bin/ffprobe"
    # How often retention, free space and tier moves are checked.
    housekeeping_interval_s: float = 5.0

    def _public(self, listen: HostPort) -> str:
        if self.public_host:
            return self.public_host
        # A wildcard bind is no address a user can reach: the host's name is the best guess.
        return socket.gethostname() if listen.host in _WILDCARDS else listen.host

    @property
    def rtmp_url(self) -> str:
        """Where cameras publish (the key is appended), as users should see it."""
        return f"rtmp://{url_host(self._public(self.rtmp_listen))}:{self.rtmp_listen.port}/live"

    @property
    def http_url(self) -> str:
        """Base of this node's signed HLS URLs, as users should see it."""
        return f"http://{url_host(self._public(self.http_listen))}:{self.http_listen.port}"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so every error is one clear line."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser(prog: str = "python -m node_agent") -> argparse.ArgumentParser:
    """The flags of `python -m node_agent`, one per OPTIONS entry."""
    parser = _Parser(prog=prog, description="camfleet node agent (nginx-rtmp + ffmpeg)")
    for opt in OPTIONS:
        parser.add_argument(opt.flag, default=None, help=f"{opt.help} [${opt.env}]")
    return parser


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of bytes, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _seconds_between(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g} seconds, got {raw!r}")
    return value


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """Parse flags and environment into an AgentConfig; raises ConfigError on bad values."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    raw: dict[str, str] = {}
    for opt in OPTIONS:
        dest = opt.flag.removeprefix("--").replace("-", "_")
        given = getattr(args, dest)
        raw[dest] = given if given is not None else env.get(opt.env, opt.default)
    log_level = raw["log_level"].strip().upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"--log-level must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    name = raw["name"].strip() or socket.gethostname()
    if len(name) > 128 or not name.isprintable():
        raise ConfigError(f"--name must be 1-128 printable characters, got {name!r}")
    public_host = raw["public_host"].strip()
    if public_host and not _valid_host(public_host):
        raise ConfigError(
            f"--public-host must be a host name or IP address (no scheme or port), "
            f"got {public_host!r}"
        )
    if not raw["data_dir"].strip():
        raise ConfigError("--data-dir must not be empty")
    return AgentConfig(
        control_plane=parse_host_port("--control-plane", raw["control_plane"]),
        data_dir=Path(raw["data_dir"]),
        name=name,
        rtmp_listen=parse_host_port("--rtmp-listen", raw["rtmp_listen"]),
        http_listen=parse_host_port("--http-listen", raw["http_listen"]),
        join_token=raw["join_token"].strip(),
        public_host=public_host,
        capacity=_positive_int("--capacity", raw["capacity"]),
        log_level=log_level,
        segment_s=_seconds_between("--segment-seconds", raw["segment_seconds"], 1, 3600),
        warm_dir=Path(raw["warm_dir"]) if raw["warm_dir"].strip() else None,
        warm_after_s=_seconds_between("--warm-after", raw["warm_after"], 1, 10 * 365 * 86400),
        min_free_bytes=_non_negative_int("--min-free-bytes", raw["min_free_bytes"]),
    )
