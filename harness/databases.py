"""Throwaway PostgreSQL databases and Redis key prefixes on the local servers (127.0.0.1:5432,
trust; 127.0.0.1:6379), each removed afterwards, also when the caller fails or is interrupted."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis

from harness.cpu import ProcessList, pids_named

# Connections each control plane a test starts keeps (and as many again in a burst): several
# xdist workers, each with planes of its own, share one PostgreSQL and its max_connections (100).
TEST_POOL_SIZE = 4
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def throwaway_postgres(label: str = "test") -> Iterator[str]:
    """A fresh database (named camfleet_<label>_<random>) on the local PostgreSQL; yields its
    SQLAlchemy URL and drops it afterwards, closing any session still on it."""
    name = f"camfleet_{label}_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise RuntimeError(f"cannot create a database on {PG_ADMIN_DSN}: {exc}") from exc
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_redis_prefix(label: str = "test", url: str = REDIS_URL) -> Iterator[str]:
    """A key prefix unique to this run (camfleet-<label>-<random>:) on the Redis at `url` (the
    local one by default); its keys are deleted afterwards."""
    prefix = f"camfleet-{label}-{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise RuntimeError(f"cannot reach Redis at {url}: {exc}") from exc
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def postgres_backends(database_url: str) -> ProcessList:
    """For a CpuMeter: the backend pids of `database_url`'s database and its count of sessions
    ever opened."""
    name = database_url.rsplit("/", 1)[-1]

    def processes() -> tuple[list[int], int | None]:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchall()
            # Counted when a session starts (PostgreSQL 14+): the pool's connection churn.
            count = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,)
            ).fetchone()
        return [int(r[0]) for r in rows], int(count[0]) if count else None

    return processes


def redis_server_pids() -> tuple[list[int], None]:
    """For a CpuMeter: the local redis-server's pids (shared with whatever else uses it here)."""
    return pids_named("redis-server")
