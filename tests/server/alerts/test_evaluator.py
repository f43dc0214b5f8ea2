"""The evaluator (server/alerts/evaluator.py) on both backends, with a clock the test moves:
pending -> firing after `for`, resolved when the condition clears (after keep_firing_for),
every change staged as ALERT_CHANGED and told to routing in its transaction, fenced leader
writes, rows written only on change, set-based queries (their number does not grow with the
fleet), and the preview that stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from server.alerts.evaluate_state import Move
from server.alerts.model import AlertState, CameraOffline, Rule, Severity
from server.common.listing import ListRequest
from server.db.models import AlertRow
from server.errors import InvalidArgument
from server.leader.leadership import Leadership
from server.leader.model import NotLeader
from tests.server.alerts.evaluator_fixtures import Env, environment


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with environment(request.param, tmp_path) as e:
        yield e


def offline(name: str = "Camera offline", **kw: Any) -> Rule:
    return Rule(id="", name=name, condition=CameraOffline(), **kw)


@contextmanager
def counted_statements(env: Env) -> Iterator[list[str]]:
    """The SQL statements run inside the block by this task and the tasks it starts (SQLAlchemy
    commits in a shielded task of its own), not by the tasks already running beside it: the
    event relay's polls and the leadership's campaign (CI: a ninth statement in a round)."""
    seen: list[str] = []
    beside = asyncio.all_tasks() - {asyncio.current_task()}

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if asyncio.current_task() not in beside:
            seen.append(statement)

    event.listen(env.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(env.engine.sync_engine, "before_cursor_execute", note)


async def states(env: Env) -> dict[str, str]:
    """camera name -> its alert's state (the newest alert per camera)."""
    page = await env.alerts().list(ListRequest(page_size=1000, order_by="active_time"))
    return {a.labels["camera_name"]: a.state.value for a in page.items}


async def test_pending_then_firing_then_resolved(env: Env) -> None:
    evaluator = env.evaluator()
    node = await env.node("edge-1", site="north")
    cam = await env.camera("Lobby", node_id=node, floor="1", site="north")
    await env.camera("Yard", node_id=node)
    rule = await env.rules(evaluator).create(
        offline(for_s=60, severity=Severity.CRITICAL, labels={"team": "ops"})
    )
    await evaluator.evaluate_once(env.clock.now)
    assert await states(env) == {}

    env.clock.advance(10)
    went_dark = env.clock.now
    await env.set_status([cam], "offline", "not publishing")
    await evaluator.evaluate_once(env.clock.advance(1))
    (alert,) = (await env.alerts().list(ListRequest())).items
    assert alert.state is AlertState.PENDING
    assert alert.active_time == went_dark  # counted from the status change, not the round
    assert alert.labels == {
        "camera": cam,
        "camera_name": "Lobby",
        "node": node,
        "node_name": "edge-1",
        "site": "north",
        "floor": "1",
        "team": "ops",
        "rule": "Camera offline",
        "severity": "critical",
    }
    assert alert.rule_id == rule.id and alert.severity is Severity.CRITICAL
    assert alert.summary.startswith("camera Lobby has been offline for")

    await evaluator.evaluate_once(env.clock.advance(30))  # 31 s: still pending
    assert (await env.alerts().get(alert.id)).state is AlertState.PENDING
    await evaluator.evaluate_once(env.clock.advance(30))  # 61 s: firing
    fired = await env.alerts().get(alert.id)
    assert fired.state is AlertState.FIRING and fired.firing_time == env.clock.now

    await env.set_status([cam], "online")
    await evaluator.evaluate_once(env.clock.advance(1))
    done = await env.alerts().get(alert.id)
    assert done.state is AlertState.RESOLVED and done.resolved_time == env.clock.now
    assert env.routed == [
        (alert.id, None, AlertState.PENDING),
        (alert.id, AlertState.PENDING, AlertState.FIRING),
        (alert.id, AlertState.FIRING, AlertState.RESOLVED),
    ]
    assert await env.alert_events() == [f"alerts/{alert.id}"] * 3

    # Offline again: a new alert (the resolved one stays as history), same fingerprint.
    await env.set_status([cam], "offline")
    await evaluator.evaluate_once(env.clock.advance(1))
    page = await env.alerts().list(ListRequest(order_by="active_time"))
    assert [a.state for a in page.items] == [AlertState.RESOLVED, AlertState.PENDING]
    assert page.items[0].fingerprint == page.items[1].fingerprint


async def test_for_zero_fires_at_once_and_long_offline_cameras_fire_on_creation(env: Env) -> None:
    evaluator = env.evaluator()
    await env.camera("Old", status="offline", since=env.clock.now)
    env.clock.advance(3600)
    await env.rules(evaluator).create(offline("Slow", for_s=300))
    await env.rules(evaluator).create(offline("Fast"))
    await evaluator.evaluate_once(env.clock.now)
    page = await env.alerts().list(ListRequest())
    assert {(a.rule_name, a.state) for a in page.items} == {
        ("Slow", AlertState.FIRING),  # offline for an hour already: no pending period left
        ("Fast", AlertState.FIRING),
    }
    assert {p for _, p, _ in env.routed} == {None}


async def test_keep_firing_for_rides_out_flapping(env: Env) -> None:
    evaluator = env.evaluator()
    cam = await env.camera("Gate", status="offline")
    await env.rules(evaluator).create(offline(keep_firing_s=120))
    await evaluator.evaluate_once(env.clock.advance(1))
    (alert,) = (await env.alerts().list(ListRequest())).items
    assert alert.state is AlertState.FIRING

    await env.set_status([cam], "online")
    await evaluator.evaluate_once(env.clock.advance(60))
    assert (await env.alerts().get(alert.id)).state is AlertState.FIRING
    await env.set_status([cam], "offline")  # back within keep_firing_for: the same alert
    await evaluator.evaluate_once(env.clock.advance(30))
    await env.set_status([cam], "online")
    cleared_after = env.clock.now
    await evaluator.evaluate_once(env.clock.advance(100))  # 100 s after it last held
    assert (await env.alerts().get(alert.id)).state is AlertState.FIRING
    await evaluator.evaluate_once(env.clock.advance(21))
    done = await env.alerts().get(alert.id)
    assert done.state is AlertState.RESOLVED
    assert done.last_true_time == cleared_after
    assert (await env.alerts().list(ListRequest())).total_size == 1


async def test_a_pending_alert_that_clears_resolves_without_firing(env: Env) -> None:
    evaluator = env.evaluator()
    cam = await env.camera("Dock", status="offline")
    await env.rules(evaluator).create(offline(for_s=60))
    await evaluator.evaluate_once(env.clock.advance(1))
    await env.set_status([cam], "online")
    await evaluator.evaluate_once(env.clock.advance(10))
    (alert,) = (await env.alerts().list(ListRequest())).items
    assert alert.state is AlertState.RESOLVED and alert.firing_time is None
    assert [s for _, _, s in env.routed] == [AlertState.PENDING, AlertState.RESOLVED]


async def test_a_replica_that_does_not_lead_writes_nothing(env: Env) -> None:
    follower = Leadership(env.sessions, lock_url=None)  # never started: not the leader
    evaluator = env.evaluator()
    await env.camera("Hall", status="offline")
    await env.rules(evaluator).create(offline())
    fenced = env.evaluator()
    fenced._fence = follower.fence
    with pytest.raises(NotLeader):
        await fenced.evaluate_once(env.clock.advance(1))
    assert (await env.alerts().list(ListRequest())).total_size == 0
    assert env.routed == [] and await env.alert_events() == []


async def test_set_based_rounds_write_only_changes(env: Env) -> None:
    """600 cameras, 100 go offline and back: each round runs the same handful of statements
    whatever the fleet's size, and a round where nothing changed writes nothing."""
    evaluator = env.evaluator()
    node = await env.node("edge-9")
    cams = [await env.camera(f"cam-{i:04d}", node_id=node, site="west") for i in range(600)]
    await env.rules(evaluator).create(offline(match_labels={"site": "west"}))
    await evaluator.evaluate_once(env.clock.advance(1))

    await env.set_status(cams[:100], "offline")
    with counted_statements(env) as opening:
        await evaluator.evaluate_once(env.clock.advance(1))
    assert evaluator.last_round.opened == 100 and evaluator.last_round.fired == 100
    reads = [s for s in opening if s.lstrip().upper().startswith("SELECT")]
    assert any(s.lstrip().startswith("INSERT INTO alerts") for s in opening), opening
    assert len(reads) <= 8, reads  # rules, open alerts, the fence, the cameras, their labels

    with counted_statements(env) as quiet:
        await evaluator.evaluate_once(env.clock.advance(1))
    writes = [s for s in quiet if not s.lstrip().upper().startswith(("SELECT", "BEGIN"))]
    assert [w for w in writes if "alerts" in w] == []
    assert len(quiet) <= 8, quiet
    async with env.sessions() as session:
        updated = await session.scalar(select(func.max(AlertRow.update_time)))
    assert updated == env.clock.now - timedelta(seconds=1)  # the opening round's

    await env.set_status(cams[:100], "online")
    await evaluator.evaluate_once(env.clock.advance(1))
    assert evaluator.last_round.resolved == 100
    assert (await env.alerts().list(ListRequest(filter="state = RESOLVED"))).total_size == 100
    assert len(await env.alert_events()) == 200


async def test_preview_says_what_would_fire_and_stores_nothing(env: Env) -> None:
    evaluator = env.evaluator()
    await env.camera("A", status="offline", site="north")
    env.clock.advance(120)
    await env.camera("B", status="offline", site="north")
    await env.camera("C", status="online", site="north")
    await env.camera("D", status="offline", site="south")
    preview = await evaluator.preview(
        offline(name="", for_s=60, match_labels={"site": "north"}), env.clock.now
    )
    got = {p.finding.labels["camera_name"]: p.state for p in preview.alerts}
    assert got == {"A": AlertState.FIRING, "B": AlertState.PENDING}
    assert preview.evaluated == 3  # the active cameras of site north
    assert all(p.finding.labels["rule"] == "preview" for p in preview.alerts)
    async with env.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AlertRow)) == 0
    with pytest.raises(InvalidArgument, match=r"rule\.for: must not be negative"):
        await evaluator.preview(offline(for_s=-1))


async def test_the_job_runs_rounds_until_cancelled(env: Env) -> None:
    evaluator = env.evaluator(tick_s=0.1)
    await env.camera("Roof", status="offline")
    await env.rules(evaluator).create(offline())
    job = asyncio.create_task(evaluator.run())
    try:
        async with asyncio.timeout(30):
            while (await env.alerts().list(ListRequest())).total_size == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
    (alert,) = (await env.alerts().list(ListRequest())).items
    assert alert.state is AlertState.FIRING


async def test_a_change_that_raced_another_writes_nothing(env: Env) -> None:
    """A move guarded by the state it was read in: an alert changed meanwhile (here resolved by
    its rule's deletion) is neither written nor told again; an alert left open by a round that
    raced a deletion is resolved by the next round."""
    evaluator = env.evaluator()
    await env.camera("Stair", status="offline")
    rule = await env.rules(evaluator).create(offline(for_s=60))
    await evaluator.evaluate_once(env.clock.advance(1))
    (stale,) = (await env.alerts().list(ListRequest())).items
    assert stale.state is AlertState.PENDING
    await env.rules(evaluator).delete(rule.id)
    told = len(env.routed)
    async with env.sessions.begin() as session:
        moved = await evaluator.transitions.move_many(
            session, [Move(stale, AlertState.FIRING)], env.clock.advance(60)
        )
    assert moved == []
    assert (await env.alerts().get(stale.id)).state is AlertState.RESOLVED
    assert len(env.routed) == told

    # A round that read the rule before its deletion opened an alert after it: orphaned.
    async with env.sessions.begin() as session:
        orphan = await evaluator.transitions.open(
            session,
            rule,
            labels={"camera_name": "Stair", "rule": rule.name},
            summary="late",
            value=1.0,
            active=env.clock.now,
            now=env.clock.now,
            firing=True,
        )
    await evaluator.evaluate_once(env.clock.advance(1))
    assert (await env.alerts().get(orphan.id)).state is AlertState.RESOLVED
    assert env.routed[-1] == (orphan.id, AlertState.FIRING, AlertState.RESOLVED)
