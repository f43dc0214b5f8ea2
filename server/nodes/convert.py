"""Nodes, live streams and stream events ⇄ camfleet.v1 messages (shared by the servicers, the
agent session's edge and the event publisher)."""

from __future__ import annotations

from dataclasses import asdict
from typing import cast

from camfleet.v1 import camera_pb2, event_pb2, node_pb2, stream_pb2

from server.cameras.model import CameraStatus
from server.common.wire import timestamp
from server.db.models import NodeRow, StreamEventRow
from server.nodes.live import (
    LIVE_STATUSES,
    HostMetrics,
    LiveStream,
    NodeLive,
    NodeView,
    StreamEventKind,
)
from server.nodes.registry import NodeState

NODE_STATES = {
    NodeState.READY.value: node_pb2.NODE_STATE_READY,
    NodeState.LOST.value: node_pb2.NODE_STATE_LOST,
    NodeState.OFFLINE.value: node_pb2.NODE_STATE_OFFLINE,
}
EVENT_KINDS = {
    stream_pb2.STREAM_EVENT_TYPE_PUBLISH: StreamEventKind.PUBLISH,
    stream_pb2.STREAM_EVENT_TYPE_MEDIA: StreamEventKind.MEDIA,
    stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH: StreamEventKind.UNPUBLISH,
    stream_pb2.STREAM_EVENT_TYPE_ERROR: StreamEventKind.ERROR,
    stream_pb2.STREAM_EVENT_TYPE_REFUSED: StreamEventKind.REFUSED,
}
_KIND_VALUES = {kind.value: value for value, kind in EVENT_KINDS.items()}
# The API's values are named after CameraStatus's members.
_CAMERA_STATUSES = {
    status: cast(
        "camera_pb2.CameraStatus", camera_pb2.CameraStatus.Value(f"CAMERA_STATUS_{status.name}")
    )
    for status in CameraStatus
}


def host_from_proto(host: node_pb2.HostMetrics) -> HostMetrics:
    """A heartbeat's host metrics (the domain type has the message's field names)."""
    # Positional, in HostMetrics' field order: this runs for every heartbeat (a test checks
    # the order against the dataclass).
    return HostMetrics(
        host.cpu_percent,
        host.memory_used_bytes,
        host.memory_total_bytes,
        host.disk_used_bytes,
        host.disk_total_bytes,
        host.load_average_1m,
    )


def node_to_proto(
    row: NodeRow, live: NodeLive | None = None, camera_count: int = 0, drain_remaining: int = 0
) -> node_pb2.Node:
    """API view of a node; `live` is what presence knows of it, the counts its load."""
    node = node_pb2.Node(
        id=row.id,
        name=row.name,
        state=NODE_STATES.get(row.state, node_pb2.NODE_STATE_UNSPECIFIED),
        state_reason=row.state_reason,
        schedulable=not row.cordoned,
        draining=row.draining,
        version=row.version,
        rtmp_url=row.rtmp_url,
        http_url=row.http_url,
        capacity=row.capacity,
        cpu_cores=row.cpu_cores,
        last_heartbeat_time=timestamp(row.last_heartbeat_at),
        create_time=timestamp(row.created_at),
        acked_assignment_version=row.acked_assignment_version,
        labels=row.labels or {},
        camera_count=camera_count,
        drain_remaining=drain_remaining if row.draining else 0,
    )
    if live is not None and row.state == NodeState.READY.value:
        node.host.CopyFrom(node_pb2.HostMetrics(**asdict(live.host)))
        node.stream_count = live.stream_count
    return node


def node_view_to_proto(view: NodeView) -> node_pb2.Node:
    """API view of a node with its live facts."""
    return node_to_proto(view.row, view.live, view.camera_count, view.drain_remaining)


def stream_to_proto(
    stream: LiveStream, *, uptime_at: float | None = None
) -> stream_pb2.StreamStatus:
    """API view of a stream; with `uptime_at` (unix seconds), a live stream's uptime then."""
    m = stream.metrics
    proto = stream_pb2.StreamStatus(
        camera_id=stream.camera_id,
        status=_CAMERA_STATUSES[stream.status],
        status_reason=stream.status_reason,
        node_id=stream.node_id,
        bitrate_bps=m.bitrate_bps,
        fps=m.fps,
        width=m.width,
        height=m.height,
        video_codec=m.video_codec,
        audio_codec=m.audio_codec,
        clients=m.clients,
        publish_start_time=timestamp(m.publish_start),
        update_time=timestamp(stream.updated),
    )
    if uptime_at is not None and m.publish_start and stream.status in LIVE_STATUSES:
        proto.uptime_seconds = max(0, int(uptime_at) - proto.publish_start_time.seconds)
    return proto


def stream_event_to_proto(row: StreamEventRow) -> stream_pb2.StreamEventRecord:
    """API view of a stored stream event."""
    return stream_pb2.StreamEventRecord(
        id=row.id,
        camera_id=row.camera_id,
        node_id=row.node_id,
        type=_KIND_VALUES.get(row.type, stream_pb2.STREAM_EVENT_TYPE_UNSPECIFIED),
        message=row.message,
        remote_address=row.remote_address,
        time=timestamp(row.time),
        receive_time=timestamp(row.received_at),
    )


def camera_placement(payload: bytes) -> tuple[str, tuple[str, ...]]:
    """(camera id, the nodes serving it: its node and its handover node, if any) of a camera
    event as stored on the event log."""
    camera = event_pb2.Event.FromString(payload).camera
    return camera.id, tuple(n for n in (camera.node_id, camera.handover_node_id) if n)
