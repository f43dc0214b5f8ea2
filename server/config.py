"""Server configuration: command-line flags, each with a CAMFLEET_* environment equivalent.

Flags win over the environment, the environment over defaults. `OPTIONS` (server/options.py)
is the single list of them; the README's configuration table is written from it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from server.auth.password_policy import password_problem
from server.options import OPTIONS, Option

__all__ = ["OPTIONS", "ConfigError", "Option", "Settings", "load_settings"]


class ConfigError(ValueError):
    """A setting has a value the server cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one control-plane process."""

    listen: str = "127.0.0.1:50051"
    data_dir: Path = Path("./data")
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "camfleet:"
    admin_password: str = ""
    ingest_rtmp_url: str = "rtmp://127.0.0.1:1935/live"
    hls_base_url: str = "http://127.0.0.1:8088"
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    trust_any_proxy: bool = False
    trusted_proxy_hops: int = 1
    proxy_socket: str = ""
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=30)
    login_limit_per_account_address: int = 5
    login_limit_per_address: int = 20
    login_limit_window: timedelta = timedelta(seconds=60)
    login_account_backoff_after: int = 10
    login_account_backoff_max: timedelta = timedelta(seconds=45)
    password_min_length: int = 12
    password_min_score: int = 3
    playback_url_ttl: timedelta = timedelta(hours=1)
    export_max_clip: timedelta = timedelta(hours=1)
    export_cache_bytes: int = 2 * 1024**3
    exports_per_node: int = 2
    exports_per_user: int = 1
    event_bookmark_interval: timedelta = timedelta(seconds=30)
    max_public_streams_per_address: int = 8
    max_streams_per_principal: int = 100
    audit_flood_limit: int = 30
    heartbeat_interval: timedelta = timedelta(seconds=1)
    node_lost_after: timedelta = timedelta(seconds=3)
    node_startup_grace: timedelta = timedelta(seconds=15)
    unknown_key_limit: int = 10
    log_level: str = "INFO"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one, or the embedded SQLite file."""
        return self.database_url or sqlite_url(self.data_dir)


def sqlite_url(data_dir: Path) -> str:
    """URL of the embedded SQLite database inside `data_dir`."""
    return f"sqlite+aiosqlite:///{(data_dir / 'camfleet.db').resolve()}"


def default_database_url() -> str:
    """The database URL from the environment alone (used by Alembic's CLI)."""
    url = os.environ.get("CAMFLEET_DATABASE_URL", "")
    return url or sqlite_url(Path(os.environ.get("CAMFLEET_DATA_DIR", "./data")))


def _seconds(name: str, raw: str, *, zero_ok: bool = False) -> timedelta:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(
            f"{name} must be {'non-negative' if zero_ok else 'positive'}, got {raw!r}"
        )
    return timedelta(seconds=value)


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _score(raw: str) -> int:
    if raw.strip() not in {"0", "1", "2", "3", "4"}:
        raise ConfigError(
            f"CAMFLEET_PASSWORD_MIN_SCORE must be 0 to 4 (zxcvbn's scale), got {raw!r}"
        )
    return int(raw)


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"CAMFLEET_TRUSTED_PROXIES: {part!r} is not a CIDR") from None
    return tuple(nets)


def build_parser(prog: str = "python -m server") -> argparse.ArgumentParser:
    """The flags of `python -m server`, one per OPTIONS entry."""
    parser = argparse.ArgumentParser(prog=prog, description="camfleet control plane")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=[
            "serve",
            "migrate",
            "rotate-signing-key",
            "rotate-playback-secret",
            "create-join-token",
        ],
        help="serve (default), migrate (apply migrations and exit), rotate-signing-key, "
        "rotate-playback-secret (restart the control planes after it), "
        "create-join-token (prints a single-use join token for a node agent, valid 1 hour)",
    )
    for opt in OPTIONS:
        parser.add_argument(opt.flag, default=None, help=f"{opt.help} [${opt.env}]")
    return parser


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, Settings]:
    """Parse flags and environment into (command, Settings); raises ConfigError on bad values."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    raw: dict[str, str] = {}
    for opt in OPTIONS:
        dest = opt.flag.removeprefix("--").replace("-", "_")
        given = getattr(args, dest)
        raw[dest] = given if given is not None else env.get(opt.env, opt.default)
    log_level = raw["log_level"].upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(
            f"CAMFLEET_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level}"
        )
    settings = Settings(
        listen=raw["listen"],
        data_dir=Path(raw["data_dir"]),
        database_url=raw["database_url"],
        redis_url=raw["redis_url"],
        redis_prefix=raw["redis_prefix"],
        admin_password=raw["admin_password"],
        ingest_rtmp_url=raw["ingest_rtmp_url"].rstrip("/"),
        hls_base_url=raw["hls_base_url"].rstrip("/"),
        trusted_proxies=()
        if raw["trusted_proxies"].strip() == "*"
        else _networks(raw["trusted_proxies"]),
        trust_any_proxy=raw["trusted_proxies"].strip() == "*",
        trusted_proxy_hops=_positive_int("CAMFLEET_TRUSTED_PROXY_HOPS", raw["trusted_proxy_hops"]),
        proxy_socket=raw["proxy_socket"].strip(),
        access_token_ttl=_seconds("CAMFLEET_ACCESS_TOKEN_TTL", raw["access_token_ttl"]),
        refresh_token_ttl=_seconds("CAMFLEET_REFRESH_TOKEN_TTL", raw["refresh_token_ttl"]),
        login_limit_per_account_address=_positive_int(
            "CAMFLEET_LOGIN_LIMIT_PER_ACCOUNT_ADDRESS", raw["login_limit_per_account_address"]
        ),
        login_limit_per_address=_positive_int(
            "CAMFLEET_LOGIN_LIMIT_PER_ADDRESS", raw["login_limit_per_address"]
        ),
        login_limit_window=_seconds("CAMFLEET_LOGIN_LIMIT_WINDOW", raw["login_limit_window"]),
        login_account_backoff_after=_positive_int(
            "CAMFLEET_LOGIN_ACCOUNT_BACKOFF_AFTER", raw["login_account_backoff_after"]
        ),
        login_account_backoff_max=_seconds(
            "CAMFLEET_LOGIN_ACCOUNT_BACKOFF_MAX", raw["login_account_backoff_max"]
        ),
        password_min_length=_positive_int(
            "CAMFLEET_PASSWORD_MIN_LENGTH", raw["password_min_length"]
        ),
        password_min_score=_score(raw["password_min_score"]),
        playback_url_ttl=_seconds("CAMFLEET_PLAYBACK_URL_TTL", raw["playback_url_ttl"]),
        export_max_clip=_seconds("CAMFLEET_EXPORT_MAX_CLIP", raw["export_max_clip"]),
        export_cache_bytes=_positive_int("CAMFLEET_EXPORT_CACHE_BYTES", raw["export_cache_bytes"]),
        exports_per_node=_positive_int("CAMFLEET_EXPORTS_PER_NODE", raw["exports_per_node"]),
        exports_per_user=_positive_int("CAMFLEET_EXPORTS_PER_USER", raw["exports_per_user"]),
        audit_flood_limit=_positive_int("CAMFLEET_AUDIT_FLOOD_LIMIT", raw["audit_flood_limit"]),
        event_bookmark_interval=_seconds(
            "CAMFLEET_EVENT_BOOKMARK_INTERVAL", raw["event_bookmark_interval"]
        ),
        max_public_streams_per_address=_positive_int(
            "CAMFLEET_MAX_PUBLIC_STREAMS_PER_ADDRESS", raw["max_public_streams_per_address"]
        ),
        max_streams_per_principal=_positive_int(
            "CAMFLEET_MAX_STREAMS_PER_PRINCIPAL", raw["max_streams_per_principal"]
        ),
        heartbeat_interval=_seconds("CAMFLEET_HEARTBEAT_INTERVAL", raw["heartbeat_interval"]),
        node_lost_after=_seconds("CAMFLEET_NODE_LOST_AFTER", raw["node_lost_after"]),
        node_startup_grace=_seconds(
            "CAMFLEET_NODE_STARTUP_GRACE", raw["node_startup_grace"], zero_ok=True
        ),
        unknown_key_limit=_positive_int("CAMFLEET_UNKNOWN_KEY_LIMIT", raw["unknown_key_limit"]),
        log_level=log_level,
    )
    if settings.node_lost_after < settings.heartbeat_interval * 2:
        raise ConfigError(
            "CAMFLEET_NODE_LOST_AFTER must be at least twice CAMFLEET_HEARTBEAT_INTERVAL, or one "
            "late heartbeat marks a healthy node lost"
        )
    if settings.proxy_socket and settings.listen.startswith("unix:"):
        raise ConfigError(
            "CAMFLEET_LISTEN cannot be a Unix socket beside CAMFLEET_PROXY_SOCKET: every peer "
            "on a Unix socket would count as the proxy"
        )
    if settings.admin_password:
        problem = password_problem(
            settings.admin_password,
            settings.password_min_length,
            settings.password_min_score,
            ("admin",),
        )
        if problem:
            raise ConfigError(f"CAMFLEET_ADMIN_PASSWORD {problem}")
    return args.command, settings
