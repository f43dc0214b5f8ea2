"""GetLeader on either backend (the replica id, epoch and since of the leader row), and the
embedded mode: one process on SQLite always leads, and each start of it is a new epoch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from camfleet.v1 import node_pb2
from sqlalchemy import func, select

from harness.databases import PG_ADMIN_DSN
from server.config import sqlite_url
from server.db.engine import create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import PlacementRow
from server.leader.leadership import Leadership
from server.leader.model import NotLeader
from tests.support.platform import Platform


async def test_get_leader_answers_this_replica_its_epoch_and_since(platform: Platform) -> None:
    leadership = platform.plane.leadership
    # The only replica on its database, or embedded; another test's replica that shared the
    # database may have led until it stopped a moment ago.
    try:
        async with asyncio.timeout(10):
            await leadership.wait_leading()
    except TimeoutError:
        pytest.fail(f"the plane does not lead: {await why_not_leading(platform)}")
    reply = await platform.nodes.GetLeader(node_pb2.GetLeaderRequest(), metadata=platform.admin)
    assert reply.replica_id == leadership.replica_id
    host, pid, _ = reply.replica_id.split(":")
    assert host and int(pid) > 0
    assert reply.epoch == leadership.epoch >= 1
    since = reply.since.ToDatetime(tzinfo=UTC)
    assert since <= datetime.now(UTC) and since > datetime.now(UTC) - timedelta(hours=1)
    assert "node-sweeper" in leadership.running_jobs


async def why_not_leading(platform: Platform) -> str:
    """What a failure should show: the stored leader row, and on PostgreSQL how full the server
    is (a refused connection keeps a replica out of the election)."""
    said = f"stored leader {await platform.plane.leadership.current()}"
    if platform.backend == "postgres":
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*), current_setting('max_connections') FROM pg_stat_activity"
            ).fetchone()
        said += f"; {row[0]} of {row[1]} connections in use" if row else ""
    return said


async def test_embedded_always_leads_and_each_start_is_a_new_epoch(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()
        await asyncio.Event().wait()

    try:
        for start in (1, 2):
            leadership = Leadership.for_engine(engine, sessions)
            leadership.run_while_leader({"sweeper": job})
            await leadership.start()
            try:
                assert leadership.is_leader and leadership.epoch == start
                async with asyncio.timeout(10):
                    await ran.wait()
                async with sessions.begin() as session:
                    epoch = await leadership.fence(session)
                    session.add(PlacementRow(camera_id=f"c{start}", reason="placed", epoch=epoch))
                stored = await leadership.current()
                assert (stored.replica_id, stored.epoch) == (leadership.replica_id, start)
            finally:
                await leadership.close()
            ran.clear()
            assert not leadership.is_leader and leadership.running_jobs == []
            assert (await leadership.current()).replica_id == ""  # nobody leads once stopped
    finally:
        await engine.dispose()


async def test_two_processes_on_one_sqlite_file_the_newest_start_leads(tmp_path: Path) -> None:
    """A misconfiguration (embedded mode is one process), yet nothing runs twice for long: the
    later start claims a newer epoch; the earlier one's fenced write fails, and it stops its
    jobs."""
    engine = create_engine(sqlite_url(tmp_path))
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    running: set[str] = set()
    ended = asyncio.Event()

    def job_of(leadership: Leadership) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            running.add(leadership.replica_id)
            try:
                await asyncio.Event().wait()
            finally:
                running.discard(leadership.replica_id)
                ended.set()

        return run

    first = Leadership.for_engine(engine, sessions)
    second = Leadership.for_engine(engine, sessions)
    try:
        for leadership in (first, second):
            leadership.run_while_leader({"sweeper": job_of(leadership)})
            await leadership.start()
        assert (first.epoch, second.epoch) == (1, 2)
        with pytest.raises(NotLeader, match="it holds epoch 1, the current epoch is 2"):
            async with sessions.begin() as session:
                await first.fence(session)
                session.add(PlacementRow(camera_id="c-old", reason="placed", epoch=1))
        assert not first.is_leader
        async with asyncio.timeout(10):
            await ended.wait()
        assert running == {second.replica_id}
        async with sessions() as session:
            written = await session.scalar(
                select(func.count()).where(PlacementRow.camera_id == "c-old")
            )
        assert written == 0
    finally:
        await first.close()
        await second.close()
        await engine.dispose()
