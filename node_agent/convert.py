"""The agent's edge to the wire: agent_pb2 messages ⇄ the typed objects its logic works on.
Besides this module, only the edges touch camfleet.v1: node_agent.messages and
node_agent.connection (the Connect protocol), node_agent.control_plane (unary calls), and
node_agent.outbox and node_agent.recording.wire (events spooled in their wire form)."""

from __future__ import annotations

from camfleet.v1 import agent_pb2, recording_pb2, stream_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.desired import (
    DEFAULT_EXPORT_CACHE_BYTES,
    DEFAULT_EXPORTS_PER_NODE,
    DEFAULT_EXPORTS_PER_PRINCIPAL,
    DEFAULT_MAX_CLIP_S,
    DEFAULT_MAX_URL_TTL_S,
    AssignedCamera,
    Assignment,
    ColdStorage,
    Ingest,
    NodeSettings,
    PlaybackPolicy,
    RecordingProfile,
    RevokedGrant,
)
from node_agent.reports import StreamEvent, StreamEventKind, StreamReport

_INGEST = {
    agent_pb2.ASSIGNED_INGEST_PUSH: Ingest.PUSH,
    agent_pb2.ASSIGNED_INGEST_PULL: Ingest.PULL,
}
_PROFILES = {
    recording_pb2.RECORDING_PROFILE_ORIGINAL: RecordingProfile.ORIGINAL,
    recording_pb2.RECORDING_PROFILE_LOW: RecordingProfile.LOW,
    recording_pb2.RECORDING_PROFILE_MEDIUM: RecordingProfile.MEDIUM,
    recording_pb2.RECORDING_PROFILE_HIGH: RecordingProfile.HIGH,
    recording_pb2.RECORDING_PROFILE_ULTRA: RecordingProfile.ULTRA,
}
_PROFILES_WIRE = {profile: wire for wire, profile in _PROFILES.items()}


def profile_to_proto(profile: RecordingProfile) -> recording_pb2.RecordingProfile:
    """The wire's RecordingProfile of `profile`."""
    return _PROFILES_WIRE[profile]


def profile_from_proto(profile: recording_pb2.RecordingProfile) -> RecordingProfile:
    """The profile to record: UNSPECIFIED, and a profile this agent does not know, record the
    original stream."""
    return _PROFILES.get(profile, RecordingProfile.ORIGINAL)


def _seconds(duration: Duration) -> float:
    return duration.ToNanoseconds() / 1e9


def camera_from_proto(camera: agent_pb2.AssignedCamera) -> AssignedCamera:
    """An AssignedCamera; an ingest this agent does not know is UNSPECIFIED (and NACKed)."""
    return AssignedCamera(
        camera_id=camera.camera_id,
        name=camera.name,
        ingest=_INGEST.get(camera.ingest, Ingest.UNSPECIFIED),
        stream_key=camera.stream_key,
        source_url=camera.source_url,
        record=camera.record,
        record_profile=profile_from_proto(camera.record_profile),
        retention_max_age_s=_seconds(camera.retention_max_age),
        retention_max_bytes=camera.retention_max_bytes,
        epoch=camera.epoch,
        ladder=tuple(camera.ladder),
    )


def policy_from_proto(policy: agent_pb2.PlaybackPolicy) -> PlaybackPolicy:
    """The policy an assignment sends; unset fields keep the defaults."""
    ttl = _seconds(policy.max_url_ttl)
    clip = _seconds(policy.max_clip_duration)
    return PlaybackPolicy(
        max_url_ttl_s=ttl if ttl > 0 else DEFAULT_MAX_URL_TTL_S,
        max_clip_s=clip if clip > 0 else DEFAULT_MAX_CLIP_S,
        export_cache_bytes=policy.export_cache_bytes or DEFAULT_EXPORT_CACHE_BYTES,
        exports_per_node=policy.exports_per_node or DEFAULT_EXPORTS_PER_NODE,
        exports_per_principal=policy.exports_per_principal or DEFAULT_EXPORTS_PER_PRINCIPAL,
    )


def settings_from_proto(settings: agent_pb2.AgentSettings) -> NodeSettings:
    """The settings an assignment sends; an unset (or non-positive) field is None: the agent's
    flag holds."""

    def positive(duration: Duration) -> float | None:
        seconds = _seconds(duration)
        return seconds if seconds > 0 else None

    return NodeSettings(
        hls_fragment_s=positive(settings.hls_fragment),
        hls_playlist_length_s=positive(settings.hls_playlist_length),
        segment_s=positive(settings.segment_length),
        free_space_floor_bytes=settings.free_space_floor_bytes or None,
        warm_after_s=positive(settings.warm_after),
        cold=(
            ColdStorage(
                endpoint=settings.cold.endpoint,
                bucket=settings.cold.bucket,
                prefix=settings.cold.prefix,
                access_key=settings.cold.access_key,
                secret_key=settings.cold.secret_key,
                after_s=_seconds(settings.cold.after),
                region=settings.cold.region or "us-east-1",
            )
            if settings.HasField("cold") and settings.cold.bucket
            else None
        ),
    )


def assignment_from_proto(assignment: agent_pb2.Assignment) -> Assignment:
    """The typed Assignment of a wire one (or of the file an agent before the JSON one kept,
    node_agent.state)."""
    return Assignment(
        version=assignment.version,
        cameras=tuple(camera_from_proto(c) for c in assignment.cameras),
        revoked_grants=tuple(
            RevokedGrant(
                g.principal,
                g.not_before.ToMicroseconds() / 1e6 if g.HasField("not_before") else 0.0,
            )
            for g in assignment.revoked_grants
        ),
        playback=policy_from_proto(assignment.playback),
        settings=settings_from_proto(assignment.settings),
    )


def stored_wire_assignment(data: bytes) -> Assignment:
    """The assignment in the file agents before the JSON one kept (a serialized
    agent_pb2.Assignment, node_agent.state); ValueError if it does not parse."""
    try:
        return assignment_from_proto(agent_pb2.Assignment.FromString(data))
    except DecodeError as exc:
        raise ValueError(f"not a stored assignment: {exc}") from None


_STREAM_EVENT_TYPES = {
    StreamEventKind.PUBLISH: stream_pb2.STREAM_EVENT_TYPE_PUBLISH,
    StreamEventKind.MEDIA: stream_pb2.STREAM_EVENT_TYPE_MEDIA,
    StreamEventKind.UNPUBLISH: stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH,
    StreamEventKind.ERROR: stream_pb2.STREAM_EVENT_TYPE_ERROR,
    StreamEventKind.REFUSED: stream_pb2.STREAM_EVENT_TYPE_REFUSED,
}


def stream_event_to_proto(event: StreamEvent) -> agent_pb2.StreamEvent:
    """The wire form of a stream event."""
    return agent_pb2.StreamEvent(
        type=_STREAM_EVENT_TYPES[event.kind],
        camera_id=event.camera_id,
        message=event.message,
        remote_address=event.remote_address,
        stream_key_prefix=event.stream_key_prefix,
    )


def report_to_proto(report: StreamReport) -> agent_pb2.StreamReport:
    """The wire form of a stream report (in Hello and Heartbeat)."""
    start = Timestamp()
    start.FromNanoseconds(int(report.publish_started * 1e9))
    message = agent_pb2.StreamReport(
        camera_id=report.camera_id,
        publish_start_time=start,
        media_flowing=report.media_flowing,
    )
    stat = report.stat
    if stat is not None:
        message.bitrate_bps = stat.bitrate_bps
        message.fps = stat.fps
        message.width = stat.width
        message.height = stat.height
        message.video_codec = stat.video_codec
        message.audio_codec = stat.audio_codec
        message.clients = stat.clients
    return message
