"""Server configuration: command-line flags, each with a CAMFLEET_* environment equivalent.

Flags win over the environment, the environment over defaults. `OPTIONS` (server/options.py)
declares each of them once; `Settings` takes its defaults and `load_settings` its values from
there, and the README's configuration table is written from it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from config_options import ConfigError, add_options, defaults, read_options
from server.identity.password_policy import password_problem
from server.options import OPTIONS

# Parsed defaults by attribute: a misspelt attribute below fails at import.
_D = defaults(OPTIONS)


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one control-plane process (defaults: server/options.py)."""

    listen: str = _D["listen"]
    data_dir: Path = _D["data_dir"]
    database_url: str = _D["database_url"]
    database_pool_size: int = _D["database_pool_size"]
    redis_url: str = _D["redis_url"]
    redis_prefix: str = _D["redis_prefix"]
    admin_password: str = _D["admin_password"]
    ingest_rtmp_url: str = _D["ingest_rtmp_url"]
    hls_base_url: str = _D["hls_base_url"]
    # --trusted-proxies fills both.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = _D[
        "trusted_proxies"
    ].networks
    trust_any_proxy: bool = _D["trusted_proxies"].any_peer
    trusted_proxy_hops: int = _D["trusted_proxy_hops"]
    proxy_socket: str = _D["proxy_socket"]
    # TLS for node agents (server/transport/agent_tls.py).
    agent_listen: str = _D["agent_listen"]
    agent_tls_cert: Path | None = _D["agent_tls_cert"]
    agent_tls_key: Path | None = _D["agent_tls_key"]
    node_ca_cert: Path | None = _D["node_ca_cert"]
    node_ca_key: Path | None = _D["node_ca_key"]
    agent_mtls_listen: str = _D["agent_mtls_listen"]
    require_node_certs: bool = _D["require_node_certs"]
    access_token_ttl: timedelta = _D["access_token_ttl"]
    refresh_token_ttl: timedelta = _D["refresh_token_ttl"]
    login_limit_per_account_address: int = _D["login_limit_per_account_address"]
    login_limit_per_address: int = _D["login_limit_per_address"]
    login_limit_window: timedelta = _D["login_limit_window"]
    login_account_backoff_after: int = _D["login_account_backoff_after"]
    login_account_backoff_max: timedelta = _D["login_account_backoff_max"]
    password_min_length: int = _D["password_min_length"]
    password_min_score: int = _D["password_min_score"]
    playback_url_ttl: timedelta = _D["playback_url_ttl"]
    export_max_clip: timedelta = _D["export_max_clip"]
    export_cache_bytes: int = _D["export_cache_bytes"]
    exports_per_node: int = _D["exports_per_node"]
    exports_per_user: int = _D["exports_per_user"]
    event_bookmark_interval: timedelta = _D["event_bookmark_interval"]
    max_public_streams_per_address: int = _D["max_public_streams_per_address"]
    max_streams_per_principal: int = _D["max_streams_per_principal"]
    audit_flood_limit: int = _D["audit_flood_limit"]
    heartbeat_interval: timedelta = _D["heartbeat_interval"]
    node_lost_after: timedelta = _D["node_lost_after"]
    node_startup_grace: timedelta = _D["node_startup_grace"]
    rebalance_moves_per_minute: int = _D["rebalance_moves_per_minute"]
    rebalance_quiet_period: timedelta = _D["rebalance_quiet_period"]
    unknown_key_limit: int = _D["unknown_key_limit"]
    metrics_listen: str = _D["metrics_listen"]
    log_level: str = _D["log_level"]
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
    return url or sqlite_url(Path(os.environ.get("CAMFLEET_DATA_DIR", _D["data_dir"])))


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
    add_options(parser, OPTIONS)
    return parser


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, Settings]:
    """Parse flags and environment into (command, Settings); raises ConfigError on bad values."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    values = read_options(OPTIONS, args, env, names="env")
    proxies = values.pop("trusted_proxies")
    settings = Settings(
        **values, trusted_proxies=proxies.networks, trust_any_proxy=proxies.any_peer
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
    _check_agent_tls(settings)
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


def _check_agent_tls(settings: Settings) -> None:
    """The node agents' TLS options make sense together (server/transport/agent_tls.py)."""
    listens = settings.agent_listen or settings.agent_mtls_listen
    if listens and not (settings.agent_tls_cert and settings.agent_tls_key):
        raise ConfigError(
            "CAMFLEET_AGENT_LISTEN and CAMFLEET_AGENT_MTLS_LISTEN need CAMFLEET_AGENT_TLS_CERT "
            "and CAMFLEET_AGENT_TLS_KEY (the certificate agents check)"
        )
    if bool(settings.node_ca_cert) != bool(settings.node_ca_key):
        raise ConfigError("CAMFLEET_NODE_CA_CERT and CAMFLEET_NODE_CA_KEY go together")
    if settings.agent_mtls_listen and not settings.node_ca_cert:
        raise ConfigError(
            "CAMFLEET_AGENT_MTLS_LISTEN needs CAMFLEET_NODE_CA_CERT and CAMFLEET_NODE_CA_KEY "
            "(the CA whose node certificates it accepts)"
        )
    if settings.require_node_certs and not settings.agent_mtls_listen:
        raise ConfigError(
            "CAMFLEET_REQUIRE_NODE_CERTS needs CAMFLEET_AGENT_MTLS_LISTEN (where nodes present "
            "their certificates)"
        )
