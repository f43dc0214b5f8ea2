"""Flow control of the Connect stream's spooled events (node_agent.connection)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

# Spooled events sent and not yet acknowledged, at most. The control plane reads a stream's
# messages in order and stores events one at a time (~5-20 ms each), so whatever is written is
# read in turn: with a spool's whole backlog written at once (a restart after an outage), a
# heartbeat sat behind thousands of reports in gRPC's buffers and the node was declared LOST
# every 4-5 s (issue 17). With a window, a heartbeat or an assignment ACK waits behind at most
# this many events; 32 still keeps the control plane busy across a 100 ms round trip.
SEND_WINDOW = 32


class SendWindow:
    """Flow control of spooled events on one stream: room() waits while `size` events are
    unacknowledged (the control plane acknowledges each once stored)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._unacked: set[str] = set()
        self._changed = asyncio.Event()

    def sent(self, event_id: str) -> None:
        self._unacked.add(event_id)

    def acked(self, event_ids: Iterable[str]) -> None:
        self._unacked.difference_update(event_ids)
        self._changed.set()

    async def room(self) -> None:
        while len(self._unacked) >= self._size:
            self._changed.clear()
            await self._changed.wait()
