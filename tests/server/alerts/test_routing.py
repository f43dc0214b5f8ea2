"""Routing with the dispatcher on both backends: inhibition by a lost node, silences and
maintenance windows, a rule's cooldown, policy order/stop/severities, group_by, and a burst of
a thousand alerts handled with a fixed number of queries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.evaluate_state import Transitions
from server.alerts.model import (
    Alert,
    AlertState,
    CameraOffline,
    Matcher,
    NodeLost,
    Rule,
    Severity,
    Silence,
)
from server.alerts.routing import Routing
from server.alerts.silences import SilenceStore
from tests.server.alerts.test_routing_support import (
    T0,
    Env,
    add_rule,
    alert_ids_told,
    notifications,
    policy,
    routing_env,
)


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with routing_env(request.param, tmp_path) as e:
        yield e


def cameras(node: str, n: int, start: int = 1) -> list[dict[str, str]]:
    return [
        {"camera": f"c{i}", "camera_name": f"Cam {i}", "node": node, "node_name": "edge-2"}
        for i in range(start, start + n)
    ]


async def test_a_lost_node_is_one_notification_not_one_per_camera(env: Env) -> None:
    await env.policies.create(policy(env.channels[:1]))
    lost_rule = await add_rule(env.sessions, "node-lost", "node_lost")
    offline = await add_rule(env.sessions, "offline", "camera_offline")
    node_alert = await env.alerts.fire(
        lost_rule, "node-lost", {"node": "n1", "node_name": "edge-2"}, summary="node edge-2 lost"
    )
    cams = [await env.alerts.fire(offline, "offline", labels) for labels in cameras("n1", 5)]
    elsewhere = await env.alerts.fire(
        offline, "offline", {"camera": "c9", "node": "n2", "node_name": "edge-3"}
    )
    for cam in cams:  # marked at once, for the API and the UI
        assert (await env.alerts.get(cam)).inhibited_by == node_alert
    assert (await env.alerts.get(elsewhere)).inhibited_by == ""

    assert await env.dispatch_at(30) == 2  # the node's group and n2's camera group
    rows = await notifications(env.sessions)
    told = alert_ids_told(rows, "firing")
    assert told == {node_alert, elsewhere}
    node_row = next(r for r in rows if node_alert in r.alert_ids)
    assert node_row.summary == "node edge-2 lost (5 cameras affected)"
    assert node_row.group_labels == {"rule": "node-lost", "node": "n1"}

    # The node comes back while its cameras stay offline: no longer inhibited, they are told
    # at the group's next interval.
    env.clock.advance(60)
    await env.alerts.move(node_alert, AlertState.RESOLVED)
    for cam in cams:
        assert (await env.alerts.get(cam)).inhibited_by == ""
    assert await env.dispatch_at(330) == 2
    last = (await notifications(env.sessions))[2:]
    assert alert_ids_told(last, "firing") == set(cams)
    assert alert_ids_told(last, "resolved") == {node_alert}


async def test_cameras_back_soon_after_their_node_are_never_told(env: Env) -> None:
    """A node's return settles for RECOVERY_GRACE: its cameras reconnect over some seconds (3 s
    behind the node in the fleet test). Those back within it are never told; one still offline
    after it is."""
    await env.policies.create(policy(env.channels[:1], group_wait_s=1.0, group_interval_s=3.0))
    lost_rule = await add_rule(env.sessions, "node-lost", "node_lost")
    offline = await add_rule(env.sessions, "offline", "camera_offline")
    node_alert = await env.alerts.fire(
        lost_rule, "node-lost", {"node": "n1", "node_name": "edge-2"}, summary="node edge-2 lost"
    )
    cams = [await env.alerts.fire(offline, "offline", labels) for labels in cameras("n1", 3)]
    assert await env.dispatch_at(1) == 1  # the node
    for t in (4, 50, 99):
        assert await env.dispatch_at(t) == 0  # its cameras are inhibited
    env.clock.now = T0 + timedelta(seconds=100)
    await env.alerts.move(node_alert, AlertState.RESOLVED)  # the node is back
    assert await env.dispatch_at(103) == 1  # the node's resolved notification, nothing else
    assert alert_ids_told(await notifications(env.sessions), "resolved") == {node_alert}
    for t in (106, 110, 120):
        assert await env.dispatch_at(t) == 0  # its cameras, offline still, wait
    env.clock.now = T0 + timedelta(seconds=121)
    for cam in cams[:2]:  # back
        await env.alerts.move(cam, AlertState.RESOLVED)
    assert await env.dispatch_at(125) == 0
    assert await env.dispatch_at(131) == 1  # past the grace: the one still offline is news
    last = (await notifications(env.sessions))[2:]
    assert [r.alert_ids for r in last] == [[cams[2]]]
    assert alert_ids_told(last, "firing") == {cams[2]}


async def test_cameras_offline_before_their_node_is_lost_wait_for_it(env: Env) -> None:
    """The usual order when a node's link is cut: its cameras are seen offline first, the node
    lost a little later. The camera alerts are held while the node's alert is pending, then
    inhibited: one notification, about the node."""
    await env.policies.create(policy(env.channels[:1]))
    lost_rule = await add_rule(env.sessions, "node-lost", "node_lost")
    offline = await add_rule(env.sessions, "offline", "camera_offline")
    node_alert = await env.alerts.fire(
        lost_rule,
        "node-lost",
        {"node": "n1", "node_name": "edge-2"},
        summary="node edge-2 lost",
        pending_first=True,
    )
    cams = await env.alerts.fire_many(offline, "offline", cameras("n1", 5))
    for t in (30, 31, 33, 40):
        assert await env.dispatch_at(t) == 0
    env.clock.advance(1)  # T0 + 41: the node's pending period is over
    await env.alerts.move(node_alert, AlertState.FIRING)
    assert all([(await env.alerts.get(c)).inhibited_by == node_alert for c in cams])
    for t in (42, 60, 70):
        assert await env.dispatch_at(t) == 0
    assert await env.dispatch_at(71) == 1
    rows = await notifications(env.sessions)
    assert len(rows) == 1 and rows[0].alert_ids == [node_alert]
    assert rows[0].summary == "node edge-2 lost (5 cameras affected)"


async def test_silences_and_maintenance_windows(env: Env) -> None:
    silences = SilenceStore(env.sessions, env.clock)
    await env.policies.create(
        policy(env.channels[:1], group_by=["..."], group_wait_s=0.0, repeat_interval_s=864000.0)
    )
    offline = await add_rule(env.sessions, "offline", "camera_offline")
    await silences.create(
        Silence(
            id="",
            matchers=[Matcher("camera", "c1")],
            start_time=env.clock(),
            end_time=env.clock() + timedelta(hours=1),
        )
    )
    window_start = env.clock() + timedelta(hours=2)
    await silences.create(  # a maintenance window: node n9, two hours from now, for an hour
        Silence(
            id="",
            matchers=[Matcher("node", "n9")],
            start_time=window_start,
            end_time=window_start + timedelta(hours=1),
        )
    )
    c1 = await env.alerts.fire(offline, "offline", {"camera": "c1", "node": "n1"})
    c2 = await env.alerts.fire(offline, "offline", {"camera": "c2", "node": "n1"})
    before_window = await env.alerts.fire(offline, "offline", {"camera": "c8", "node": "n9"})
    assert await env.dispatch_at(0) == 2
    assert alert_ids_told(await notifications(env.sessions), "firing") == {c2, before_window}

    assert await env.dispatch_at(300) == 0  # c1 still silenced, nothing new
    # c1's silence ended at 1 h: it is told at its group's next look.
    assert await env.dispatch_at(3700) == 1
    assert alert_ids_told((await notifications(env.sessions))[2:], "firing") == {c1}

    env.clock.now = T0 + timedelta(seconds=2 * 3600 + 60)  # inside the window
    during = await env.alerts.fire(offline, "offline", {"camera": "c9", "node": "n9"})
    assert await env.dispatch_at(2 * 3600 + 60) == 0
    assert await env.dispatch_at(2 * 3600 + 360) == 0
    # After the window, the camera still offline is told (c8, told before it, is not new).
    assert await env.dispatch_at(3 * 3600 + 300) == 1
    assert alert_ids_told((await notifications(env.sessions))[3:], "firing") == {during}


async def test_cooldown_keeps_a_flapping_alert_quiet(env: Env) -> None:
    await env.policies.create(
        policy(env.channels[:1], group_wait_s=0.0, group_interval_s=1.0, send_resolved=False)
    )
    offline = await add_rule(env.sessions, "offline", "camera_offline", cooldown_s=600)
    labels = {"camera": "c1", "node": "n1"}
    first = await env.alerts.fire(offline, "offline", labels)
    assert await env.dispatch_at(0) == 1
    env.clock.advance(10)
    await env.alerts.move(first, AlertState.RESOLVED)
    assert await env.dispatch_at(11) == 0
    env.clock.now += timedelta(seconds=50)  # T0 + 60: it fires again
    again = await env.alerts.fire(offline, "offline", labels)
    for t in (60, 61, 300, 609):
        assert await env.dispatch_at(t) == 0
    # Still firing when the cooldown (600 s after it resolved) ends: told.
    assert await env.dispatch_at(610) == 1
    assert (await notifications(env.sessions))[-1].alert_ids == [again]


async def test_policy_order_stop_severities_and_group_by(env: Env) -> None:
    critical_only = await env.policies.create(
        policy(
            env.channels[:1],
            name="pager",
            order=0,
            severities=[Severity.CRITICAL],
            stop=True,
            group_wait_s=0.0,
        )
    )
    everything = await env.policies.create(
        policy(env.channels[1:], name="all", order=1, group_wait_s=0.0, group_by=["..."])
    )
    await env.policies.create(
        policy(env.channels, name="info", order=2, severities=[Severity.INFO], group_wait_s=0.0)
    )
    offline = await add_rule(env.sessions, "offline", "camera_offline")
    crit = await env.alerts.fire(
        offline, "offline", {"camera": "c1", "node": "n1"}, severity="critical"
    )
    warn = [
        await env.alerts.fire(offline, "offline", {"camera": f"c{i}", "node": "n1"}) for i in (2, 3)
    ]
    assert await env.dispatch_at(0) == 3
    rows = await notifications(env.sessions)
    by_policy: dict[str, list[Any]] = {}
    for r in rows:
        by_policy.setdefault(r.policy_id, []).append(r)
    assert [r.alert_ids for r in by_policy[critical_only.id]] == [[crit]]  # and stop
    assert sorted(r.alert_ids[0] for r in by_policy[everything.id]) == sorted(warn)
    assert set(by_policy) == {critical_only.id, everything.id}


async def test_a_thousand_alerts_cost_a_fixed_number_of_queries(env: Env) -> None:
    """1,000 cameras across 100 nodes go offline within a minute: the dispatcher tells 100
    groups with the same few queries per batch, whatever the number of alerts."""
    await env.policies.create(policy(env.channels[:1]))
    offline = await add_rule(env.sessions, "offline", "camera_offline")
    engine = env.sessions.kw["bind"].sync_engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2])[:60])

    event.listen(engine, "before_cursor_execute", count)
    try:
        # The evaluator's side: a node's 10 cameras per transaction. Each alert's own row is
        # one statement (the evaluator's); routing adds a few per transaction, not per alert.
        for node in range(100):
            batch = cameras(f"n{node}", 10, start=node * 10)
            await env.alerts.fire_many(offline, "offline", batch)
            env.clock.advance(0.5)
        evaluator_side = len(statements)
        statements.clear()
        started = time.perf_counter()
        queued = await env.dispatch_at(90)
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert evaluator_side < 1000 + 100 * 5
    assert queued == 100
    rows = await notifications(env.sessions)
    assert sum(len(r.alert_ids) for r in rows) == 1000
    # Fence-free reads (groups, policies, channels, losses, silences, alerts, rules) plus the
    # inserts and group updates, which SQLAlchemy batches: far fewer than one per alert.
    assert len(statements) < 60, statements
    assert elapsed < 30  # generous: a loaded CI machine


async def test_a_policy_made_while_alerts_fire_tells_them(env: Env) -> None:
    offline = await add_rule(env.sessions, "offline", "camera_offline")
    firing = await env.alerts.fire(offline, "offline", {"camera": "c1", "node": "n1"})
    pending = await env.alerts.fire(
        offline, "offline", {"camera": "c2", "node": "n1"}, pending_first=True
    )
    assert await env.dispatch_at(100) == 0  # no policy: told to no one
    await env.policies.create(policy(env.channels[:1]))  # at T0 + 100
    assert await env.dispatch_at(129) == 0
    assert await env.dispatch_at(130) == 1
    rows = await notifications(env.sessions)
    assert rows[0].alert_ids == [firing] and pending not in rows[0].alert_ids


class _Told:
    """The evaluator's event hook (the events floor implements it): the sentences staged."""

    def __init__(self) -> None:
        self.sentences: list[str] = []

    def alert_changed(self, session: AsyncSession, alert: Alert, message: str) -> None:
        self.sentences.append(message)


async def test_the_evaluators_transition_path_routes(env: Env) -> None:
    """The evaluator's own path (evaluate_state.Transitions, batched inserts and updates) with
    routing.on_change: a lost node's alert and its cameras' in one pass, one notification;
    deleting the rule's alerts resolves them, one resolved notification."""
    await env.policies.create(policy(env.channels[:1]))
    node_rule = Rule(
        id=await add_rule(env.sessions, "node-lost", "node_lost"),
        name="node-lost",
        condition=NodeLost(),
        severity=Severity.CRITICAL,
    )
    cam_rule = Rule(
        id=await add_rule(env.sessions, "offline", "camera_offline"),
        name="offline",
        condition=CameraOffline(),
    )
    told = _Told()
    transitions = Transitions(told, Routing(env.clock, told).on_change)
    now = env.clock()
    async with env.sessions.begin() as session:
        cams = [
            await transitions.open(
                session,
                cam_rule,
                labels={"rule": "offline", "severity": "warning", **labels},
                summary=f"camera {labels['camera_name']} offline",
                value=0,
                active=now,
                now=now,
                firing=True,
            )
            for labels in cameras("n1", 3)
        ]
        node = await transitions.open(
            session,
            node_rule,
            labels={
                "rule": "node-lost",
                "severity": "critical",
                "node": "n1",
                "node_name": "edge-2",
            },
            summary="node edge-2 lost for 5 s",
            value=0,
            active=now,
            now=now,
            firing=True,
        )
    # Four alerts opened; then the node's firing inhibited its three cameras, each told.
    assert len(told.sentences) == 7
    assert sum("is inhibited: its node is lost" in t for t in told.sentences) == 3
    for cam in cams:
        assert (await env.alerts.get(cam.id)).inhibited_by == node.id
    assert await env.dispatch_at(30) == 1
    (row,) = await notifications(env.sessions)
    assert row.alert_ids == [node.id]
    assert row.summary == "node edge-2 lost for 5 s (3 cameras affected)"
    assert row.payload["alerts"][0]["severity"] == "critical"

    env.clock.advance(10)
    async with env.sessions.begin() as session:
        assert await transitions.resolve_rule(session, node_rule.id, env.clock(), "deleted") == 1
    assert all([(await env.alerts.get(c.id)).inhibited_by == "" for c in cams])
    assert sum("no longer inhibited" in t for t in told.sentences) == 3
    assert await env.dispatch_at(330) == 2  # the node resolved; its cameras now told
    rows = (await notifications(env.sessions))[1:]
    assert alert_ids_told(rows, "resolved") == {node.id}
    assert alert_ids_told(rows, "firing") == {c.id for c in cams}
