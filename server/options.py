"""What a control-plane operator can set: every option with its flag, CAMFLEET_* environment
variable, default, meaning and parser. The single list: `python -m server --help`, the README's
configuration table, `server.config.Settings`' defaults and `server.config.load_settings` all
read it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import NamedTuple

from config_options import (
    LOG_LEVEL,
    ConfigError,
    Option,
    duration,
    optional_listen,
    path,
    positive_int,
    stripped,
)


class TrustedProxies(NamedTuple):
    """--trusted-proxies: the networks whose x-forwarded-for is believed, or any peer ('*')."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    any_peer: bool


def _proxies(name: str, raw: str) -> TrustedProxies:
    if raw.strip() == "*":
        return TrustedProxies((), any_peer=True)
    nets = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not a CIDR") from None
    return TrustedProxies(tuple(nets), any_peer=False)


def _base_url(name: str, raw: str) -> str:
    return raw.rstrip("/")


def _optional_file(name: str, raw: str) -> Path | None:
    return Path(raw.strip()) if raw.strip() else None


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in {"true", "false", "1", "0", "yes", "no", ""}:
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return value in {"true", "1", "yes"}


def _score(name: str, raw: str) -> int:
    if raw.strip() not in {"0", "1", "2", "3", "4"}:
        raise ConfigError(f"{name} must be 0 to 4 (zxcvbn's scale), got {raw!r}")
    return int(raw)


def _moves(name: str, raw: str) -> int:
    if not raw.strip().isdigit() or int(raw) > 6000:
        raise ConfigError(
            f"{name} must be a whole number from 0 (no rebalancing) to 6000, got {raw!r}"
        )
    return int(raw)


OPTIONS: tuple[Option, ...] = (
    Option("--listen", "CAMFLEET_LISTEN", "127.0.0.1:50051", "gRPC address to listen on"),
    Option(
        "--data-dir",
        "CAMFLEET_DATA_DIR",
        "./data",
        "where the embedded SQLite file lives",
        parse=path,
    ),
    Option(
        "--database-url",
        "CAMFLEET_DATABASE_URL",
        "",
        "SQLAlchemy URL; empty: sqlite+aiosqlite:///<data-dir>/camfleet.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    ),
    Option(
        "--database-pool-size",
        "CAMFLEET_DATABASE_POOL_SIZE",
        "10",
        (
            "PostgreSQL connections this replica keeps open; as many again are opened for bursts "
            "and closed after (plus one for the leader election). Keep replicas x 2 x this "
            "under the server's max_connections"
        ),
        parse=positive_int,
    ),
    Option(
        "--redis-url",
        "CAMFLEET_REDIS_URL",
        "",
        "redis://host:6379/0 for shared rate limits; empty: in-process stand-ins",
    ),
    Option(
        "--redis-prefix",
        "CAMFLEET_REDIS_PREFIX",
        "camfleet:",
        "prefix of every Redis key, so deployments can share one Redis",
    ),
    Option(
        "--admin-password",
        "CAMFLEET_ADMIN_PASSWORD",
        "",
        "password of user `admin`, created on an empty database; empty: random, printed once",
    ),
    Option(
        "--ingest-rtmp-url",
        "CAMFLEET_INGEST_RTMP_URL",
        "rtmp://127.0.0.1:1935/live",
        "RTMP base URL cameras publish to (the key is appended)",
        parse=_base_url,
    ),
    Option(
        "--hls-base-url",
        "CAMFLEET_HLS_BASE_URL",
        "http://127.0.0.1:8088",
        "base URL of a node's HTTP server for HLS playback",
        parse=_base_url,
    ),
    Option(
        "--trusted-proxies",
        "CAMFLEET_TRUSTED_PROXIES",
        "",
        "comma-separated CIDRs of the proxies (Envoy) whose x-forwarded-for is believed; '*' "
        "trusts every peer: only when the server is reachable through the proxy alone",
        parse=_proxies,
    ),
    Option(
        "--trusted-proxy-hops",
        "CAMFLEET_TRUSTED_PROXY_HOPS",
        "1",
        "trusted proxies in front of the server (Envoy alone: 1); the client is that many "
        "x-forwarded-for entries from the right, and entries further left are ignored",
        parse=positive_int,
    ),
    Option(
        "--proxy-socket",
        "CAMFLEET_PROXY_SOCKET",
        "",
        "a Unix socket (made 0600) the server also listens on for a proxy on this host; "
        "calls on it come through the proxy, so their x-forwarded-for is believed",
        parse=stripped,
    ),
    Option(
        "--agent-listen",
        "CAMFLEET_AGENT_LISTEN",
        "",
        "HOST:PORT of a TLS gRPC listener for node agents (with --agent-tls-cert and "
        "--agent-tls-key): they authenticate the control plane with its CA and register there; "
        "empty: none",
        parse=optional_listen,
    ),
    Option(
        "--agent-tls-cert",
        "CAMFLEET_AGENT_TLS_CERT",
        "",
        "PEM certificate (chain) the agent listeners present; it must name the host agents "
        "connect to",
        parse=_optional_file,
    ),
    Option(
        "--agent-tls-key",
        "CAMFLEET_AGENT_TLS_KEY",
        "",
        "PEM private key of --agent-tls-cert",
        parse=_optional_file,
    ),
    Option(
        "--node-ca-cert",
        "CAMFLEET_NODE_CA_CERT",
        "",
        "PEM CA certificate that signs each node's client certificate at join (from the "
        "node's own certificate request; its key never leaves the node); empty: nodes get none",
        parse=_optional_file,
    ),
    Option(
        "--node-ca-key",
        "CAMFLEET_NODE_CA_KEY",
        "",
        "PEM private key of --node-ca-cert",
        parse=_optional_file,
    ),
    Option(
        "--agent-mtls-listen",
        "CAMFLEET_AGENT_MTLS_LISTEN",
        "",
        "HOST:PORT of a TLS gRPC listener that also requires a node certificate signed by "
        "--node-ca-cert; a node must present its own (another's is refused); empty: none",
        parse=optional_listen,
    ),
    Option(
        "--require-node-certs",
        "CAMFLEET_REQUIRE_NODE_CERTS",
        "false",
        "true: node agents' calls (Connect, CheckStreamKey) are refused unless made over "
        "--agent-mtls-listen with the node's certificate",
        parse=_boolean,
    ),
    Option(
        "--access-token-ttl",
        "CAMFLEET_ACCESS_TOKEN_TTL",
        "900",
        "access JWT life, seconds",
        parse=duration(),
    ),
    Option(
        "--refresh-token-ttl",
        "CAMFLEET_REFRESH_TOKEN_TTL",
        "2592000",
        "refresh token life, seconds (default 30 days)",
        parse=duration(),
    ),
    Option(
        "--login-limit-per-account-address",
        "CAMFLEET_LOGIN_LIMIT_PER_ACCOUNT_ADDRESS",
        "5",
        "failed logins per (username, source address) per window before RESOURCE_EXHAUSTED",
        parse=positive_int,
    ),
    Option(
        "--login-limit-per-address",
        "CAMFLEET_LOGIN_LIMIT_PER_ADDRESS",
        "20",
        "failed logins per source address per window",
        parse=positive_int,
    ),
    Option(
        "--login-limit-window",
        "CAMFLEET_LOGIN_LIMIT_WINDOW",
        "60",
        "rate window, seconds",
        parse=duration(),
    ),
    Option(
        "--login-account-backoff-after",
        "CAMFLEET_LOGIN_ACCOUNT_BACKOFF_AFTER",
        "10",
        "failed logins of one username in an hour, from any addresses, after which its logins "
        "from addresses it never logged in from are spaced out (never locked)",
        parse=positive_int,
    ),
    Option(
        "--login-account-backoff-max",
        "CAMFLEET_LOGIN_ACCOUNT_BACKOFF_MAX",
        "45",
        "longest spacing of those logins, seconds (doubling from 2; 45 keeps an account under "
        "100 failed guesses an hour, OWASP ASVS 2.2.1)",
        parse=duration(),
    ),
    Option(
        "--password-min-length",
        "CAMFLEET_PASSWORD_MIN_LENGTH",
        "12",
        "shortest password accepted for a user (OWASP ASVS 2.1.1)",
        parse=positive_int,
    ),
    Option(
        "--password-min-score",
        "CAMFLEET_PASSWORD_MIN_SCORE",
        "3",
        "lowest zxcvbn strength score (0-4) accepted; 3 refuses common and guessable passwords",
        parse=_score,
    ),
    Option(
        "--playback-url-ttl",
        "CAMFLEET_PLAYBACK_URL_TTL",
        "3600",
        "life of signed playback URLs, seconds",
        parse=duration(),
    ),
    Option(
        "--export-max-clip",
        "CAMFLEET_EXPORT_MAX_CLIP",
        "3600",
        "longest clip ExportClip signs and a node assembles, seconds",
        parse=duration(),
    ),
    Option(
        "--export-cache-bytes",
        "CAMFLEET_EXPORT_CACHE_BYTES",
        "2147483648",
        "bytes of assembled clips each node keeps (least recently used go first; recordings "
        "are never deleted for them)",
        parse=positive_int,
    ),
    Option(
        "--exports-per-node",
        "CAMFLEET_EXPORTS_PER_NODE",
        "2",
        "clips a node assembles at once; more get HTTP 429 with Retry-After",
        parse=positive_int,
    ),
    Option(
        "--exports-per-user",
        "CAMFLEET_EXPORTS_PER_USER",
        "1",
        "clips a node assembles at once for one user (its API tokens included)",
        parse=positive_int,
    ),
    Option(
        "--audit-flood-limit",
        "CAMFLEET_AUDIT_FLOOD_LIMIT",
        "30",
        "refusals recorded one by one per source address and kind each minute; more are counted",
        parse=positive_int,
    ),
    Option(
        "--event-bookmark-interval",
        "CAMFLEET_EVENT_BOOKMARK_INTERVAL",
        "30",
        "seconds of silence after which WatchEvents sends a bookmark",
        parse=duration(),
    ),
    Option(
        "--max-public-streams-per-address",
        "CAMFLEET_MAX_PUBLIC_STREAMS_PER_ADDRESS",
        "8",
        "unauthenticated streams (health watches, reflection) one client address may hold "
        "open; more get RESOURCE_EXHAUSTED",
        parse=positive_int,
    ),
    Option(
        "--max-streams-per-principal",
        "CAMFLEET_MAX_STREAMS_PER_PRINCIPAL",
        "100",
        "streams (WatchEvents, agent connections) one user, API token or node may hold open; "
        "more get RESOURCE_EXHAUSTED",
        parse=positive_int,
    ),
    Option(
        "--heartbeat-interval",
        "CAMFLEET_HEARTBEAT_INTERVAL",
        "1",
        "seconds between node agent heartbeats (told to agents in Welcome)",
        parse=duration(),
    ),
    Option(
        "--node-lost-after",
        "CAMFLEET_NODE_LOST_AFTER",
        "3",
        "seconds without a heartbeat after which a node is LOST and its cameras OFFLINE",
        parse=duration(),
    ),
    Option(
        "--node-startup-grace",
        "CAMFLEET_NODE_STARTUP_GRACE",
        "15",
        (
            "seconds after the control plane starts before nodes that have not reconnected are "
            "LOST, and after a node connects before its first heartbeat is due"
        ),
        parse=duration(zero_ok=True),
    ),
    Option(
        "--rebalance-moves-per-minute",
        "CAMFLEET_REBALANCE_MOVES_PER_MINUTE",
        "10",
        (
            "at most this many pull cameras moved per minute (make-before-break) to spread load "
            "after a node joins or returns; 0: never rebalance"
        ),
        parse=_moves,
    ),
    Option(
        "--rebalance-quiet-period",
        "CAMFLEET_REBALANCE_QUIET_PERIOD",
        "300",
        "seconds after a pull camera was placed or moved before a rebalance may move it",
        parse=duration(zero_ok=True),
    ),
    Option(
        "--unknown-key-limit",
        "CAMFLEET_UNKNOWN_KEY_LIMIT",
        "10",
        "refused stream keys per publisher address per minute before checks are rate limited",
        parse=positive_int,
    ),
    Option(
        "--metrics-listen",
        "CAMFLEET_METRICS_LISTEN",
        "",
        "HOST:PORT serving Prometheus metrics at /metrics (gRPC calls by method and code, "
        "cameras, nodes, disks, alerts); empty: none. It has no authentication and names "
        "cameras and nodes: bind it to loopback or a network only Prometheus reaches",
        parse=optional_listen,
    ),
    LOG_LEVEL,
)
