"""What a leader job's test runs on: a fresh migrated database on a backend (a SQLite file, or a
throwaway PostgreSQL with Redis presence under a prefix of its own), its event log, and a won
leadership. Shared by the alert evaluator's and the history's fixtures; everything is released
and the Redis keys removed on exit, also on failure."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from harness.databases import throwaway_postgres
from server.db.engine import Sessions, create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.eventlog.sql_log import SqlEventLog
from server.leader.leadership import Leadership
from server.nodes.presence import MemoryPresence, Presence, RedisPresence


@dataclass
class Backing:
    engine: AsyncEngine
    sessions: Sessions
    events: SqlEventLog
    leadership: Leadership
    presence: Presence


@asynccontextmanager
async def leader_backing(backend: str, tmp: Path, name: str) -> AsyncIterator[Backing]:
    """The backing of `backend` ("sqlite" or "postgres"); `name` names its files and keys."""
    if backend == "sqlite":
        async with _backing(f"sqlite+aiosqlite:///{tmp / f'{name}.db'}", backend, name) as b:
            yield b
        return
    with throwaway_postgres(name.replace("-", "_")) as url:
        async with _backing(url, backend, name) as b:
            yield b


@asynccontextmanager
async def _backing(url: str, backend: str, name: str) -> AsyncIterator[Backing]:
    engine = create_engine(url, pool_size=4)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    events = SqlEventLog(engine, sessions, poll_s=0.1)
    await events.start()
    leadership = Leadership.for_engine(engine, sessions)
    await leadership.start()
    redis: Redis | None = None
    presence: Presence = MemoryPresence()
    prefix = f"test-{name}-{secrets.token_hex(4)}:"
    if backend == "postgres":
        redis = Redis.from_url("redis://127.0.0.1:6379/0")
        presence = RedisPresence(redis, prefix)
    try:
        yield Backing(engine, sessions, events, leadership, presence)
    finally:
        if redis is not None:
            keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
        await leadership.close()
        await events.close()
        await engine.dispose()
