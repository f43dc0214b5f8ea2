"""Live facts about nodes and their streams, as the domain sees them (no wire format).

Agents report these on every heartbeat; presence (server/nodes/presence.py) keeps them, the
servicers and the event publisher turn them into API messages (server/nodes/convert.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from server.cameras.model import CameraStatus
from server.db.models import NodeRow

LIVE_STATUSES = (CameraStatus.CONNECTING, CameraStatus.ONLINE)


@dataclass(frozen=True)
class HostMetrics:
    """A node's host as its last heartbeat described it."""

    cpu_percent: float = 0.0
    memory_used_bytes: int = 0
    memory_total_bytes: int = 0
    disk_used_bytes: int = 0
    disk_total_bytes: int = 0
    load_average_1m: float = 0.0


# slots: a frozen dataclass with slots is built in 60 % of the time of one without, and these
# are made for every heartbeat (one NodeLive, a LiveStream per stream: ~11,000 a second for
# 1,000 nodes of 10 cameras). Not for the metrics types: presence encodes them with vars().
@dataclass(frozen=True, slots=True)
class NodeLive:
    """What presence knows of a node: its host and how many streams it serves."""

    host: HostMetrics
    stream_count: int


@dataclass(frozen=True)
class NodeView:
    """A stored node with its live facts (None when it has not heartbeated here), and its load
    from the placement state (server/nodes/load.py): cameras on it, and while it drains, the
    pull cameras still to move off it."""

    row: NodeRow
    live: NodeLive | None
    camera_count: int = 0
    drain_remaining: int = 0


@dataclass(frozen=True)
class StreamMetrics:
    """What a node measures of a stream it serves (values already made sane)."""

    bitrate_bps: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    video_codec: str = ""
    audio_codec: str = ""
    # Viewers and other readers of the stream on the node.
    clients: int = 0
    publish_start: datetime | None = None


@dataclass(frozen=True)
class StreamReport:
    """What an agent says about one stream it serves."""

    camera_id: str
    media_flowing: bool
    metrics: StreamMetrics = StreamMetrics()


@dataclass(frozen=True, slots=True)  # slots: see NodeLive
class LiveStream:
    """A camera's stream as users see it: its status, the node and the latest metrics."""

    camera_id: str
    status: CameraStatus
    node_id: str
    updated: datetime | None
    status_reason: str = ""
    metrics: StreamMetrics = StreamMetrics()

    @classmethod
    def reported(
        cls, report: StreamReport, status: CameraStatus, node_id: str, now: datetime
    ) -> LiveStream:
        """The stream a node's report describes, with the status the control plane gave it."""
        return cls(report.camera_id, status, node_id, now, metrics=report.metrics)


class StreamEventKind(enum.StrEnum):
    """What happened to a stream on a node (stored by value in stream_events.type)."""

    PUBLISH = "publish"
    MEDIA = "media"
    UNPUBLISH = "unpublish"
    ERROR = "error"
    REFUSED = "refused"


@dataclass(frozen=True)
class StreamEvent:
    """One stream event from a node's spool, with the time it happened on the node."""

    kind: StreamEventKind
    camera_id: str
    message: str
    at: datetime
    remote_address: str = ""
    # Refusals of keys the agent could not map to a camera carry only a prefix of the key.
    key_prefix: str = ""
