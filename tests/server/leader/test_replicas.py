"""Two control-plane processes (`python -m server`, as operators run them) on one PostgreSQL
database and Redis: exactly one leads; kill -9 of the leader or a clean stop of it, and the other
leads, under the next epoch. The times are printed (bench/bench_failover.py measures them over
trials); the assertions allow generous timeouts only."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
import pytest
from camfleet.v1 import auth_pb2, auth_pb2_grpc, node_pb2, node_pb2_grpc

from harness.control_plane import server_env, start_control_plane, wait_serving
from harness.databases import PG_ADMIN_DSN, throwaway_postgres, throwaway_redis_prefix
from harness.ports import LOOPBACK, free_port
from harness.processes import Child
from server.leader.advisory import LOCK_KEY
from tests.support.platform import ADMIN_PASSWORD, Metadata, bearer

# The target is 5 s; these only catch a takeover that does not happen.
TAKEOVER_WITHIN_S = 30.0


@dataclass
class Replica:
    """A control-plane process with a logged-in channel."""

    child: Child
    channel: grpc.aio.Channel
    admin: Metadata

    async def leader(self) -> node_pb2.GetLeaderResponse:
        stub = node_pb2_grpc.NodeServiceStub(self.channel)
        reply: node_pb2.GetLeaderResponse = await stub.GetLeader(
            node_pb2.GetLeaderRequest(), metadata=self.admin, timeout=5
        )
        return reply


def pid_of(replica_id: str) -> int:
    """The process id in a replica id (host:pid:random)."""
    return int(replica_id.split(":")[1])


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    with throwaway_postgres("replicas") as url, throwaway_redis_prefix("replicas") as prefix:
        yield url, prefix


@asynccontextmanager
async def replicas(
    tmp_path: Path, database: tuple[str, str], count: int
) -> AsyncIterator[list[Replica]]:
    """`count` control planes on one database, started one after the other (the first
    migrates); every process ended by PID at the end, also on failure."""
    url, prefix = database
    started: list[Replica] = []
    async with AsyncExitStack() as stack:
        try:
            for i in range(count):
                port = free_port()
                env = server_env(tmp_path / f"cp{i}", port, ADMIN_PASSWORD, url, prefix)
                child = start_control_plane(env, tmp_path / f"cp{i}.log")
                target = f"{LOOPBACK}:{port}"
                channel = grpc.aio.insecure_channel(target)
                stack.push_async_callback(channel.close)
                replica = Replica(child, channel, ())
                started.append(replica)
                await wait_serving(target, child)
                login = await auth_pb2_grpc.AuthServiceStub(channel).Login(
                    auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD)
                )
                replica.admin = bearer(login.tokens.access_token)
            yield started
        finally:
            for replica in started:
                replica.child.stop(grace_s=15)


def lock_holders(database_url: str) -> list[str]:
    """application_name of every session holding the leadership lock on the database."""
    name = database_url.rsplit("/", 1)[-1]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = %s"
            # A bigint key is held as classid (high 32 bits), objid (low 32 bits), objsubid 1.
            " AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            (name, LOCK_KEY),
        ).fetchall()
    return [r[0] for r in rows]


async def one_leader(pair: list[Replica]) -> tuple[Replica, Replica, node_pb2.GetLeaderResponse]:
    """(leader, follower, GetLeader's answer) once both replicas name the same leader."""
    answers = [await r.leader() for r in pair]
    assert answers[0] == answers[1], answers
    leading = [r for r in pair if r.child.pid == pid_of(answers[0].replica_id)]
    assert len(leading) == 1, f"{answers[0].replica_id} is neither replica"
    leader = leading[0]
    follower = pair[1] if leader is pair[0] else pair[0]
    return leader, follower, answers[0]


async def led_by(replica: Replica, since: float) -> tuple[float, node_pb2.GetLeaderResponse]:
    """Seconds from `since` until `replica` answers that it leads itself."""
    while True:
        answer = await replica.leader()
        if answer.replica_id and pid_of(answer.replica_id) == replica.child.pid:
            return time.monotonic() - since, answer
        assert time.monotonic() - since < TAKEOVER_WITHIN_S, f"still led by {answer.replica_id}"
        replica.child.check_alive()
        await asyncio.sleep(0.02)


async def logged(log: Path, text: str) -> None:
    """Wait until the process log holds `text` (fails after TAKEOVER_WITHIN_S)."""
    deadline = time.monotonic() + TAKEOVER_WITHIN_S
    while text not in await asyncio.to_thread(log.read_text, errors="replace"):
        assert time.monotonic() < deadline, f"{log.name} never said {text!r}"
        await asyncio.sleep(0.1)


async def test_exactly_one_of_two_replicas_leads_and_kill_9_moves_leadership(
    tmp_path: Path, database: tuple[str, str]
) -> None:
    async with replicas(tmp_path, database, 2) as pair:
        leader, follower, before = await one_leader(pair)
        assert before.epoch >= 1 and before.since.seconds > 0
        holders = lock_holders(database[0])
        assert holders == [f"camfleet leader {before.replica_id}"[:63]], holders
        killed = time.monotonic()
        leader.child.kill()
        took, after = await led_by(follower, killed)
        print(f"kill -9 of the leader: the other replica led after {took:.2f} s")
        assert after.epoch == before.epoch + 1
        assert after.since.ToDatetime() > before.since.ToDatetime()
        assert lock_holders(database[0]) == [f"camfleet leader {after.replica_id}"[:63]]


async def test_a_clean_stop_of_the_leader_hands_over_at_once(
    tmp_path: Path, database: tuple[str, str]
) -> None:
    async with replicas(tmp_path, database, 2) as pair:
        leader, follower, before = await one_leader(pair)
        stopped = time.monotonic()
        leader.child.proc.send_signal(signal.SIGTERM)
        took, after = await led_by(follower, stopped)
        print(f"clean stop of the leader: the other replica led after {took * 1000:.0f} ms")
        assert after.epoch == before.epoch + 1
        # At once: well before the stopping process has even finished its shutdown grace.
        assert took < 5.0


async def test_a_stalled_leader_is_deposed_and_does_not_lead_when_it_resumes(
    tmp_path: Path, database: tuple[str, str]
) -> None:
    """SIGSTOP stands for a leader cut off from the database without a socket close (a hung
    host, a partition): PostgreSQL ends its idle lock session after IDLE_SESSION_TIMEOUT, the
    other replica leads, and the stalled one, resumed, finds it lost and follows."""
    async with replicas(tmp_path, database, 2) as pair:
        leader, follower, before = await one_leader(pair)
        stalled = time.monotonic()
        leader.child.proc.send_signal(signal.SIGSTOP)
        try:
            took, after = await led_by(follower, stalled)
        finally:
            leader.child.proc.send_signal(signal.SIGCONT)
        print(f"stalled leader: the other replica led after {took:.1f} s")
        assert after.epoch == before.epoch + 1
        resumed = await leader.leader()  # the resumed replica answers, and names the new leader
        assert (resumed.replica_id, resumed.epoch) == (after.replica_id, after.epoch)
        await logged(tmp_path / f"cp{pair.index(leader)}.log", "stopped leading the fleet")
        assert lock_holders(database[0]) == [f"camfleet leader {after.replica_id}"[:63]]
