"""The agent's one reader of nginx's /stat: metrics for reports, MEDIA (what makes a camera
ONLINE) and vanished streams as events.

nginx-rtmp has no hook that fires when a publisher's media starts (on_publish comes before any,
on_update is a per-stream timer), so media is seen in /stat. Read once a second, that made ONLINE
wait half a second on average and up to a second after the first frame; so while some accepted
publish still waits for its media, /stat is read every fast_interval_s instead, from the moment
the publish is accepted. One reading serves every stream, so many cameras publishing at once
cost nginx no more requests than one; and a reading is never more often than once per
BUSY_FACTOR times its own cost, so a /stat made long by many streams cannot keep the agent busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from node_agent.nginx.stat import StreamStat
from node_agent.reports import StreamEvent
from node_agent.streams import StreamTracker

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
FAST_INTERVAL_S = 0.05
# While reading fast, wait at least this many times as long as the last reading took.
BUSY_FACTOR = 4.0

ReadStat = Callable[[], Awaitable[list[StreamStat] | None]]
Emit = Callable[[StreamEvent], Awaitable[object]]


class StatPoller:
    """Reads /stat with `read` into `streams` and hands the events to `emit`, every interval_s,
    or every fast_interval_s while a publish awaits its media (StreamTracker.awaiting_media)."""

    def __init__(
        self,
        read: ReadStat,
        streams: StreamTracker,
        emit: Emit,
        *,
        interval_s: float = INTERVAL_S,
        fast_interval_s: float = FAST_INTERVAL_S,
    ) -> None:
        self._read = read
        self._streams = streams
        self._emit = emit
        self.interval_s = interval_s
        self.fast_interval_s = fast_interval_s
        # Readings taken so far (what the tests count to bound nginx's load).
        self.readings = 0

    async def run(self) -> None:
        """Read until cancelled."""
        while True:
            started = time.monotonic()
            await self.read_once()
            await self._pause(time.monotonic() - started)

    async def read_once(self) -> None:
        """One reading of /stat, its events emitted."""
        self.readings += 1
        try:
            stats = await self._read()
            if stats is not None:
                for event in self._streams.observe(stats):
                    await self._emit(event)
        except Exception:
            log.exception("reading nginx's stream statistics failed")

    async def _pause(self, cost_s: float) -> None:
        if self._streams.awaiting_media():
            await asyncio.sleep(max(self.fast_interval_s, BUSY_FACTOR * cost_s))
            return
        # No await between the check above and clear(): an accept cannot fall in between.
        accepted = self._streams.accepted
        accepted.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.interval_s):
                await accepted.wait()
