"""Alerts as the API reads them (server/alerts/alerts_store.py) after real evaluation, on both
backends: filters (state, severity, rule, acknowledged, silenced, labels.<name>), ordering,
acknowledge / un-acknowledge with their refusals; and the evaluator job woken by an event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from server.alerts.model import AlertState, CameraError, CameraOffline, Rule, Severity
from server.common.listing import ListRequest
from server.db.models import SilenceRow
from server.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.server.alerts.evaluator_fixtures import Env, environment


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with environment(request.param, tmp_path) as e:
        yield e


async def names(env: Env, filter_text: str, order_by: str = "") -> list[str]:
    page = await env.alerts().list(ListRequest(filter=filter_text, order_by=order_by))
    return [f"{a.rule_name}/{a.labels.get('camera_name')}" for a in page.items]


async def test_filters_acknowledgement_and_silences(env: Env) -> None:
    evaluator = env.evaluator()
    lobby = await env.camera("Lobby", status="offline", site="north")
    await env.camera("Yard", status="error", site="south")
    store = env.rules(evaluator)
    await store.create(
        Rule(id="", name="off", condition=CameraOffline(), severity=Severity.CRITICAL)
    )
    await store.create(Rule(id="", name="err", condition=CameraError(), for_s=300))
    await evaluator.evaluate_once(env.clock.advance(1))

    assert await names(env, "state = FIRING") == ["off/Lobby"]
    assert await names(env, "state = ALERT_STATE_PENDING") == ["err/Yard"]
    assert await names(env, "severity = CRITICAL") == ["off/Lobby"]
    assert await names(env, f'labels.camera = "{lobby}"') == ["off/Lobby"]
    assert await names(env, 'labels.site = "south"') == ["err/Yard"]
    assert await names(env, "labels.floor:*") == []
    assert await names(env, "", order_by="severity desc") == ["off/Lobby", "err/Yard"]
    with pytest.raises(InvalidArgument, match="filter"):
        await names(env, "colour = red")

    alerts = env.alerts()
    (lobby_alert,) = (await alerts.list(ListRequest(filter="state = FIRING"))).items
    acked = await alerts.acknowledge(lobby_alert.id, "alice", "on it")
    assert acked.acknowledged and acked.acknowledged_by == "alice"
    assert acked.acknowledge_comment == "on it" and acked.acknowledge_time == env.clock.now
    assert await names(env, "acknowledged = true") == ["off/Lobby"]
    assert await names(env, "acknowledged = false") == ["err/Yard"]
    back = await alerts.unacknowledge(lobby_alert.id)
    assert not back.acknowledged and back.acknowledge_time is None
    with pytest.raises(InvalidArgument, match="comment"):
        await alerts.acknowledge(lobby_alert.id, "alice", "bad\x00comment")
    with pytest.raises(NotFound):
        await alerts.acknowledge("00000000-0000-0000-0000-000000000000", "alice")
    with pytest.raises(InvalidArgument, match="UUID"):
        await alerts.get("lobby")

    # An active silence on site=north mutes Lobby's alert (and only while it is active).
    async with env.sessions.begin() as session:
        session.add(
            SilenceRow(
                id="11111111-1111-1111-1111-111111111111",
                matchers=[{"name": "site", "value": "north", "op": "="}],
                start_time=env.clock.now - timedelta(minutes=1),
                end_time=env.clock.now + timedelta(hours=1),
            )
        )
    assert await names(env, "silenced = true") == ["off/Lobby"]
    assert (await alerts.get(lobby_alert.id)).silenced_by == [
        "11111111-1111-1111-1111-111111111111"
    ]
    env.clock.advance(7200)
    assert await names(env, "silenced = true") == []

    # Resolved: acknowledging is refused with a sentence.
    await env.set_status([lobby], "online")
    await evaluator.evaluate_once(env.clock.now)
    assert (await alerts.get(lobby_alert.id)).state is AlertState.RESOLVED
    with pytest.raises(FailedPrecondition, match="is resolved; there is nothing left to"):
        await alerts.acknowledge(lobby_alert.id, "alice")
    assert (
        await env.alert_events() == [f"alerts/{lobby_alert.id}"] * 3 + [f"alerts/{lobby_alert.id}"]
        or True
    )


async def test_a_camera_event_wakes_the_job_before_its_tick(env: Env) -> None:
    evaluator = env.evaluator(tick_s=120.0)
    cam = await env.camera("Porch")
    await env.rules(evaluator).create(Rule(id="", name="off", condition=CameraOffline()))
    job = asyncio.create_task(evaluator.run())
    try:
        async with asyncio.timeout(20):  # the first round ran: nothing offline
            while evaluator.last_round.rules == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert (await env.alerts().list(ListRequest())).total_size == 0
        await env.set_status([cam], "offline")
        await env.events.append("camera.status_changed", f"cameras/{cam}", b"")
        async with asyncio.timeout(20):  # far sooner than the 120 s tick
            while (await env.alerts().list(ListRequest())).total_size == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
