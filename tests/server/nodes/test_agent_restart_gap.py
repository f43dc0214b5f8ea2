"""A node's agent that ended without a goodbye (SIGKILL, a crash, the host rebooting) and came
back before the node was declared lost: the Hello of the new agent says its uptime, which began
after the node's last heartbeat, so what the node was recording from that heartbeat on is a
node outage on the camera's timeline (NODE_LOST, the restart as its reason), not an unexplained
hole. A running agent that only reconnects (its link or the replica under its stream broke), or
an agent that does not say its uptime, opens nothing. The agent side is a test-driven gRPC
client; tests/e2e/test_recording.py kills a real agent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from camfleet.v1 import agent_pb2, recording_pb2_grpc
from camfleet.v1 import recording_pb2 as R

from server.recordings.causes import AGENT_RESTARTED_REASON
from tests.conftest import PlatformFactory
from tests.support.agent_stream import connect, heartbeat, hello, report
from tests.support.platform import Platform
from tests.support.recordings import recorder_changed, segment_closed, send_acked, timestamp


def _hello(camera_id: str, uptime_s: float) -> agent_pb2.Hello:
    said = hello(report(camera_id))
    said.uptime_seconds = uptime_s
    return said


async def _killed_and_back(
    plane: Platform, uptimes: list[float]
) -> tuple[list[R.RecordingGap], list[tuple[datetime, datetime]]]:
    """A node records a camera, heartbeats, and its stream ends with no goodbye; a Hello with
    the next of `uptimes` follows, then the camera's next segment and a heartbeat, and so on.
    The timeline's gaps; each silence's (end of the segment before, start of the one after)."""
    node = await plane.register_node()
    camera = await plane.new_camera(recording_enabled=True)
    first = datetime.now(UTC) - timedelta(seconds=9)
    segment = segment_closed(camera.id, first, first + timedelta(seconds=9))
    silences, said = [], _hello(camera.id, 3600)
    for uptime_s in [*uptimes, None]:
        async with connect(plane.channel, node.credential, said) as stream:
            await stream.receive_kind("welcome")
            resumed = datetime.now(UTC)
            if silences:
                silences[-1] = (silences[-1][0], resumed)
                segment = segment_closed(camera.id, resumed, resumed + timedelta(seconds=1))
            await send_acked(
                stream, recorder_changed(camera.id, R.RECORDING_STATE_RECORDING, "recording")
            )
            await send_acked(stream, segment)
            await stream.send(heartbeat(report(camera.id)))
            await asyncio.sleep(0.3)
            if uptime_s is None:
                await stream.finish()
                break
            silences.append((segment.segment_event.segment.end_time.ToDatetime(UTC), resumed))
        # The agent is gone without a word (its stream cancelled); a new one starts. (The
        # timeline closes holes up to 1.5 s: this one is longer.)
        await asyncio.sleep(2.5)
        said = _hello(camera.id, uptime_s)
    line = await recording_pb2_grpc.RecordingServiceStub(plane.channel).GetTimeline(
        R.GetTimelineRequest(
            camera_id=camera.id, start_time=timestamp(first), end_time=timestamp(datetime.now(UTC))
        ),
        metadata=plane.admin,
    )
    return list(line.gaps), silences


async def test_each_agent_back_without_a_goodbye_leaves_a_node_lost_gap(
    make_platform: PlatformFactory,
) -> None:
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.5), node_lost_after=timedelta(seconds=60)
    )
    # Killed twice: the first gap was closed by the first new agent's segment, or the second
    # restart could open none (one node-lost gap per camera is open at a time).
    gaps, silences = await _killed_and_back(plane, [0.2, 0.2])
    assert [(g.cause, g.reason) for g in gaps] == 2 * [
        (R.GAP_CAUSE_NODE_LOST, AGENT_RESTARTED_REASON)
    ]
    # Each from the end of the last segment (a moment before the last heartbeat) to the first
    # segment of the new agent.
    for gap, (stopped, resumed) in zip(gaps, silences, strict=True):
        assert abs(gap.start_time.ToDatetime(UTC) - stopped) < timedelta(milliseconds=2)
        assert abs(gap.end_time.ToDatetime(UTC) - resumed) < timedelta(milliseconds=2)


@pytest.mark.parametrize(
    "uptime_s", [3600.0, 0.0], ids=["a running agent reconnects", "an agent that does not say"]
)
async def test_no_node_lost_gap_without_a_restart_after_the_last_heartbeat(
    make_platform: PlatformFactory, uptime_s: float
) -> None:
    plane = await make_platform(
        heartbeat_interval=timedelta(seconds=0.5), node_lost_after=timedelta(seconds=60)
    )
    gaps, _ = await _killed_and_back(plane, [uptime_s])
    # The hole the test left between the segments is there, unexplained.
    assert [g.cause for g in gaps] == [R.GAP_CAUSE_UNKNOWN]
