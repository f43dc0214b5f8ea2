"""Leader election on a real PostgreSQL database, replicas in this process (each with its own
engine and its own lock connection): one leads and runs the singleton jobs, a clean stop or a
lost lock session hands over at once, and a deposed leader's fenced write fails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import psycopg
import pytest
from sqlalchemy import func, select

from harness.databases import PG_ADMIN_DSN
from server.db.models import PlacementRow
from server.leader import row
from server.leader.leadership import Leadership
from server.leader.model import NotLeader
from tests.server.leader.conftest import Replica, ReplicaFactory

# Generous: the design takes about a POLL_S (0.5 s) after a lost session, milliseconds after a
# clean stop; a loaded shared machine must not fail the tests.
HANDOVER_WITHIN_S = 10.0


class Jobs:
    """A singleton job per replica that records where it runs right now."""

    def __init__(self) -> None:
        self.running: set[str] = set()

    def job_for(self, leadership: Leadership) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.running.add(leadership.replica_id)
            try:
                await asyncio.Event().wait()
            finally:
                self.running.discard(leadership.replica_id)

        return run

    def register(self, *replicas: Replica) -> None:
        for r in replicas:
            r.leadership.run_while_leader({"sweeper": self.job_for(r.leadership)})


async def until(condition: Callable[[], bool], within_s: float = HANDOVER_WITHIN_S) -> float:
    """Seconds until `condition` held (polled every 5 ms); fails after `within_s`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within_s, f"not within {within_s} s"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def place(replica: Replica, camera_id: str) -> None:
    """A leader-only write, fenced as the scheduler's are: a placement record."""
    async with replica.sessions.begin() as session:
        epoch = await replica.leadership.fence(session)
        session.add(
            PlacementRow(camera_id=camera_id, to_node_id="n1", reason="placed", epoch=epoch)
        )


async def placements(replica: Replica, camera_id: str) -> int:
    async with replica.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(PlacementRow)
            .where(PlacementRow.camera_id == camera_id)
        )
    return int(count or 0)


def terminate_lock_session(database_url: str, replica_id: str) -> None:
    """End the replica's lock connection from the server side, as a network cut or a database
    restart would (the replica's process lives on)."""
    name = database_url.rsplit("/", 1)[-1]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        ended = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            (name, f"camfleet leader {replica_id}"[:63]),
        ).fetchall()
    assert ended == [(True,)]


async def test_one_of_two_replicas_leads_and_only_it_runs_the_singleton_jobs(
    replicas: ReplicaFactory,
) -> None:
    a, b = replicas(), replicas()
    jobs = Jobs()
    jobs.register(a, b)
    await a.leadership.start()
    await b.leadership.start()
    assert [a.leadership.is_leader, b.leadership.is_leader] == [True, False]
    await until(lambda: jobs.running == {a.leadership.replica_id})
    stored = await b.leadership.current()
    assert (stored.replica_id, stored.epoch) == (a.leadership.replica_id, 1)
    assert b.leadership.running_jobs == []
    # The follower keeps trying and keeps failing while the leader is there.
    await asyncio.sleep(1.2)  # two of its tries; the assertion is about state, not time
    assert [a.leadership.is_leader, b.leadership.is_leader] == [True, False]
    assert jobs.running == {a.leadership.replica_id}


async def test_a_clean_stop_hands_leadership_over_at_once(replicas: ReplicaFactory) -> None:
    a, b = replicas(), replicas()
    jobs = Jobs()
    jobs.register(a, b)
    await a.leadership.start()
    await b.leadership.start()
    assert a.leadership.is_leader
    stopped = time.monotonic()
    await a.leadership.close()
    await until(lambda: b.leadership.is_leader)
    took = time.monotonic() - stopped
    print(f"clean stop: the other replica led {took * 1000:.0f} ms after close() began")
    assert b.leadership.epoch == 2
    await until(lambda: jobs.running == {b.leadership.replica_id})
    stored = await b.leadership.current()
    assert (stored.replica_id, stored.epoch) == (b.leadership.replica_id, 2)
    # Nobody is recorded as leading between the stop and the takeover: never the stopped one.
    assert stored.replica_id != a.leadership.replica_id


async def test_a_leader_whose_lock_session_ends_stops_at_once_and_another_leads(
    replicas: ReplicaFactory, database_url: str
) -> None:
    a, b = replicas(), replicas()
    jobs = Jobs()
    jobs.register(a, b)
    await a.leadership.start()
    await b.leadership.start()
    cut = time.monotonic()
    terminate_lock_session(database_url, a.leadership.replica_id)
    await until(lambda: not a.leadership.is_leader)
    await until(lambda: b.leadership.is_leader)
    print(f"lock session ended: the other replica led after {time.monotonic() - cut:.2f} s")
    await until(lambda: jobs.running == {b.leadership.replica_id})
    assert b.leadership.epoch == 2
    with pytest.raises(NotLeader, match="does not lead the fleet"):
        await place(a, "cam-after-cut")
    assert await placements(b, "cam-after-cut") == 0
    # The old leader rejoins the election as a follower: its new session cannot take the lock.
    await asyncio.sleep(1.2)  # two of its tries
    assert [a.leadership.is_leader, b.leadership.is_leader] == [False, True]


async def test_a_deposed_leaders_fenced_write_fails_and_it_steps_down(
    replicas: ReplicaFactory,
) -> None:
    a, b = replicas(), replicas()
    jobs = Jobs()
    jobs.register(a, b)
    await a.leadership.start()
    await b.leadership.start()
    await place(a, "cam-1")
    assert await placements(a, "cam-1") == 1
    # A leader that does not know it was deposed (stalled while its session was ended and
    # another replica claimed): the row holds a newer epoch than the one it leads under.
    newer = await row.claim(b.sessions, "elsewhere:1:abcdef")
    assert newer.epoch == a.leadership.epoch + 1
    assert a.leadership.is_leader
    with pytest.raises(NotLeader) as refused:
        await place(a, "cam-2")
    assert f"it holds epoch 1, the current epoch is {newer.epoch}" in str(refused.value)
    assert await placements(a, "cam-2") == 0  # rolled back
    assert not a.leadership.is_leader  # at once, before any poll
    # The election goes on (nobody holds the lock in this test, so either may win it): one
    # replica leads under a newer epoch still, runs the jobs and its fenced writes succeed.
    await until(lambda: a.leadership.is_leader or b.leadership.is_leader)
    leader = a if a.leadership.is_leader else b
    assert leader.leadership.epoch == newer.epoch + 1
    await until(lambda: jobs.running == {leader.leadership.replica_id})
    await place(leader, "cam-2")
    assert await placements(leader, "cam-2") == 1


async def test_a_new_leaders_claim_waits_for_the_old_leaders_open_fenced_write(
    replicas: ReplicaFactory, database_url: str
) -> None:
    a, b = replicas(), replicas()
    await a.leadership.start()
    await b.leadership.start()
    async with a.sessions.begin() as session:
        assert await a.leadership.fence(session) == 1
        session.add(PlacementRow(camera_id="cam-open", to_node_id="n1", reason="placed", epoch=1))
        await session.flush()
        # A loses its lock while this write is open; B wins the lock and must wait to claim.
        terminate_lock_session(database_url, a.leadership.replica_id)
        await until(lambda: waiting_on_the_leader_row(database_url) > 0)
        assert not b.leadership.is_leader
    # Committed under epoch 1 (before the new epoch existed); only then B leads under epoch 2.
    assert await placements(b, "cam-open") == 1
    await until(lambda: b.leadership.is_leader)
    assert b.leadership.epoch == 2
    with pytest.raises(NotLeader):
        await place(a, "cam-late")


def waiting_on_the_leader_row(database_url: str) -> int:
    """Backends of the database blocked on a lock while updating the leader row."""
    name = database_url.rsplit("/", 1)[-1]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND wait_event_type = 'Lock' AND query ILIKE '%%leader%%'",
            (name,),
        ).fetchone()
    return int(found[0]) if found else 0
