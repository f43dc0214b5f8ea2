"""A process that stalls inside a transaction (a hung host, SIGSTOP, a partition without a
reset) does not hold its locks forever on PostgreSQL: the server ends its session after
IDLE_IN_TRANSACTION_MS without a statement, the next writer gets the row, and the stalled
transaction's next statement fails instead of committing late. Before, a stalled leader's
fenced write (the leader row FOR SHARE) kept the next leader's claim waiting for good (CI:
test_replicas' stalled leader, "still led by" the stopped replica after 30 s). A database URL's
own session options are kept beside the timeout."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from harness.databases import throwaway_postgres
from server.db.engine import IDLE_IN_TRANSACTION_MS, create_engine

pytestmark = pytest.mark.postgres

# The row locked, and when by the server's clock.
_SHARE_AT = "SELECT clock_timestamp() FROM leader FOR SHARE"


async def test_a_transaction_left_idle_loses_its_locks_to_the_next_writer() -> None:
    with throwaway_postgres("stalled") as url:
        engine = create_engine(url, pool_size=2)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE leader (name text PRIMARY KEY, epoch int)"))
                await conn.execute(text("INSERT INTO leader VALUES ('fleet', 1)"))
            stalled = await engine.connect()
            held = await stalled.begin()
            # The server's clock, not this process's: a loaded machine that resumes this test
            # seconds late must not shorten the wait it measures (CI: 10.3 s by time.monotonic).
            held_at = (await stalled.execute(text(_SHARE_AT))).scalar()
            # Nothing more from this one: its process has stopped.
            async with engine.begin() as claim:
                await claim.execute(text("SET LOCAL lock_timeout = '60s'"))
                await claim.execute(text("SELECT epoch FROM leader FOR UPDATE"))
                await claim.execute(text("UPDATE leader SET epoch = 2"))
                got_at = (await claim.execute(text("SELECT clock_timestamp()"))).scalar()
            waited = (got_at - held_at).total_seconds()
            assert IDLE_IN_TRANSACTION_MS / 1000 - 1 < waited < IDLE_IN_TRANSACTION_MS / 1000 + 20
            # Resumed, the stalled transaction finds its session gone: nothing commits late.
            with pytest.raises(DBAPIError, match=r"idle-in-transaction timeout|closed"):
                await stalled.execute(text("UPDATE leader SET epoch = 1"))
            with contextlib.suppress(DBAPIError):
                await held.rollback()
            await stalled.close()
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT epoch FROM leader"))).scalar() == 2
        finally:
            await engine.dispose()


async def test_the_urls_own_session_options_are_kept_beside_the_timeout() -> None:
    with throwaway_postgres("options") as url:
        engine = create_engine(f"{url}?options=-c%20search_path%3Dcams,public", pool_size=1)
        try:
            async with engine.connect() as conn:
                shown = [
                    (await conn.execute(text(f"SHOW {name}"))).scalar()
                    for name in ("search_path", "idle_in_transaction_session_timeout")
                ]
            assert shown == ["cams,public", f"{IDLE_IN_TRANSACTION_MS // 1000}s"]
        finally:
            await engine.dispose()
