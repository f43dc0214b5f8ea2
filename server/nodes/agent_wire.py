"""The agent protocol (camfleet.v1 agent messages) ⇄ the hub's domain terms.

The one place the Connect stream's messages are taken apart and the Welcome is put together;
agent input is bounded and validated here, before anything stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from server.cameras.model import IngestMode
from server.common.validation import is_id
from server.db.models import utcnow
from server.errors import InvalidArgument
from server.nodes.connect_info import NodeHello
from server.nodes.convert import EVENT_KINDS, host_from_proto
from server.nodes.desired import AgentSettings, Assignment, ColdStorage, PlaybackPolicy
from server.nodes.live import HostMetrics, StreamEvent, StreamMetrics, StreamReport
from server.recordings.convert import (
    PROFILES,
    recorder_report_from_proto,
    segment_report_from_proto,
)
from server.recordings.reports import RecordingReport

if TYPE_CHECKING:  # hub_deps needs the assignment builder, which needs this module
    from server.nodes.hub_deps import SessionTerms

_CODEC_CHARS = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NANOS_PER_SECOND = 1_000_000_000
_INGEST = {
    IngestMode.PUSH: agent_pb2.ASSIGNED_INGEST_PUSH,
    IngestMode.PULL: agent_pb2.ASSIGNED_INGEST_PULL,
}


@dataclass(frozen=True)
class Hello:
    """The first message: who the node is and the streams it serves right now."""

    node: NodeHello
    streams: list[StreamReport]
    at: datetime
    # Seconds since the agent's process started; 0: not said (an older agent).
    uptime_s: float = 0.0


@dataclass(frozen=True)
class Heartbeat:
    """A heartbeat: host metrics and the streams' metrics, made at `at` on the node."""

    host: HostMetrics
    streams: list[StreamReport]
    at: datetime


def hello_from(message: agent_pb2.ConnectRequest) -> Hello:
    """The Hello of a ConnectRequest whose body is one."""
    hello = message.hello
    return Hello(
        NodeHello(hello.version, hello.capacity, hello.rtmp_url, hello.http_url, hello.cpu_cores),
        # A report of a camera that cannot exist is no stream of ours.
        [_report(r) for r in hello.streams if is_id(r.camera_id)],
        agent_time(message),
        # A NaN, a negative or an absurd uptime (over ten years) is not said.
        hello.uptime_seconds if 0 < hello.uptime_seconds < 3.2e8 else 0.0,
    )


# A session's stream reports as last received and decoded, by camera id (KnownReports).
KnownReports = dict[str, tuple[agent_pb2.StreamReport, StreamReport]]
# Past this many cameras per stream in the heartbeat the known reports start again (an agent
# that names ever new cameras must not grow them without bound).
_KNOWN_PER_STREAM = 4


def heartbeat_from(
    message: agent_pb2.ConnectRequest, known: KnownReports | None = None
) -> Heartbeat:
    """The Heartbeat of a ConnectRequest whose body is one. With `known` (the session's), a
    stream report equal to the camera's previous one is that one's decoded report again: a
    stream's numbers mostly stay put between heartbeats, and comparing two messages (in C) cost
    a tenth of decoding one."""
    beat = message.heartbeat
    streams = beat.streams
    if known is None:
        reports = [_report(r) for r in streams]
    else:
        if len(known) > _KNOWN_PER_STREAM * len(streams) + 64:
            known.clear()
        reports = []
        # Inline, not a call per report: ten per heartbeat, a thousand heartbeats a second.
        for report in streams:
            kept = known.get(report.camera_id)
            if kept is not None and kept[0] == report:
                reports.append(kept[1])
            else:
                reports.append(_known_report(report, known))
    return Heartbeat(host_from_proto(beat.host), reports, agent_time(message))


def _known_report(report: agent_pb2.StreamReport, known: KnownReports) -> StreamReport:
    """A report that changed (or came first): decoded, and kept for the next heartbeat."""
    decoded = _report(report)
    # A copy, made only when the report changed: the original keeps its whole request alive.
    copy = agent_pb2.StreamReport()
    copy.CopyFrom(report)
    known[report.camera_id] = (copy, decoded)
    return decoded


def welcome(session_id: str, node_id: str, terms: SessionTerms) -> agent_pb2.ConnectResponse:
    """The first response: the session, the heartbeat terms and the playback secret."""
    heartbeat = terms.heartbeat_interval
    lost_after = terms.lost_after.total_seconds()
    return agent_pb2.ConnectResponse(
        welcome=agent_pb2.Welcome(
            session_id=session_id,
            node_id=node_id,
            heartbeat_interval=duration_pb2.Duration(
                seconds=int(heartbeat.total_seconds()), nanos=heartbeat.microseconds * 1000
            ),
            lost_after=duration_pb2.Duration(
                seconds=int(lost_after), nanos=int((lost_after % 1) * 1e9)
            ),
            playback_secret=terms.playback_secret.hex(),
        )
    )


def assignment_to_proto(assignment: Assignment) -> agent_pb2.Assignment:
    """The Assignment message of a node's desired state."""
    return agent_pb2.Assignment(
        version=assignment.version,
        cameras=[
            agent_pb2.AssignedCamera(
                camera_id=c.camera_id,
                name=c.name,
                ingest=_INGEST[c.ingest],
                stream_key=c.stream_key,
                source_url=c.source_url,
                record=c.record,
                record_profile=PROFILES.get(
                    c.record_profile, recording_pb2.RECORDING_PROFILE_ORIGINAL
                ),
                retention_max_age=duration_pb2.Duration(seconds=c.retention_max_age_s),
                retention_max_bytes=c.retention_max_bytes,
                epoch=c.epoch,
                ladder=c.ladder,
            )
            for c in assignment.cameras
        ],
        revoked_grants=[
            agent_pb2.RevokedGrant(
                principal=g.principal,
                not_before=timestamp_pb2.Timestamp(
                    seconds=int(g.not_before.timestamp()), nanos=g.not_before.microsecond * 1000
                ),
            )
            for g in assignment.revoked_grants
        ],
        playback=_playback(assignment.playback),
        settings=_settings(assignment.settings),
    )


def _settings(settings: AgentSettings) -> agent_pb2.AgentSettings:
    """Unset (0) stays unset on the wire: the node keeps its own flag's value."""
    return agent_pb2.AgentSettings(
        hls_fragment=_seconds(settings.hls_fragment_s),
        hls_playlist_length=_seconds(settings.hls_playlist_length_s),
        segment_length=_seconds(settings.segment_s),
        free_space_floor_bytes=settings.free_space_floor_bytes,
        warm_after=_seconds(settings.warm_after_s),
        cold=_cold(settings.cold),
    )


def _cold(cold: ColdStorage | None) -> agent_pb2.ColdStorage | None:
    if cold is None:
        return None
    return agent_pb2.ColdStorage(
        endpoint=cold.endpoint,
        bucket=cold.bucket,
        prefix=cold.prefix,
        access_key=cold.access_key,
        secret_key=cold.secret_key,
        after=_seconds(cold.after_s),
        region=cold.region,
    )


def _seconds(value: float) -> duration_pb2.Duration | None:
    return _duration(timedelta(seconds=value)) if value > 0 else None


def _playback(policy: PlaybackPolicy) -> agent_pb2.PlaybackPolicy:
    return agent_pb2.PlaybackPolicy(
        max_url_ttl=_duration(policy.max_url_ttl),
        max_clip_duration=_duration(policy.max_clip_duration),
        export_cache_bytes=policy.export_cache_bytes,
        exports_per_node=policy.exports_per_node,
        exports_per_principal=policy.exports_per_principal,
    )


def _duration(value: timedelta | None) -> duration_pb2.Duration | None:
    if value is None:
        return None
    out = duration_pb2.Duration()
    out.FromTimedelta(value)
    return out


def agent_time(message: agent_pb2.ConnectRequest) -> datetime:
    """When the agent says the message was made; now if unset or absurd."""
    if message.HasField("time") and (at := _time(message.time)) is not None:
        return at
    return utcnow()


def _time(ts: timestamp_pb2.Timestamp) -> datetime | None:
    """`ts.ToDatetime(tzinfo=UTC)` by arithmetic, at half its cost (it runs for every stream of
    every heartbeat); None where that raises, out of range."""
    nanos = ts.nanos
    if not 0 <= nanos < _NANOS_PER_SECOND:
        return None
    try:
        return _EPOCH + timedelta(seconds=ts.seconds, microseconds=nanos // 1000)
    except OverflowError:
        return None


def event_id(message: agent_pb2.ConnectRequest) -> str:
    """The id a spooled event is stored (once) and acknowledged by."""
    value = message.event_id
    if not value or len(value) > 64:
        kind = (message.WhichOneof("body") or "").replace("_", " ")
        raise InvalidArgument(f"every {kind} needs an event_id of 1-64 characters")
    return value


def recording_event_from(message: agent_pb2.ConnectRequest) -> RecordingReport:
    """The segment or recorder event of a ConnectRequest whose body is one, as the node sent it
    (the recordings ingest checks it)."""
    if message.HasField("segment_event"):
        return segment_report_from_proto(message.segment_event)
    return recorder_report_from_proto(message.recorder_event)


def stream_event_from(message: agent_pb2.ConnectRequest) -> StreamEvent | None:
    """The stream event in domain terms; None when no one can use it."""
    event = message.stream_event
    kind = EVENT_KINDS.get(event.type)
    if kind is None or (event.camera_id and not is_id(event.camera_id)):
        return None
    return StreamEvent(
        kind=kind,
        camera_id=event.camera_id,
        message=event.message[:2000],
        at=agent_time(message),
        remote_address=event.remote_address[:64],
        key_prefix=event.stream_key_prefix[:6],
    )


def _report(report: agent_pb2.StreamReport) -> StreamReport:
    """A stream report, its numbers clamped to what makes sense."""
    start = _time(report.publish_start_time) if report.HasField("publish_start_time") else None
    # Positional, in StreamMetrics' field order: ten of these per heartbeat.
    metrics = StreamMetrics(
        max(0, report.bitrate_bps),
        max(0.0, report.fps),
        max(0, report.width),
        max(0, report.height),
        report.video_codec[:_CODEC_CHARS],
        report.audio_codec[:_CODEC_CHARS],
        max(0, report.clients),
        start,
    )
    return StreamReport(report.camera_id, report.media_flowing, metrics)
