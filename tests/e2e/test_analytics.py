"""Issue 14's first "done when", end to end on real processes (`python -m server` and
`python -m node_agent` with its nginx; both backends): a push camera recorded in 2-second
segments runs through a scripted schedule of outages (its ffmpeg publisher stopped and started
again), and GetUptime and GetCoverage over the run equal what the test computes from the
schedule as it observed it, within a second per outage.

What the test observes: the moments it stopped and started the publisher (its own clock) and
the moments it saw the camera go OFFLINE and ONLINE again through WatchEvents (its own clock
when the event arrived). Uptime is compared with the latter: an outage, for the platform, lasts
from the camera's status change to OFFLINE until the one to ONLINE, and the test sees each a
little after it was written (delivery through the event log, tens of ms here); the tolerance of
a second per outage covers that delay at each end. The publisher's own times are compared too:
an outage then also includes the time a new publisher takes to connect and be admitted (ffmpeg
start, RTMP handshake, the agent's check; 1.7-2 s per outage measured here), which is printed;
uptime is defined by the camera's status, so it is compared with what the test saw of that.

Coverage: recorded is the time the segments cover, expected that plus the stored gaps (the
camera stopped while recording was on). From the schedule: expected is the range from the
first segment on (nothing is expected before the recorder first wrote), recorded is that minus
the time each publisher was stopped (its own clock), within a second per outage: the recorder
resumes with the stream's first frames (0.5-0.7 s after the new publisher starts, here), before
the camera is ONLINE again. Gap seconds by cause (CAMERA_STOPPED) likewise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
import pytest
from camfleet.v1 import (
    analytics_pb2,
    analytics_pb2_grpc,
    camera_pb2,
    event_pb2,
    recording_pb2,
)

from tests.support.agent_node import publishing
from tests.support.stack import Stack, running_stack, ts

pytestmark = pytest.mark.timeout(300)

SEGMENT_S = 2
# (seconds publishing, seconds stopped) in order, then publishing to the end.
SCHEDULE = [(8.0, 3.0), (6.0, 5.0), (6.0, 2.0)]
LAST_S = 8.0
ONLINE = camera_pb2.CAMERA_STATUS_ONLINE
OFFLINE = camera_pb2.CAMERA_STATUS_OFFLINE


@pytest.fixture(params=["sqlite", "postgres"])
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    async with running_stack(str(request.param), ["--segment-seconds", str(SEGMENT_S)]) as running:
        yield running


@dataclass
class Observed:
    """Status changes of one camera as the test saw them arrive (its clock)."""

    camera_id: str
    changes: list[tuple[datetime, int]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, call: grpc.aio.UnaryStreamCall) -> None:  # type: ignore[type-arg]
        async for resp in call:
            e = resp.event
            if (
                e.type == event_pb2.EVENT_TYPE_CAMERA_STATUS_CHANGED
                and e.camera.id == self.camera_id
            ):
                self.changes.append((datetime.now(UTC), e.camera.status))
                self.changed.set()

    async def until(self, status: int, after: datetime, within_s: float = 30.0) -> datetime:
        """When the camera was seen entering `status` after `after`."""
        async with asyncio.timeout(within_s):
            while True:
                for at, seen in self.changes:
                    if seen == status and at >= after:
                        return at
                self.changed.clear()
                await self.changed.wait()


def _s(d: object) -> float:
    return d.ToTimedelta().total_seconds()  # type: ignore[attr-defined]


async def test_uptime_and_coverage_equal_the_scripted_schedule(stack: Stack) -> None:
    resp = await stack.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(
            camera=camera_pb2.Camera(name="scheduled", recording_enabled=True)
        ),
        metadata=stack.admin,
    )
    camera = resp.camera
    observed = Observed(camera.id)
    watch = stack.watch(await stack.revision(), f'subject = "cameras/{camera.id}"')
    follower = asyncio.create_task(observed.follow(watch))
    url = stack.rtmp_url(camera.stream_key)
    outages_seen: list[tuple[datetime, datetime]] = []  # (OFFLINE seen, ONLINE seen)
    outages_made: list[tuple[datetime, datetime]] = []  # (publisher stopped, started)
    try:
        started = datetime.now(UTC)
        async with publishing(url, 600):
            start = await observed.until(ONLINE, started)
            await asyncio.sleep(SCHEDULE[0][0])
        for n, (_, down_s) in enumerate(SCHEDULE):
            stopped = datetime.now(UTC)
            offline = await observed.until(OFFLINE, stopped)
            await asyncio.sleep(max(0.0, down_s - (datetime.now(UTC) - stopped).total_seconds()))
            restarted = datetime.now(UTC)
            up_s = SCHEDULE[n + 1][0] if n + 1 < len(SCHEDULE) else LAST_S
            async with publishing(url, 600):
                online = await observed.until(ONLINE, restarted)
                outages_seen.append((offline, online))
                outages_made.append((stopped, restarted))
                await asyncio.sleep(up_s)
                if n + 1 == len(SCHEDULE):
                    end = datetime.now(UTC)
                    # Recording past the range's end, so its last segment is closed and indexed.
                    await asyncio.sleep(2 * SEGMENT_S + 1)
    finally:
        watch.cancel()
        follower.cancel()
    seen = [(b - a).total_seconds() for a, b in outages_seen]
    made = [(b - a).total_seconds() for a, b in outages_made]
    range_s = (end - start).total_seconds()
    uptime, coverage = await _settled(stack, camera.id, start, end)
    up_s, down_s = _s(uptime.up), _s(uptime.down)
    print(
        f"range {range_s:.2f} s; outages seen {[round(x, 2) for x in seen]} "
        f"made {[round(x, 2) for x in made]}; reported down {down_s:.2f} up {up_s:.2f} "
        f"longest {_s(uptime.outages.longest):.2f}; expected {_s(coverage.expected):.2f} "
        f"recorded {_s(coverage.recorded):.2f}"
    )
    tolerance = 1.0 * len(SCHEDULE)
    # Uptime: the outages as the test saw the camera go OFFLINE and come back ONLINE.
    assert uptime.outages.count == len(SCHEDULE)
    assert abs(down_s - sum(seen)) <= tolerance
    assert abs(_s(uptime.outages.total) - sum(seen)) <= tolerance
    assert abs(_s(uptime.outages.longest) - max(seen)) <= 1.0
    assert abs(up_s + down_s - range_s) <= 1.0  # online at the start: every second known
    assert abs(uptime.uptime - (range_s - sum(seen)) / range_s) <= tolerance / range_s
    assert abs(_s(uptime.outages.mtbf) - up_s / len(SCHEDULE)) <= 0.01
    # Coverage: recording was expected all along (the stops are gaps, CAMERA_STOPPED); what
    # was not recorded is the time the publisher was stopped.
    expected_s, recorded_s = _s(coverage.expected), _s(coverage.recorded)
    # Not recorded: at least the time the publisher was stopped, at most the time the camera
    # was seen OFFLINE (a restarted publisher's first packet, on a loaded machine, comes a
    # second or more after its process starts; ONLINE and the next segment follow it).
    assert abs(expected_s - range_s) <= 1.0
    assert sum(made) - tolerance <= expected_s - recorded_s <= sum(seen) + tolerance
    assert coverage.coverage == pytest.approx(recorded_s / expected_s, abs=0.001)
    (gaps,) = coverage.gaps
    assert gaps.cause == recording_pb2.GAP_CAUSE_CAMERA_STOPPED and gaps.count == len(SCHEDULE)
    assert sum(made) - tolerance <= _s(gaps.total) <= sum(seen) + tolerance


async def _settled(
    stack: Stack, camera_id: str, start: datetime, end: datetime
) -> tuple[analytics_pb2.CameraUptime, analytics_pb2.CameraCoverage]:
    """The camera's uptime and coverage over [start, end) once the history has caught up with
    the run (the interval writer follows the event log every second, segments arrive as they
    close)."""
    assert stack.channel is not None
    stub = analytics_pb2_grpc.AnalyticsServiceStub(stack.channel)
    time_range = analytics_pb2.TimeRange(start_time=ts(start), end_time=ts(end))
    only = f'camera_id = "{camera_id}"'
    range_s = (end - start).total_seconds()
    deadline = time.monotonic() + 30
    while True:
        uptime = await stub.GetUptime(
            analytics_pb2.GetUptimeRequest(range=time_range, filter=only), metadata=stack.admin
        )
        coverage = await stub.GetCoverage(
            analytics_pb2.GetCoverageRequest(range=time_range, filter=only), metadata=stack.admin
        )
        camera = uptime.cameras[0]
        # The fleet of one camera is that camera.
        assert uptime.fleet_uptime == camera.uptime
        assert coverage.fleet_coverage == coverage.cameras[0].coverage
        known = _s(camera.up) + _s(camera.down)
        if camera.outages.count >= len(SCHEDULE) and known >= range_s - 1:
            return camera, coverage.cameras[0]
        assert time.monotonic() < deadline, f"history not caught up: {camera}\n{stack.log_text()}"
        await asyncio.sleep(1)
