"""Throwaway PostgreSQL databases and Redis prefixes for a test run (real servers, no mocks)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh database on the local PostgreSQL; yields its SQLAlchemy URL, drops it after."""
    name = f"camfleet_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_redis_prefix() -> Iterator[str]:
    """A key prefix unique to this run on the local Redis; its keys are deleted after."""
    prefix = f"camfleet-test-{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
