"""Messages to the control plane: every ConnectRequest gets a fresh event id and time, and stream
events go through the on-disk spool until the control plane acknowledges them."""

from __future__ import annotations

import asyncio
import logging
import uuid

from camfleet.v1 import agent_pb2, stream_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.spool import Spool

log = logging.getLogger(__name__)

# For refusals of keys the agent cannot map to a camera: never more of a key than this.
KEY_PREFIX_LENGTH = 6


def stamped(request: agent_pb2.ConnectRequest) -> agent_pb2.ConnectRequest:
    """`request` with a new unique event id and the current time."""
    request.event_id = uuid.uuid4().hex
    now = Timestamp()
    now.GetCurrentTime()
    request.time.CopyFrom(now)
    return request


def stream_event(
    kind: stream_pb2.StreamEventType,
    camera_id: str = "",
    message: str = "",
    remote_address: str = "",
    stream_key: str = "",
) -> agent_pb2.StreamEvent:
    """A StreamEvent; of `stream_key` only the first few characters are kept."""
    return agent_pb2.StreamEvent(
        type=kind,
        camera_id=camera_id,
        message=message,
        remote_address=remote_address,
        stream_key_prefix=stream_key[:KEY_PREFIX_LENGTH],
    )


class Outbox:
    """Spools stream events and wakes whoever sends them."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        # Set whenever something is spooled; the sender clears it before looking.
        self.changed = asyncio.Event()

    async def emit(self, event: agent_pb2.StreamEvent) -> str:
        """Spool `event` (as a complete ConnectRequest, resent verbatim); its event id."""
        request = stamped(agent_pb2.ConnectRequest(stream_event=event))
        await self.spool.put(request.event_id, request.SerializeToString())
        self.changed.set()
        log.debug(
            "spooled %s %s %s",
            stream_pb2.StreamEventType.Name(event.type),
            event.camera_id,
            request.event_id,
        )
        return request.event_id
