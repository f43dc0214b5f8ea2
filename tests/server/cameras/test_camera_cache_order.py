"""The camera cache never answers from memory with a state older than one the database already
showed through it, even when the database is ahead of this replica's log (a write committed on
another replica whose event has not reached this one yet).

The replica's log is scripted here (which revisions it has delivered, and when), so that the
window between a commit and its delivery, milliseconds on the real pair of replicas in
test_camera_cache.py (where CI once saw "read 1 after having seen 2"), stays open as long as the
test needs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from server.cameras.cache import CameraCache
from server.common.listing import Page
from server.eventlog.log import StoredEvent


class _Replica:
    """A database with an event counter, and this replica's log of it, which delivers only
    what `deliver` lets through."""

    def __init__(self) -> None:
        self.value = "1"
        self.committed = 1  # the database's event counter
        self.delivered = 1  # what this replica's log has
        self._events: asyncio.Queue[StoredEvent] = asyncio.Queue()

    def commit(self, value: str) -> None:
        self.value, self.committed = value, self.committed + 1

    def deliver(self) -> None:
        while self.delivered < self.committed:
            self.delivered += 1
            self._events.put_nowait(StoredEvent(self.delivered, "camera.updated", "cameras/c", b""))

    async def current_revision(self) -> int:
        return self.delivered

    async def watch(self, after_revision: int) -> AsyncIterator[StoredEvent]:
        while True:
            yield await self._events.get()

    async def database_revision(self) -> int:
        return self.committed

    async def read_camera(self) -> str:
        return self.value

    async def read_page(self) -> Page[str]:
        return Page([self.value], "", 1)


async def _cache(replica: _Replica, *, database_revision: bool) -> CameraCache[str]:
    cache: CameraCache[str] = CameraCache(
        replica,  # type: ignore[arg-type]  # the log's two reading methods are what it uses
        lambda: replica.delivered,
        database_revision=replica.database_revision if database_revision else None,
        wait_s=0.05,
    )
    cache.start()
    async with asyncio.timeout(5):
        while cache.applied == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    return cache


async def _reads_after_a_write_not_yet_delivered(
    cache: CameraCache[str], replica: _Replica
) -> list[str]:
    """A page kept in memory, a write committed but not delivered, then a camera read (from the
    database: nothing kept for it) and the page again."""
    seen = [(await cache.page("all", replica.read_page)).items[0]]
    replica.commit("2")
    seen.append(await cache.camera("c", replica.read_camera) or "")
    seen.append((await cache.page("all", replica.read_page)).items[0])
    return seen


async def test_memory_never_answers_older_than_what_the_database_showed() -> None:
    replica = _Replica()
    cache = await _cache(replica, database_revision=True)
    try:
        assert await _reads_after_a_write_not_yet_delivered(cache, replica) == ["1", "2", "2"]
        # Once the log delivers the write, memory answers again, with it.
        replica.deliver()
        async with asyncio.timeout(5):
            while cache.applied < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
        assert (await cache.page("all", replica.read_page)).items == ["2"]
        replica.value = "not read: the page comes from memory"
        assert (await cache.page("all", replica.read_page)).items == ["2"]
    finally:
        await cache.close()


async def test_without_the_database_revision_the_page_would_go_back() -> None:
    """The failure the counter prevents, shown on the same script (so the test above can fail)."""
    replica = _Replica()
    cache = await _cache(replica, database_revision=False)
    try:
        assert await _reads_after_a_write_not_yet_delivered(cache, replica) == ["1", "2", "1"]
    finally:
        await cache.close()
