"""The Connect stream's send window (node_agent.flow): at most so many spooled events in flight."""

from __future__ import annotations

import asyncio

from node_agent.flow import SendWindow


async def test_the_window_waits_for_acknowledgements_and_opens_on_them() -> None:
    window = SendWindow(2)
    await window.room()
    window.sent("a")
    await window.room()
    window.sent("b")
    waiting = asyncio.create_task(window.room())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    window.acked(["unknown"])  # not one of ours: still full
    await asyncio.sleep(0.05)
    assert not waiting.done()
    window.acked(["a"])
    await asyncio.wait_for(waiting, 5)
