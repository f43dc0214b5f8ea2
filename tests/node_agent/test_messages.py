"""The Connect protocol's message handling on the agent side, without a stream: the Hello and
Heartbeat it sends, Welcome (settings and playback secret), Assignment (ACK, NACK, stale, kept on
disk), EventAck (spool trimmed), and spooled events that go out byte for byte."""

from __future__ import annotations

import stat
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, stream_pb2
from google.protobuf.duration_pb2 import Duration

from node_agent import __version__
from node_agent.assignment import CurrentAssignment, validate_assignment
from node_agent.connection import _serialize
from node_agent.convert import assignment_from_proto
from node_agent.credentials import Credential
from node_agent.hostmetrics import HostMetrics
from node_agent.messages import AgentMessages, NodeInfo
from node_agent.outbox import Outbox
from node_agent.playback_auth import PlaybackSecret
from node_agent.reports import StreamEventKind, stream_event
from node_agent.spool import Spool
from node_agent.state import DataDir, load_assignment, load_playback_secret
from node_agent.streams import StreamTracker

INFO = NodeInfo(__version__, 16, "rtmp://127.0.0.1:1935/live", "http://127.0.0.1:8088")


def push(camera_id: str, key: str) -> agent_pb2.AssignedCamera:
    return agent_pb2.AssignedCamera(
        camera_id=camera_id, name=camera_id, ingest=agent_pb2.ASSIGNED_INGEST_PUSH, stream_key=key
    )


def assignment(version: int, *cameras: agent_pb2.AssignedCamera) -> agent_pb2.Assignment:
    return agent_pb2.Assignment(version=version, cameras=list(cameras))


@dataclass
class Side:
    """The agent's state and its side of the protocol."""

    data_dir: DataDir
    messages: AgentMessages
    assignment: CurrentAssignment
    streams: StreamTracker
    outbox: Outbox
    playback: PlaybackSecret


@pytest.fixture
async def side(tmp_path: Path) -> AsyncIterator[Side]:
    data_dir = DataDir(tmp_path / "node")
    data_dir.create()
    spool = Spool(data_dir.spool)
    current = CurrentAssignment(data_dir)
    streams = StreamTracker()
    outbox = Outbox(spool)
    playback = PlaybackSecret(data_dir)
    messages = AgentMessages(
        credential=Credential("node-1", "cfn_x"),
        info=INFO,
        assignment=current,
        streams=streams,
        outbox=outbox,
        playback=playback,
        host=HostMetrics(data_dir.root),
    )
    yield Side(data_dir, messages, current, streams, outbox, playback)
    spool.close()


def assert_stamped(request: agent_pb2.ConnectRequest) -> None:
    assert len(request.event_id) == 32
    uuid.UUID(hex=request.event_id)
    assert abs(request.time.ToDatetime().timestamp() - time.time()) < 5


# ----- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "error"),
    [
        (assignment(0), "version must be positive"),
        (assignment(-3), "version must be positive"),
        (assignment(1, push("", "k1")), "camera_id is empty"),
        (assignment(1, push("c1", "")), "a push camera needs a stream key"),
        (assignment(1, push("c1", "../etc")), "stream key has characters"),
        (assignment(1, push("c1", "k1"), push("c1", "k2")), "assigned twice"),
        (assignment(1, push("c1", "k1"), push("c2", "k1")), "stream key shared"),
        (
            assignment(1, agent_pb2.AssignedCamera(camera_id="c1", stream_key="k1")),
            "ingest must be push or pull",
        ),
        (
            assignment(
                1, agent_pb2.AssignedCamera(camera_id="c1", ingest=agent_pb2.ASSIGNED_INGEST_PULL)
            ),
            "a pull camera needs a source URL",
        ),
    ],
)
def test_invalid_assignments(candidate: agent_pb2.Assignment, error: str) -> None:
    found = validate_assignment(assignment_from_proto(candidate))
    assert found is not None
    assert error in found


def test_valid_assignments() -> None:
    assert validate_assignment(assignment_from_proto(assignment(1))) is None  # nothing: valid
    pull = agent_pb2.AssignedCamera(
        camera_id="c2", ingest=agent_pb2.ASSIGNED_INGEST_PULL, source_url="rtsp://cam/1"
    )
    valid = assignment(5, push("c1", "Ab_-9" * 6), pull)
    assert validate_assignment(assignment_from_proto(valid)) is None


# ----- Assignment ---------------------------------------------------------------------------


async def test_assignment_is_acked_applied_and_persisted(side: Side) -> None:
    [reply] = await side.messages.handle(
        agent_pb2.ConnectResponse(assignment=assignment(3, push("cam-a", "key-a")))
    )
    assert reply.WhichOneof("body") == "ack"
    assert reply.ack.version == 3
    assert_stamped(reply)
    assert side.assignment.version == 3
    camera = side.assignment.camera_for_key("key-a")
    assert camera is not None
    assert camera.camera_id == "cam-a"
    stored = assignment_from_proto(assignment(3, push("cam-a", "key-a")))
    assert load_assignment(side.data_dir) == stored
    assert stat.S_IMODE(side.data_dir.assignment.stat().st_mode) == 0o600
    # A restarted agent takes it from disk.
    again = CurrentAssignment(side.data_dir)
    again.load()
    assert again.version == 3
    assert again.camera_for_key("key-a") is not None


async def nacked(
    side: Side, in_force: agent_pb2.Assignment, sent: agent_pb2.Assignment, says: str
) -> agent_pb2.ConnectRequest:
    """With `in_force` applied, `sent` must get one reply: a NACK of its version saying `says`."""
    await side.messages.handle(agent_pb2.ConnectResponse(assignment=in_force))
    [reply] = await side.messages.handle(agent_pb2.ConnectResponse(assignment=sent))
    assert reply.WhichOneof("body") == "nack"
    assert reply.nack.version == sent.version
    assert says in reply.nack.error
    return reply


async def test_invalid_assignment_is_nacked_and_the_old_one_stays(side: Side) -> None:
    reply = await nacked(
        side,
        assignment(3, push("cam-a", "key-a")),
        assignment(4, push("cam-b", "")),
        "push camera needs a stream key",
    )
    assert_stamped(reply)
    assert side.assignment.version == 3
    assert side.assignment.camera_for_key("key-a") is not None
    stored = load_assignment(side.data_dir)
    assert stored is not None
    assert stored.version == 3


async def test_stale_assignment_is_nacked(side: Side) -> None:
    await nacked(
        side,
        assignment(5, push("cam-a", "key-a")),
        assignment(4, push("cam-b", "key-b")),
        "stale version",
    )
    assert side.assignment.version == 5
    assert side.assignment.camera_for_key("key-b") is None


async def test_same_version_again_is_acked(side: Side) -> None:
    # A control plane resending the version in force after a reconnect gets an ACK, not a NACK.
    for _ in range(2):
        [reply] = await side.messages.handle(
            agent_pb2.ConnectResponse(assignment=assignment(2, push("cam-a", "key-a")))
        )
        assert reply.WhichOneof("body") == "ack"


async def test_new_assignment_replaces_keys(side: Side) -> None:
    await side.messages.handle(
        agent_pb2.ConnectResponse(assignment=assignment(1, push("cam-a", "old-key")))
    )
    await side.messages.handle(
        agent_pb2.ConnectResponse(assignment=assignment(2, push("cam-a", "new-key")))
    )
    assert side.assignment.camera_for_key("old-key") is None
    new = side.assignment.camera_for_key("new-key")
    assert new is not None
    assert new.camera_id == "cam-a"


# ----- Hello and Heartbeat ------------------------------------------------------------------


async def test_hello_says_who_this_node_is(side: Side) -> None:
    await side.messages.handle(
        agent_pb2.ConnectResponse(assignment=assignment(9, push("cam-a", "key-a")))
    )
    side.streams.publish_started("key-a", "cam-a", "127.0.0.1")
    hello_request = side.messages.hello()
    assert_stamped(hello_request)
    hello = hello_request.hello
    assert hello.version == __version__
    assert hello.capacity == 16
    assert hello.rtmp_url == "rtmp://127.0.0.1:1935/live"
    assert hello.http_url == "http://127.0.0.1:8088"
    assert hello.assignment_version == 9
    [report] = hello.streams
    assert report.camera_id == "cam-a"
    assert report.media_flowing is False
    assert abs(report.publish_start_time.ToDatetime().timestamp() - time.time()) < 5
    # Every message is its own event.
    assert side.messages.hello().event_id != hello_request.event_id


async def test_hello_before_any_assignment_has_version_zero(side: Side) -> None:
    hello = side.messages.hello().hello
    assert hello.assignment_version == 0
    assert list(hello.streams) == []


async def test_heartbeat_carries_host_metrics_and_streams(side: Side) -> None:
    side.streams.publish_started("key-a", "cam-a", "127.0.0.1")
    request = side.messages.heartbeat()
    assert_stamped(request)
    host = request.heartbeat.host
    assert host.memory_total_bytes > host.memory_used_bytes > 0
    assert host.disk_total_bytes >= host.disk_used_bytes > 0
    assert 0 <= host.cpu_percent <= 100
    assert [s.camera_id for s in request.heartbeat.streams] == ["cam-a"]


# ----- Welcome ------------------------------------------------------------------------------


async def test_welcome_sets_the_heartbeat_and_stores_the_playback_secret(side: Side) -> None:
    secret = bytes(range(32))
    replies = await side.messages.handle(
        agent_pb2.ConnectResponse(
            welcome=agent_pb2.Welcome(
                session_id="s-1",
                node_id="node-1",
                heartbeat_interval=Duration(seconds=2),
                lost_after=Duration(seconds=6),
                playback_secret=secret.hex(),
            )
        )
    )
    assert replies == []
    assert side.messages.heartbeat_interval_s == 2.0
    assert side.messages.lost_after_s == 6.0
    assert side.messages.session_id == "s-1"
    assert side.playback.value == secret
    assert load_playback_secret(side.data_dir) == secret
    assert stat.S_IMODE(side.data_dir.playback_key.stat().st_mode) == 0o600


async def test_welcome_with_a_bad_secret_keeps_the_old_one(side: Side) -> None:
    good = bytes(range(32))
    await side.messages.on_welcome(agent_pb2.Welcome(playback_secret=good.hex()))
    await side.messages.on_welcome(agent_pb2.Welcome(playback_secret="not hex!"))
    assert side.playback.value == good
    assert load_playback_secret(side.data_dir) == good


async def test_welcome_without_an_interval_uses_a_default(side: Side) -> None:
    await side.messages.on_welcome(agent_pb2.Welcome(session_id="s"))
    assert side.messages.heartbeat_interval_s == 1.0
    await side.messages.on_welcome(agent_pb2.Welcome(heartbeat_interval=Duration(nanos=1_000_000)))
    assert side.messages.heartbeat_interval_s == 0.1  # never a busy loop


# ----- events -------------------------------------------------------------------------------


async def test_spooled_event_is_a_complete_request_sent_byte_for_byte(side: Side) -> None:
    event_id = await side.outbox.emit(
        stream_event(StreamEventKind.PUBLISH, "cam-a", remote_address="127.0.0.1")
    )
    [spooled] = side.outbox.spool.pending()
    assert spooled.event_id == event_id
    request = agent_pb2.ConnectRequest.FromString(spooled.payload)
    assert request.event_id == event_id
    assert_stamped(request)
    assert request.stream_event.type == stream_pb2.STREAM_EVENT_TYPE_PUBLISH
    assert request.stream_event.camera_id == "cam-a"
    # What goes on the wire for a resend is the stored bytes themselves.
    assert _serialize(spooled.payload) == spooled.payload


async def test_event_ack_trims_the_spool(side: Side) -> None:
    ids = [
        await side.outbox.emit(stream_event(StreamEventKind.MEDIA, f"cam-{i}")) for i in range(3)
    ]
    replies = await side.messages.handle(
        agent_pb2.ConnectResponse(event_ack=agent_pb2.EventAck(event_ids=[ids[0], ids[2], "x"]))
    )
    assert replies == []
    assert [e.event_id for e in side.outbox.spool.pending()] == [ids[1]]


async def test_ping_and_drain_need_no_reply(side: Side) -> None:
    assert await side.messages.handle(agent_pb2.ConnectResponse(ping=agent_pb2.Ping(nonce=1))) == []
    assert (
        await side.messages.handle(agent_pb2.ConnectResponse(drain=agent_pb2.Drain(reason="x")))
        == []
    )
    assert await side.messages.handle(agent_pb2.ConnectResponse()) == []


def test_refusal_of_an_unknown_key_keeps_only_its_prefix() -> None:
    event = stream_event(StreamEventKind.REFUSED, message="m", stream_key="abcdefghijkl")
    assert event.stream_key_prefix == "abcdef"
