"""State intervals written from the event log, on both backends: a scripted sequence of status
changes with a change of leader in the middle comes out as exactly the intervals of the script
(nothing lost, nothing twice); a deleted camera's interval closes; a writer whose cursor the log
has trimmed past reconciles from the rows."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import select

from server.analytics.history.intervals import IntervalWriter
from server.db.models import NodeRow
from server.db.models.analytics import StateIntervalRow
from server.eventlog.table import trim
from server.leader.model import NotLeader
from server.nodes.live import NodeView
from server.nodes.registry import NodeChange
from tests.server.analytics.history_env import T0, Env, environment


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with environment(request.param, tmp_path) as made:
        yield made


async def intervals(env: Env, subject_id: str) -> list[tuple[str, float, float | None]]:
    """(state, start, end) in seconds after T0, oldest first."""
    async with env.sessions() as session:
        rows = await session.scalars(
            select(StateIntervalRow)
            .where(StateIntervalRow.subject_id == subject_id)
            .order_by(StateIntervalRow.start_time)
        )
        return [
            (
                r.state,
                (r.start_time - T0).total_seconds(),
                None if r.end_time is None else (r.end_time - T0).total_seconds(),
            )
            for r in rows
        ]


async def test_scripted_changes_across_a_leader_change(env: Env) -> None:
    first = IntervalWriter(env.sessions, env.leadership.fence)
    await first.catch_up()  # starts following before the camera exists
    camera = await env.camera("door")
    script = [(10, "connecting"), (12, "online"), (100, "offline"), (130, "online")]
    for at, status in script[:2]:
        env.clock.at(at)
        await env.set_status(camera, status)
    await first.catch_up()
    assert await intervals(env, camera) == [
        ("offline", 0, 10),
        ("connecting", 10, 12),
        ("online", 12, None),
    ]

    for at, status in script[2:]:
        env.clock.at(at)
        await env.set_status(camera, status)
    leader = await env.new_leader()
    with pytest.raises(NotLeader):  # the deposed leader's batch rolls back
        await first.step()
    second = IntervalWriter(env.sessions, leader.fence)
    await second.catch_up()
    await second.catch_up()  # again: nothing new, nothing twice
    expected = [
        ("offline", 0, 10),
        ("connecting", 10, 12),
        ("online", 12, 100),
        ("offline", 100, 130),
        ("online", 130, None),
    ]
    assert await intervals(env, camera) == expected

    env.clock.at(200)
    await env.delete_camera(camera)
    await second.catch_up()
    closed = await intervals(env, camera)
    assert closed[:-1] == expected[:-1]
    assert closed[-1][:2] == ("online", 130)
    assert closed[-1][2] is not None  # closed when it was deleted (the event's time)


async def test_a_trimmed_log_is_reconciled_from_the_rows(env: Env) -> None:
    writer = IntervalWriter(env.sessions, env.leadership.fence)
    camera = await env.camera("yard")
    await writer.catch_up()  # first run: from the rows
    assert await intervals(env, camera) == [("offline", 0, None)]
    env.clock.at(50)
    await env.set_status(camera, "online")
    env.clock.at(80)
    await env.set_status(camera, "error")
    # The log keeps only its newest events: those two are gone before the writer reads them.
    await trim(env.engine, await env.events.current_revision())
    env.clock.at(90)
    await env.camera("other")  # an event after the trimmed ones
    await writer.catch_up()
    # What the rows still say: error since 80 (the online stretch between is not known).
    assert await intervals(env, camera) == [("offline", 0, 80), ("error", 80, None)]


async def test_node_states_become_intervals(env: Env) -> None:
    writer = IntervalWriter(env.sessions, env.leadership.fence)
    node = await env.node("n1")
    await writer.catch_up()
    assert [s for s, _, _ in await intervals(env, node)] == ["ready"]
    # A node's state changes stage a node event (the registry's path).
    for state in ("lost", "ready", "offline"):
        async with env.sessions.begin() as session:
            row = await session.get_one(NodeRow, node)
            row.state = state
            await session.flush()
            env.publisher.node_changed(session, NodeChange.STATE_CHANGED, NodeView(row, None), "")
    await writer.catch_up()
    got = await intervals(env, node)
    assert [s for s, _, _ in got] == ["ready", "lost", "ready", "offline"]
    for (_, _, end), (_, start, _) in itertools.pairwise(got):
        assert end == start  # each closes where the next begins
    assert got[-1][2] is None
