"""The dispatcher (server/alerts/dispatcher.py) with routing on both backends: alerts written as
the evaluator writes them (state changes calling on_change), the dispatcher run at chosen
times, the notification rows read back. Alertmanager's timing: group_wait, group_interval,
repeat_interval; resolved notifications; acknowledgement stops repeats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from server.alerts.dispatcher import Dispatcher
from server.alerts.model import AlertState
from server.db.models import AlertGroupRow, utcnow
from server.leader.leadership import Leadership
from server.leader.model import NotLeader
from tests.server.alerts.test_routing_support import (
    Clock,
    Env,
    add_rule,
    alert_ids_told,
    notifications,
    policy,
    routing_env,
)
from tests.support.assertions import eventually


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with routing_env(request.param, tmp_path) as e:
        yield e


async def test_group_wait_then_one_notification_per_channel(env: Env) -> None:
    await env.policies.create(policy(env.channels))
    rule = await add_rule(env.sessions, "offline", "camera_offline")
    a1 = await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"})
    env.clock.advance(5)
    a2 = await env.alerts.fire(rule, "offline", {"camera": "c2", "node": "n1"})
    other = await env.alerts.fire(rule, "offline", {"camera": "c3", "node": "n2"})

    assert await env.dispatch_at(29) == 0  # group_wait counts from the group's first alert
    assert await env.dispatch_at(30) == 2  # n1's group: one row per channel
    rows = await notifications(env.sessions)
    assert {r.channel_id for r in rows} == set(env.channels)
    assert len({r.id for r in rows}) == 2 and all(r.id.startswith("msg_") for r in rows)
    for r in rows:
        assert r.kind == "firing" and r.status == "queued"
        assert set(r.alert_ids) == {a1, a2}
        assert r.group_labels == {"rule": "offline", "node": "n1"}
        assert r.payload["id"] == r.id and r.payload["version"] == "1"
        assert r.payload["counts"] == {"firing": 2, "resolved": 0}
        assert r.payload["policy"] == "ops" and r.summary == r.payload["summary"]
        assert "2 offline alerts firing on node n1" in r.summary
        first = r.payload["alerts"][0]
        assert first["id"] == a1 and first["state"] == "firing" and first["rule"] == "offline"
        assert first["labels"]["camera"] == "c1" and first["firing_at"].endswith("Z")
    assert await env.dispatch_at(35) == 2  # n2's group, its own wait
    assert alert_ids_told((await notifications(env.sessions))[2:], "firing") == {other}
    assert await env.dispatch_at(36) == 0


async def test_interval_repeat_ack_and_resolved(env: Env) -> None:
    await env.policies.create(policy(env.channels[:1]))
    rule = await add_rule(env.sessions, "offline", "camera_offline")
    a1 = await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"})
    assert await env.dispatch_at(30) == 1

    # A second alert joins the notified group: told at the next group_interval, not before.
    env.clock.advance(10)
    a2 = await env.alerts.fire(rule, "offline", {"camera": "c2", "node": "n1"})
    assert await env.dispatch_at(100) == 0
    assert await env.dispatch_at(329) == 0
    assert await env.dispatch_at(330) == 1
    joined = (await notifications(env.sessions))[-1]
    assert set(joined.alert_ids) == {a1, a2}

    # Nothing new: quiet each interval until repeat_interval (1 h) after the last notification.
    for t in (630, 930, 3900):
        assert await env.dispatch_at(t) == 0
    assert await env.dispatch_at(3930) == 1
    assert set((await notifications(env.sessions))[-1].alert_ids) == {a1, a2}

    # Acknowledged alerts are not repeated; a1 still is.
    await env.alerts.ack(a2)
    assert await env.dispatch_at(3930 + 3600) == 1
    assert (await notifications(env.sessions))[-1].alert_ids == [a1]
    await env.alerts.ack(a1)
    assert await env.dispatch_at(3930 + 7200) == 0

    # Resolving: one resolved notification naming what was told as firing and resolved.
    env.clock.now = Clock().now
    env.clock.advance(3930 + 7300)
    await env.alerts.move(a1, AlertState.RESOLVED)
    await env.alerts.move(a2, AlertState.RESOLVED)
    assert await env.dispatch_at(3930 + 7500) == 1
    last = (await notifications(env.sessions))[-1]
    # Both were told as firing (acknowledging stops repeats, not the resolution).
    assert last.kind == "resolved" and set(last.alert_ids) == {a1, a2}
    assert last.payload["counts"] == {"firing": 0, "resolved": 2}
    assert "resolved" in last.summary
    # The group is gone: nothing more, ever.
    assert await env.dispatch_at(3930 + 20000) == 0
    async with env.sessions() as session:
        assert list(await session.scalars(select(AlertGroupRow))) == []


async def test_resolved_only_when_send_resolved(env: Env) -> None:
    await env.policies.create(policy(env.channels[:1], name="quiet", send_resolved=False))
    await env.policies.create(policy(env.channels[1:], name="loud", send_resolved=True))
    rule = await add_rule(env.sessions, "offline", "camera_offline")
    a1 = await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"})
    assert await env.dispatch_at(30) == 2
    env.clock.advance(60)
    await env.alerts.move(a1, AlertState.RESOLVED)
    assert await env.dispatch_at(330) == 1
    last = (await notifications(env.sessions))[-1]
    assert last.channel_id == env.channels[1] and last.kind == "resolved"
    assert last.alert_ids == [a1] and last.payload["alerts"][0]["resolved_at"]


async def test_an_alert_resolved_within_group_wait_is_never_told(env: Env) -> None:
    await env.policies.create(policy(env.channels))
    rule = await add_rule(env.sessions, "offline", "camera_offline")
    a1 = await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"})
    env.clock.advance(10)
    await env.alerts.move(a1, AlertState.RESOLVED)
    assert await env.dispatch_at(30) == 0
    assert await notifications(env.sessions) == []


async def test_pending_alerts_route_nowhere_until_firing(env: Env) -> None:
    await env.policies.create(policy(env.channels[:1], group_wait_s=0.0))
    rule = await add_rule(env.sessions, "offline", "camera_offline")
    a1 = await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"}, pending_first=True)
    assert await env.dispatch_at(100) == 0
    env.clock.advance(100)  # T0 + 200
    await env.alerts.move(a1, AlertState.FIRING)
    assert await env.dispatch_at(200) == 1


async def test_a_deposed_leader_writes_nothing(env: Env) -> None:
    await env.policies.create(policy(env.channels))
    rule = await add_rule(env.sessions, "offline", "camera_offline")
    await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"})

    async def deposed(session: object) -> int:
        raise NotLeader("another replica leads now")

    with pytest.raises(NotLeader):
        await Dispatcher(env.sessions, deposed, env.clock).dispatch_once()
    assert await notifications(env.sessions) == []
    assert await env.dispatch_at(30) == 2  # the group is still due for the leader


async def test_the_leader_job_dispatches_in_real_time(env: Env) -> None:
    """Dispatcher.run as the leader's singleton job (real Leadership and fence, real time,
    short settings): two replicas' dispatchers on one database, only the leader's writes;
    an alert is told once, within a few ticks."""
    await env.policies.create(policy(env.channels[:1], group_wait_s=0.0))
    engine = env.sessions.kw["bind"]
    leaders = [Leadership.for_engine(engine, env.sessions) for _ in range(2)]
    try:
        for leadership in leaders:
            await leadership.start()
            dispatcher = Dispatcher(env.sessions, leadership.fence, interval_s=0.05)
            leadership.run_while_leader({"alert_dispatcher": dispatcher.run})
        rule = await add_rule(env.sessions, "offline", "camera_offline")
        env.clock.now = utcnow()  # the alert's group is due now in real time
        alert_id = await env.alerts.fire(rule, "offline", {"camera": "c1", "node": "n1"})
        await eventually(lambda: notifications(env.sessions), bool, within_seconds=20)
        await asyncio.sleep(0.5)  # ten more ticks of each: nothing more
        rows = await notifications(env.sessions)
        assert [r.alert_ids for r in rows] == [[alert_id]]
    finally:
        for leadership in leaders:
            await leadership.close()
