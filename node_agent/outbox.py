"""Messages to the control plane: every ConnectRequest gets a fresh event id and time, and stream
events (node_agent.reports) go through the on-disk spool, in their wire form, until the control
plane acknowledges them."""

from __future__ import annotations

import asyncio
import logging
import uuid

from camfleet.v1 import agent_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.convert import stream_event_to_proto
from node_agent.reports import StreamEvent
from node_agent.spool import Spool

log = logging.getLogger(__name__)


def stamped(request: agent_pb2.ConnectRequest) -> agent_pb2.ConnectRequest:
    """`request` with a new unique event id and the current time."""
    request.event_id = uuid.uuid4().hex
    now = Timestamp()
    now.GetCurrentTime()
    request.time.CopyFrom(now)
    return request


class Outbox:
    """Spools stream events and wakes whoever sends them."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        # Set whenever something is spooled; the sender clears it before looking.
        self.changed = asyncio.Event()

    async def emit(self, event: StreamEvent) -> str:
        """Spool `event` (as a complete ConnectRequest, resent verbatim); its event id."""
        request = stamped(agent_pb2.ConnectRequest(stream_event=stream_event_to_proto(event)))
        await self.spool.put(request.event_id, request.SerializeToString())
        self.changed.set()
        log.debug("spooled %s %s %s", event.kind.name, event.camera_id, request.event_id)
        return request.event_id
