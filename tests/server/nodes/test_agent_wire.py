"""Agent messages into domain terms (server/nodes/agent_wire.py): times read by arithmetic must
be what protobuf's ToDatetime gives, and an out-of-range time is no time."""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from camfleet.v1 import agent_pb2, node_pb2
from google.protobuf import timestamp_pb2

from server.nodes.agent_wire import agent_time, heartbeat_from
from server.nodes.live import HostMetrics

MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799  # 0001-01-01 .. 9999-12-31
EDGES = [
    (0, 0),
    (1, 999_999_999),
    (-1, 5),
    (-5, 999_999_999),
    (1_733_400_000, 123_456_789),
    (MIN_SECONDS, 0),
    (MAX_SECONDS, 999_999_999),
    (MIN_SECONDS - 1, 0),
    (MAX_SECONDS + 1, 0),
    (10**12, 0),
    (-(10**12), 0),
    (5, -1),
    (5, 1_000_000_000),
]


def _reference(seconds: int, nanos: int) -> datetime | None:
    try:
        return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos).ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _report_start(seconds: int, nanos: int) -> datetime | None:
    message = agent_pb2.ConnectRequest(
        heartbeat=agent_pb2.Heartbeat(
            streams=[
                agent_pb2.StreamReport(
                    camera_id="c",
                    publish_start_time=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos),
                )
            ]
        )
    )
    return heartbeat_from(message).streams[0].metrics.publish_start


@pytest.mark.parametrize(("seconds", "nanos"), EDGES)
def test_publish_start_is_what_todatetime_gives(seconds: int, nanos: int) -> None:
    got = _report_start(seconds, nanos)
    assert got == _reference(seconds, nanos)
    assert got is None or got.tzinfo is UTC


def test_random_times_match_todatetime() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        seconds, nanos = rng.randint(MIN_SECONDS, MAX_SECONDS), rng.randint(0, 999_999_999)
        assert _report_start(seconds, nanos) == _reference(seconds, nanos)


def test_agent_time_out_of_range_is_now() -> None:
    before = datetime.now(UTC)
    message = agent_pb2.ConnectRequest(time=timestamp_pb2.Timestamp(seconds=MAX_SECONDS + 1))
    assert agent_time(message) >= before
    sent = agent_pb2.ConnectRequest(time=timestamp_pb2.Timestamp(seconds=1_733_400_000, nanos=7))
    assert agent_time(sent) == _reference(1_733_400_000, 7)


def test_no_publish_start_is_none() -> None:
    message = agent_pb2.ConnectRequest(
        heartbeat=agent_pb2.Heartbeat(streams=[agent_pb2.StreamReport(camera_id="c")])
    )
    assert heartbeat_from(message).streams[0].metrics.publish_start is None


def _beat(fps: float = 25.0, cameras: int = 3) -> agent_pb2.ConnectRequest:
    message = agent_pb2.ConnectRequest()
    for i in range(cameras):
        message.heartbeat.streams.add(
            camera_id=f"cam-{i}", media_flowing=True, fps=fps, width=1280, video_codec="h264"
        )
    return message


def test_an_unchanged_report_is_decoded_once_per_session() -> None:
    known: dict = {}  # type: ignore[type-arg]
    first = heartbeat_from(_beat(), known)
    again = heartbeat_from(_beat(), known)
    assert [a is b for a, b in zip(first.streams, again.streams, strict=True)] == [True] * 3
    assert again.streams == heartbeat_from(_beat()).streams  # what decoding afresh gives
    changed = _beat()
    changed.heartbeat.streams[1].fps = 30.0
    moved = heartbeat_from(changed, known)
    assert moved.streams[1].metrics.fps == 30.0 and moved.streams[0] is first.streams[0]
    # Changing the received message afterwards changes nothing kept (a copy is compared).
    changed.heartbeat.streams[1].fps = 12.0
    assert heartbeat_from(_beat(fps=25.0), known).streams[1].metrics.fps == 25.0


def test_known_reports_stay_bounded_when_an_agent_names_ever_new_cameras() -> None:
    known: dict = {}  # type: ignore[type-arg]
    for n in range(500):
        message = agent_pb2.ConnectRequest()
        message.heartbeat.streams.add(camera_id=f"cam-{n}", media_flowing=True)
        heartbeat_from(message, known)
    assert len(known) <= 4 + 64 + 1


def test_host_metrics_carry_every_field_to_its_namesake() -> None:
    # host_from_proto builds HostMetrics positionally: a field added or reordered on either side
    # must not land in another's place.
    names = [f.name for f in fields(HostMetrics)]
    assert names == [f.name for f in node_pb2.HostMetrics.DESCRIPTOR.fields]
    host = node_pb2.HostMetrics(**{name: i + 1 for i, name in enumerate(names)})  # type: ignore[arg-type]
    message = agent_pb2.ConnectRequest(heartbeat=agent_pb2.Heartbeat(host=host))
    assert heartbeat_from(message).host == HostMetrics(**{n: i + 1 for i, n in enumerate(names)})  # type: ignore[arg-type]
