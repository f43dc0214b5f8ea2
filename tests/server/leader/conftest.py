"""Fixtures for the leader tests: a fresh, migrated PostgreSQL database per test (the election
is per database) and replicas on it, each with its own engine (as separate processes have)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from harness.databases import throwaway_postgres
from server.db.engine import Sessions, create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.leader.leadership import Leadership


@dataclass
class Replica:
    """One control-plane replica's part in the election: its Leadership and its sessions."""

    leadership: Leadership
    engine: AsyncEngine
    sessions: Sessions


ReplicaFactory = Callable[[], Replica]


@pytest.fixture
def database_url() -> Iterator[str]:
    with throwaway_postgres("leader") as url:
        yield url


@pytest.fixture
async def replicas(database_url: str) -> AsyncIterator[ReplicaFactory]:
    """Make replicas (not started) on one migrated PostgreSQL database; all are closed at the
    end, before the database is dropped."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    await engine.dispose()
    made: list[Replica] = []

    def make() -> Replica:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        replica = Replica(Leadership.for_engine(engine, sessions), engine, sessions)
        made.append(replica)
        return replica

    try:
        yield make
    finally:
        for replica in made:
            await replica.leadership.close()
            await replica.engine.dispose()
