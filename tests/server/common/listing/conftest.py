"""The listing tests' databases: the items of items.py on SQLite and on PostgreSQL, seeded once
for the package (the tests only read them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from harness.databases import throwaway_postgres
from tests.server.common.listing.items import Base, seed_items, seed_labels


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session, session.begin():
        # Items first: PostgreSQL enforces the labels' foreign key.
        session.add_all(seed_items())
        await session.flush()
        session.add_all(seed_labels())


@pytest.fixture(
    scope="package", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the seeded items: every query test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("listing") / "listing.sqlite"
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        await _seed(engine)
        yield async_sessionmaker(engine, expire_on_commit=False)
        await engine.dispose()
        return
    with throwaway_postgres() as url:
        engine = create_async_engine(url)
        try:
            await _seed(engine)
            yield async_sessionmaker(engine, expire_on_commit=False)
        finally:
            await engine.dispose()


@pytest.fixture(scope="package")
def sync_sqlite() -> Iterator[Engine]:
    """The seeded items in an in-memory SQLite, for fuzz tests that run every compiled filter."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add_all(seed_items())
        session.flush()
        session.add_all(seed_labels())
    yield engine
    engine.dispose()
