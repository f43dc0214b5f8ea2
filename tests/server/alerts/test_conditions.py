"""Each condition kind on real data, on both backends (server/alerts/conditions/): camera in
error, recording gaps and the recorded ratio, recorder crash loops, nodes lost, disk free and
days until full, stream quality (presence), failed logins (audit log) and API tokens used from
a new address (the authenticator's address hook). The evaluator turns them into alerts."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from server.alerts.model import (
    AlertState,
    CameraError,
    Condition,
    FailedLogins,
    LoginsBy,
    NodeDisk,
    NodeLost,
    RecorderCrashLoop,
    RecordingGap,
    Rule,
    StreamQuality,
    TokenNewAddress,
)
from server.auth.token_addresses import TokenAddresses
from server.cameras.model import CameraStatus
from server.common.listing import ListRequest
from server.db.models import (
    ApiTokenRow,
    AuditLogRow,
    RecordingEventRow,
    RecordingGapRow,
    RecordingRow,
    UserRow,
    new_id,
)
from server.nodes.live import HostMetrics, LiveStream, StreamMetrics
from tests.server.alerts.evaluator_fixtures import Env, environment

GB = 1_000_000_000


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with environment(request.param, tmp_path) as e:
        yield e


def rule(condition: Condition, **kw: Any) -> Rule:
    return Rule(id="", name=f"{condition.kind.value} rule", condition=condition, **kw)


async def firing(env: Env, label: str) -> dict[str, str]:
    """label value -> summary of the open alerts."""
    page = await env.alerts().list(ListRequest(filter="state != RESOLVED", page_size=1000))
    return {a.labels.get(label, ""): a.summary for a in page.items}


async def test_camera_in_error(env: Env) -> None:
    evaluator = env.evaluator()
    bad = await env.camera("Lobby", status="error")
    await env.camera("Yard", status="offline")
    await env.rules(evaluator).create(rule(CameraError()))
    await evaluator.evaluate_once(env.clock.advance(5))
    assert list(await firing(env, "camera")) == [bad]
    await env.set_status([bad], "online")
    await evaluator.evaluate_once(env.clock.advance(1))
    assert await firing(env, "camera") == {}


async def test_recording_gap_length_and_ratio(env: Env) -> None:
    evaluator = env.evaluator()
    now = env.clock.now
    gap_cam = await env.camera("Gap", recording=True)
    low_cam = await env.camera("Low", recording=True)
    full_cam = await env.camera("Full", recording=True)
    short_gap_cam = await env.camera("Short", recording=True)
    async with env.sessions.begin() as session:
        session.add(RecordingGapRow(camera_id=gap_cam, start_time=now - timedelta(seconds=90)))
        session.add(
            RecordingGapRow(camera_id=short_gap_cam, start_time=now - timedelta(seconds=20))
        )
        # The last hour: Full recorded all of it in 10 s segments, Low a quarter, Gap and
        # Short all of it until their gaps.
        for cam, seconds in (
            (full_cam, 3600),
            (low_cam, 900),
            (gap_cam, 3500),
            (short_gap_cam, 3580),
        ):
            for i in range(0, seconds, 10):
                start = now - timedelta(seconds=3600 - i)
                session.add(
                    RecordingRow(
                        id=new_id(),
                        camera_id=cam,
                        node_id="n",
                        start_time=start,
                        end_time=start + timedelta(seconds=10),
                        duration_s=10.0,
                    )
                )
    store = env.rules(evaluator)
    await store.create(rule(RecordingGap(min_gap_s=60)))
    await store.create(
        Rule(
            id="",
            name="ratio",
            condition=RecordingGap(min_recorded_percent=50, window_s=3600),
        )
    )
    await evaluator.evaluate_once(now)
    page = await env.alerts().list(ListRequest())
    got = {(a.rule_name, a.labels["camera_name"]) for a in page.items}
    assert got == {("recording_gap rule", "Gap"), ("ratio", "Low")}
    low = next(a for a in page.items if a.labels["camera_name"] == "Low")
    assert low.value == pytest.approx(25.0)
    assert "recorded 25% of the last 1 h" in low.summary
    gap = next(a for a in page.items if a.labels["camera_name"] == "Gap")
    assert gap.summary == "camera Gap has not recorded for 1 min"
    # The pending period counts from when the gap became long enough, not from its start.
    assert gap.active_time == now - timedelta(seconds=30)


async def test_recorder_crash_loop(env: Env) -> None:
    evaluator = env.evaluator()
    looping = await env.camera("Loop")
    once = await env.camera("Once")
    now = env.clock.now
    async with env.sessions.begin() as session:
        for i in range(4):
            session.add(
                RecordingEventRow(
                    id=secrets.token_hex(8),
                    node_id="n",
                    kind="recorder",
                    camera_id=looping,
                    state="error",
                    time=now - timedelta(seconds=30 * i),
                )
            )
        for cam, state in ((once, "error"), (once, "recording"), (looping, "recording")):
            session.add(
                RecordingEventRow(
                    id=secrets.token_hex(8),
                    node_id="n",
                    kind="recorder",
                    camera_id=cam,
                    state=state,
                    time=now,
                )
            )
    await env.rules(evaluator).create(rule(RecorderCrashLoop(restarts=3, window_s=300)))
    await evaluator.evaluate_once(now)
    alerts = await firing(env, "camera")
    assert list(alerts) == [looping]
    assert alerts[looping] == "camera Loop's recorder failed 4 times in 5 min"
    # The failures age out of the window: resolved.
    await evaluator.evaluate_once(env.clock.advance(400))
    assert await firing(env, "camera") == {}


async def test_node_lost_carries_the_node_for_inhibition(env: Env) -> None:
    evaluator = env.evaluator()
    edge = await env.node("edge-2", site="north")
    await env.node("edge-3", site="south")
    await env.rules(evaluator).create(rule(NodeLost(), for_s=30, match_labels={"site": "north"}))
    await evaluator.evaluate_once(env.clock.advance(1))
    assert await firing(env, "node") == {}
    await env.set_node_state(edge, "lost")
    await evaluator.evaluate_once(env.clock.advance(31))
    page = await env.alerts().list(ListRequest())
    (alert,) = page.items
    assert alert.state is AlertState.FIRING
    assert alert.labels["node"] == edge and alert.labels["node_name"] == "edge-2"
    assert alert.labels["site"] == "north"
    await env.set_node_state(edge, "ready")
    await evaluator.evaluate_once(env.clock.advance(1))
    assert (await env.alerts().get(alert.id)).state is AlertState.RESOLVED


async def test_node_disk_free_and_days_until_full(env: Env) -> None:
    evaluator = env.evaluator()
    full = await env.node("full")
    filling = await env.node("filling")
    steady = await env.node("steady")
    store = env.rules(evaluator)
    await store.create(rule(NodeDisk(min_free_percent=10, min_days_until_full=2)))

    async def beat(used: dict[str, int]) -> None:
        for node_id, used_bytes in used.items():
            await env.presence.heartbeat(
                node_id,
                env.clock.now.timestamp(),
                HostMetrics(disk_used_bytes=used_bytes, disk_total_bytes=1000 * GB),
                [],
            )

    # filling grows 10 GB an hour with 400 GB free: full in ~1.7 days.
    for minute in range(0, 61, 5):
        await beat({full: 950 * GB, filling: 600 * GB + minute * GB // 6, steady: 500 * GB})
        await evaluator.evaluate_once(env.clock.now)
        env.clock.advance(300)
    alerts = await firing(env, "node_name")
    assert set(alerts) == {"full", "filling"}
    assert alerts["full"] == "node full's disk has 5.0% free (under 10%)"
    # Said when it opened (after 10 minutes of history: 398 GB free at 10 GB/h).
    assert alerts["filling"] == "node filling's disk fills in 1.7 days at its growth (under 2)"
    # Without history (a new leader) days-until-full stays silent; free space still counts.
    fresh = env.evaluator()
    preview = await fresh.preview(rule(NodeDisk(min_days_until_full=2)))
    assert preview.alerts == [] and preview.evaluated == 3
    now_said = await evaluator.preview(rule(NodeDisk(min_days_until_full=2)))
    assert [p.finding.summary for p in now_said.alerts] == [
        "node filling's disk fills in 1.6 days at its growth (under 2)"
    ]


async def test_stream_quality(env: Env) -> None:
    evaluator = env.evaluator()
    node = await env.node("edge-1")
    slow = await env.camera("Slow", node_id=node)
    thin = await env.camera("Thin", node_id=node)
    good = await env.camera("Good", node_id=node)
    young = await env.camera("Young", node_id=node)
    started = env.clock.now - timedelta(minutes=5)

    def stream(cam: str, fps: float, kbps: int, start: Any = started) -> LiveStream:
        return LiveStream(
            cam,
            CameraStatus.ONLINE,
            node,
            env.clock.now,
            metrics=StreamMetrics(bitrate_bps=kbps * 1000, fps=fps, publish_start=start),
        )

    await env.presence.heartbeat(
        node,
        env.clock.now.timestamp(),
        HostMetrics(),
        [
            stream(slow, 4.0, 2000),
            stream(thin, 25.0, 100),
            stream(good, 25.0, 2000),
            stream(young, 0.0, 0, env.clock.now - timedelta(seconds=2)),
        ],
    )
    await env.rules(evaluator).create(rule(StreamQuality(min_fps=10, min_bitrate_kbps=500)))
    await evaluator.evaluate_once(env.clock.now)
    alerts = await firing(env, "camera_name")
    assert alerts == {
        "Slow": "camera Slow's stream runs at 4.0 fps (under 10)",
        "Thin": "camera Thin's stream runs at 100 kbit/s (under 500)",
    }


async def test_failed_logins_by_user_and_by_address(env: Env) -> None:
    evaluator = env.evaluator()
    now = env.clock.now
    async with env.sessions.begin() as session:
        for i in range(6):  # mallory: 6 failures from 6 addresses within 5 minutes
            session.add(
                AuditLogRow(
                    time=now - timedelta(seconds=20 * i),
                    actor="mallory",
                    action="auth.login_failed",
                    outcome="failure",
                    source_address=f"203.0.113.{i}",
                )
            )
        for i in range(3):  # 198.51.100.7 tries three users
            session.add(
                AuditLogRow(
                    time=now - timedelta(seconds=10 * i),
                    actor=f"user{i}",
                    action="auth.login_failed",
                    outcome="failure",
                    source_address="198.51.100.7",
                )
            )
        session.add(  # an old failure and a success do not count
            AuditLogRow(time=now - timedelta(hours=2), actor="user0", action="auth.login_failed")
        )
        session.add(AuditLogRow(time=now, actor="user0", action="auth.login"))
    store = env.rules(evaluator)
    await store.create(Rule(id="", name="by user", condition=FailedLogins(count=5)))
    await store.create(
        Rule(id="", name="by address", condition=FailedLogins(count=3, by=LoginsBy.ADDRESS))
    )
    await evaluator.evaluate_once(now)
    page = await env.alerts().list(ListRequest())
    got = {
        (a.rule_name, a.labels.get("user", a.labels.get("address"))): a.summary for a in page.items
    }
    assert got == {
        ("by user", "mallory"): "6 failed logins for user mallory in 5 min",
        ("by address", "198.51.100.7"): "3 failed logins for address 198.51.100.7 in 5 min",
    }
    await evaluator.evaluate_once(env.clock.advance(400))
    assert await firing(env, "user") == {}


async def test_token_used_from_a_new_address(env: Env) -> None:
    evaluator = env.evaluator()
    user_id, token_id = new_id(), new_id()
    async with env.sessions.begin() as session:
        session.add(
            UserRow(id=user_id, username="ci", username_key="ci", role="api", password_hash="x")
        )
        await session.flush()
        session.add(
            ApiTokenRow(id=token_id, name="deploy", owner_user_id=user_id, secret_hash="h" * 64)
        )
    hook = TokenAddresses(env.sessions)
    hook.note(token_id, "10.0.0.5")  # its first address: not news
    hook.note(token_id, "10.0.0.5")
    await hook.close()
    await env.rules(evaluator).create(rule(TokenNewAddress()))
    await evaluator.evaluate_once(env.clock.now)
    assert await firing(env, "address") == {}

    hook.note(token_id, "192.0.2.44")
    await hook.close()
    await evaluator.evaluate_once(env.clock.now)
    page = await env.alerts().list(ListRequest())
    (alert,) = page.items
    assert alert.labels["address"] == "192.0.2.44"
    assert alert.labels["token_name"] == "deploy" and alert.labels["user"] == "ci"
    assert alert.summary == "API token deploy was used from a new address 192.0.2.44"
