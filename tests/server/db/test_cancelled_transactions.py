"""A write transaction cancelled while its statement runs (a leader job stopped at step-down)
leaves no lock behind: the next writer gets on at once, and the cancelled change is gone.

On SQLite the statement runs on in aiosqlite's thread after the task was cancelled; SQLAlchemy
then closes the connection with that statement's cursor still open, which Python's sqlite3 used
to leave as a zombie holding the write lock for as long as the cancelled task was referenced
(CI: "database is locked" in the delivery worker's test). The test holds on to the task, as a
leader stepping down does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from harness.databases import throwaway_postgres
from server.db.engine import Sessions, create_engine, session_factory

# Far under busy_timeout (30 s): a lock left behind fails the test instead of being waited out.
NEXT_WRITER_S = 10.0


class Statement:
    """A statement that keeps running until the test lets it finish, on either backend."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.running = threading.Event()
        self.release = threading.Event()
        if engine.dialect.name == "sqlite":
            # hold(x) blocks the first row until release: the statement is mid-step, on
            # aiosqlite's thread, when the cancellation comes.
            event.listen(engine.sync_engine, "connect", self._register)
            self.sql = "SELECT hold(id) FROM marks"
        else:
            self.sql = "SELECT pg_sleep(1), id FROM marks"

    def _register(self, dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.create_function("hold", 1, self._hold)

    def _hold(self, value: int) -> int:
        self.running.set()
        self.release.wait(30)
        return value

    async def started(self, sessions: Sessions, task: asyncio.Task[None]) -> None:
        """Return once the statement is running in `task` (raise what `task` ended with)."""
        for _ in range(200):
            if task.done():
                task.result()
                raise AssertionError("the transaction ended before its statement ran")
            if await self._running(sessions):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the statement never started")

    async def _running(self, sessions: Sessions) -> bool:
        if self.engine.dialect.name == "sqlite":
            return self.running.is_set()
        async with sessions() as session:
            active = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'active' AND query LIKE 'SELECT pg_sleep(1)%'"
                )
            )
        return bool(active)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}", pool_size=4)
        try:
            yield made
        finally:
            await made.dispose()
        return
    with throwaway_postgres("cancel") as url:
        made = create_engine(url, pool_size=4)
        try:
            yield made
        finally:
            await made.dispose()


async def marks(sessions: Sessions) -> list[int]:
    async with sessions() as session:
        return list((await session.scalars(text("SELECT v FROM marks ORDER BY id"))).all())


async def test_a_transaction_cancelled_mid_statement_leaves_no_lock(engine: AsyncEngine) -> None:
    statement = Statement(engine)  # before the first connection: it registers hold()
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE marks (id INTEGER PRIMARY KEY, v INTEGER)"))
        await conn.execute(text("INSERT INTO marks (id, v) VALUES (1, 0), (2, 0), (3, 0)"))
    sessions = session_factory(engine)

    async def change_then_read() -> None:
        async with sessions.begin() as session:
            await session.execute(text("UPDATE marks SET v = v + 1"))  # takes the write lock
            await session.execute(text(statement.sql))

    cancelled = asyncio.create_task(change_then_read())
    await statement.started(sessions, cancelled)
    cancelled.cancel()
    statement.release.set()
    done, _ = await asyncio.wait({cancelled}, timeout=10)
    assert done == {cancelled} and cancelled.cancelled()

    # The next writer (still holding the cancelled task) is not kept waiting.
    async with asyncio.timeout(NEXT_WRITER_S):
        async with sessions.begin() as session:
            await session.execute(text("UPDATE marks SET v = v + 10"))
    assert await marks(sessions) == [10, 10, 10]  # the cancelled change was rolled back
    assert cancelled.cancelled()
