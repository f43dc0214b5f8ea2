"""What the agent tells the control plane about its live streams, as typed objects: stream
events (spooled by node_agent.outbox) and the stream reports of Hello and every Heartbeat.
node_agent.convert turns them into wire messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from node_agent.nginx.stat import StreamStat

# For refusals of keys the agent cannot map to a camera: never more of a key than this.
KEY_PREFIX_LENGTH = 6


class StreamEventKind(enum.Enum):
    """What happened to a stream."""

    PUBLISH = "publish"  # a publish was accepted
    MEDIA = "media"  # media is flowing
    UNPUBLISH = "unpublish"  # the publisher went away (or was dropped: see the message)
    ERROR = "error"
    REFUSED = "refused"  # a publish was refused (unknown key, inactive camera, already live)


@dataclass(frozen=True)
class StreamEvent:
    """One stream event."""

    kind: StreamEventKind
    camera_id: str = ""
    message: str = ""
    remote_address: str = ""
    stream_key_prefix: str = ""


def stream_event(
    kind: StreamEventKind,
    camera_id: str = "",
    message: str = "",
    remote_address: str = "",
    stream_key: str = "",
) -> StreamEvent:
    """A StreamEvent; of `stream_key` only the first few characters are kept."""
    return StreamEvent(kind, camera_id, message, remote_address, stream_key[:KEY_PREFIX_LENGTH])


@dataclass(frozen=True)
class StreamReport:
    """A live publish as Hello and Heartbeat report it."""

    camera_id: str
    # Wall clock (Unix seconds) of the accept.
    publish_started: float
    media_flowing: bool
    # nginx's last word on it (None: not in /stat yet).
    stat: StreamStat | None = None
