"""The camfleet_ metrics on /metrics say what the fleet is: a new camera down, a node's
heartbeat age and disk as its heartbeat described them, recording gaps by cause (open ones up to
now), firing alerts by severity (a real rule over offline cameras); on each backend, on a
database of the test's own."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
from camfleet.v1 import alert_pb2

from harness.databases import REDIS_URL, throwaway_postgres, throwaway_redis_prefix
from server.db.engine import session_factory
from server.db.models import RecordingGapRow
from tests.conftest import BACKENDS
from tests.server.transport.test_metrics import Samples, samples
from tests.support import agent_stream
from tests.support.alert_rules import offline_rule
from tests.support.platform import Platform, settings_for_tests, start_platform, stop_platform

# The snapshot is read again at most every 2 s; a loaded machine gets more.
WITHIN_S = 20.0


@pytest.fixture(scope="module", params=BACKENDS)
async def metered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    with ExitStack() as stack:
        extra: dict[str, object] = {}
        if request.param == "postgres":
            extra = {
                "database_url": stack.enter_context(throwaway_postgres()),
                "redis_url": REDIS_URL,
                "redis_prefix": stack.enter_context(throwaway_redis_prefix()),
            }
        settings = settings_for_tests(
            tmp_path_factory.mktemp(f"fleet-metrics-{request.param}"),
            metrics_listen="127.0.0.1:0",
            **extra,
        )
        plane = await start_platform(settings, request.param)
        try:
            yield plane
        finally:
            await stop_platform(plane)


async def until(plane: Platform, ok: Callable[[Samples], bool]) -> Samples:
    """A scrape `ok` accepts (the last one after WITHIN_S, for the assertion to show)."""
    deadline = time.monotonic() + WITHIN_S
    while True:
        found = await samples(plane)
        if ok(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


async def test_a_new_camera_is_down_and_counted(metered: Platform) -> None:
    camera = await metered.new_camera()
    up = key("camfleet_camera_up", camera_id=camera.id, camera=camera.name)
    found = await until(metered, lambda s: up in s)
    assert found[up] == 0
    assert found[key("camfleet_cameras", status="offline")] >= 1
    assert found[key("camfleet_cameras", status="online")] == 0


async def test_a_node_shows_its_heartbeat_age_and_disk(metered: Platform) -> None:
    name = f"metrics-{secrets.token_hex(3)}"
    node = await metered.register_node(name)
    async with agent_stream.connect(
        metered.channel, node.credential, agent_stream.hello()
    ) as agent:
        await agent.receive_kind("welcome")
        beat = agent_stream.heartbeat()
        await agent.send(beat)
        labels = {"node_id": node.node_id, "node": name}
        free = key("camfleet_node_disk_free_bytes", **labels)
        found = await until(metered, lambda s: free in s)
        # agent_stream.heartbeat(): 10 GiB used of 100.
        assert found[free] == 90 << 30
        assert found[key("camfleet_node_disk_total_bytes", **labels)] == 100 << 30
        age = found[key("camfleet_node_heartbeat_age_seconds", **labels)]
        assert 0 <= age < WITHIN_S
        assert found[key("camfleet_nodes", state="ready")] >= 1
        # Less than 10 minutes of disk history: no forecast rather than a wild one.
        assert key("camfleet_node_disk_days_until_full", **labels) not in found


async def test_gaps_are_summed_by_cause_and_open_ones_run_to_now(metered: Platform) -> None:
    now = datetime.now(UTC)
    camera = await metered.new_camera()
    before = await samples(metered)
    sessions = session_factory(metered.plane.engine)
    async with sessions.begin() as session:
        session.add_all(
            [
                RecordingGapRow(
                    camera_id=camera.id,
                    start_time=now - timedelta(minutes=10),
                    end_time=now - timedelta(minutes=10) + timedelta(seconds=42),
                    cause="node_lost",
                ),
                RecordingGapRow(
                    camera_id=camera.id, start_time=now - timedelta(seconds=30), cause="disk_full"
                ),
            ]
        )
    total = "camfleet_recording_gap_seconds_total"
    lost, disk = key(total, cause="node_lost"), key(total, cause="disk_full")
    found = await until(metered, lambda s: s[lost] > before[lost])
    assert found[lost] - before[lost] == pytest.approx(42, abs=0.01)
    assert found[disk] - before[disk] >= 30
    opened = key("camfleet_recording_gaps_open", cause="disk_full")
    assert found[opened] - before[opened] == 1
    assert found[key("camfleet_recording_gap_seconds_total", cause="source_error")] >= 0


async def test_firing_alerts_are_counted_by_severity(metered: Platform) -> None:
    before = await samples(metered)
    tag = secrets.token_hex(4)
    rule = await offline_rule(metered, f"metrics-{tag}", tag)
    severity = alert_pb2.AlertSeverity.Name(rule.severity).removeprefix("ALERT_SEVERITY_").lower()
    firing = key("camfleet_alerts_firing", severity=severity)
    # Two offline cameras under the rule: two alerts firing (no pending period).
    for _ in range(2):
        await metered.new_camera(labels={"alerttest": tag})
    found = await until(metered, lambda s: s[firing] - before[firing] >= 2)
    assert found[firing] - before[firing] == 2
    for other in {"info", "warning", "critical"} - {severity}:
        assert found[key("camfleet_alerts_firing", severity=other)] == 0


async def test_watchers_and_the_event_log(metered: Platform) -> None:
    found = await samples(metered)
    assert found[key("camfleet_event_log_revision")] >= 0
    assert found[key("camfleet_event_log_lag_revisions")] >= 0
    assert found[key("camfleet_watchers")] >= 0
