"""A replica's camera cache for GetCamera and ListCameras, kept exact by the event log.

Every change to a camera row stages an event about `cameras/<id>` in its transaction (the
outbox), so the event log says, revision by revision, which cameras changed. The cache keeps
camera records and list pages read from the database and drops them when such an event is
applied (a deleted node, which clears `node_id` without camera events, drops everything).

A read is answered from memory only when the cache has applied every revision up to the log's
current one as this replica knows it (what its WatchEvents streams have been given) and up to
the newest revision this replica committed: a caller that wrote here reads its write, and a
caller never reads anything older than a revision this replica already showed it (a page's
revision, an event). The cache waits for that, bounded, else the database answers. A write
made on another replica is read here once this replica's log has it (milliseconds: every
replica tails the shared stream); asking Redis for the newest revision on every read, to close
that window too, cost more CPU than the database read it saves (a redis-py GET is 100-300 µs).
An entry read from the database while a change to it was applied is not kept: every entry is
stamped with the revision applied before its read, and kept only if no event about it came
since. A database read can show a write this replica's log has not yet delivered, so after each
one the database's event counter is read too, and memory answers again only once the cache has
applied that revision: otherwise a caller could read a write from the database and then the
state before it from memory (an entry kept while the follower was behind, CI 2026-12-06).
A broken or compacted follow clears everything and starts again; until then reads go to the
database. Permissions and redaction are applied by the servicer to whatever is returned,
as before, and label filters are part of each page's query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from server.common.listing import Page
from server.common.tasks import cancel_and_wait, raise_if_cancelling
from server.eventlog.log import EventLog, StoredEvent

log = logging.getLogger(__name__)
R = TypeVar("R")

_SUBJECT = "cameras/"
# The kinds of event that change cameras without an event about each: a node's deletion
# leaves its cameras without a node.
_CLEARS_ALL = ("EVENT_TYPE_NODE_DELETED", "node.deleted")
# Bounds: past them the oldest entries go (cameras), or everything starts again (the record
# of which cameras changed since the follow began).
_MAX_CAMERAS = 100_000
_MAX_PAGES = 256
_MAX_CHANGED = 200_000
# How long a read waits for the follower to apply a revision it must see before asking the
# database instead.
WAIT_S = 0.25


class CameraCache(Generic[R]):
    """Camera records (R) by id and pages of them by list request, exact by revision."""

    def __init__(
        self,
        events: EventLog,
        known_here: Callable[[], int],
        committed_here: Callable[[], int] = lambda: 0,
        database_revision: Callable[[], Awaitable[int]] | None = None,
        *,
        wait_s: float = WAIT_S,
    ) -> None:
        """`known_here`: the newest revision of the log this replica has (its watchers see);
        `committed_here`: the newest one this replica committed (read-your-writes);
        `database_revision`: the newest revision committed in the database (the counter), read
        after each database read (monotonic reads)."""
        self._events = events
        self._known_here = known_here
        self._committed_here = committed_here
        self._database_revision = database_revision
        self._shown = 0  # no database read answered here showed anything past this revision
        self._wait_s = wait_s
        self._following = False
        self._epoch = 0  # moves whenever everything is dropped
        self._applied = 0  # every revision up to this one is applied
        self._cameras: dict[str, R] = {}
        self._pages: dict[Hashable, Page[R]] = {}
        self._changed: dict[str, int] = {}  # camera id -> revision of its last event
        self._last_change = 0  # revision of the last camera event (pages)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._stores_answer: Callable[[], bool] = lambda: True

    def only_while(self, stores_answer: Callable[[], bool]) -> None:
        """Answer from memory only while `stores_answer()` (the health prober's verdict). A
        Redis that stopped answering without closing its socket leaves the follower waiting
        for events that cannot come, while it still looks caught up: another replica's writes
        would go unseen for the whole outage. The prober finds that within about two seconds
        (its ping's timeout); reads then go to the database, and lists take their revision from
        the log, which fails as the store does (UNAVAILABLE naming Redis)."""
        self._stores_answer = stores_answer

    @property
    def usable(self) -> bool:
        """Whether reads may be answered from memory now (see `only_while`)."""
        return self._following and self._stores_answer()

    @property
    def applied(self) -> int:
        """Every revision up to this one is applied (0: not following)."""
        return self._applied if self._following else 0

    def start(self) -> None:
        """Follow the event log until `close`."""
        self._task = asyncio.create_task(self._follow(), name="camera-cache")

    async def close(self) -> None:
        """Stop following; reads go to the database from now on."""
        self._following = False
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def camera(self, camera_id: str, read: Callable[[], Awaitable[R | None]]) -> R | None:
        """The camera `read` would return now (None: it does not exist)."""
        if await self._fresh():
            kept = self._cameras.get(camera_id)
            if kept is not None:
                return kept
        epoch, since = self._epoch, self._applied
        record = await read()
        await self._showed_database()
        if (
            record is not None
            and self._following
            and epoch == self._epoch
            and self._changed.get(camera_id, 0) <= since
        ):
            if len(self._cameras) >= _MAX_CAMERAS:
                self._cameras.pop(next(iter(self._cameras)), None)
            self._cameras[camera_id] = record
        return record

    async def page(
        self, key: Hashable, read: Callable[[], Awaitable[Page[R]]], revision: int | None = None
    ) -> Page[R]:
        """The page `read` would return now for the list request `key` (`revision`: from
        `revision()` when this call began, when the caller has it)."""
        if await self._fresh(revision):
            kept = self._pages.get(key)
            if kept is not None:
                return kept
        epoch, since = self._epoch, self._applied
        page = await read()
        await self._showed_database()
        if self._following and epoch == self._epoch and self._last_change <= since:
            if len(self._pages) >= _MAX_PAGES:
                self._pages.pop(next(iter(self._pages)), None)
            self._pages[key] = page
        return page

    def revision(self) -> int:
        """The log's newest revision on this replica: what a read beginning now must see (a
        list's revision, to watch from)."""
        return max(self._known_here(), self._committed_here(), self._shown)

    async def _showed_database(self) -> None:
        """A database read just answered: it may show revisions the follower has not applied."""
        if self._database_revision is not None:
            self._shown = max(self._shown, await self._database_revision())

    async def _fresh(self, revision: int | None = None) -> bool:
        """Whether the cache has applied everything a read beginning now must see."""
        if not self.usable:
            return False
        target = self.revision() if revision is None else max(revision, self._shown)
        if self._applied >= target:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._wait_s):
                await waiter
        return self.usable and self._applied >= target

    async def _follow(self) -> None:
        while True:
            raise_if_cancelling()
            try:
                start = await self._events.current_revision()
                self._reset(start)
                self._following = True
                async for event in self._events.watch(start):
                    self._apply(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # compacted or a broken log: start again from the database
                raise_if_cancelling()
                log.warning("camera cache: event log follow broke; starting again", exc_info=True)
            self._following = False
            self._release()
            await asyncio.sleep(1.0)

    def _reset(self, revision: int) -> None:
        """Drop everything: what is kept from now on is judged from `revision`."""
        self._epoch += 1
        self._cameras.clear()
        self._pages.clear()
        self._changed.clear()
        self._applied = self._last_change = revision

    def _apply(self, event: StoredEvent) -> None:
        if event.revision <= self._applied:
            return
        # Followed from 0 ("from now on"): where the follow really began is unknown.
        unsure = self._applied == 0
        if unsure or event.kind in _CLEARS_ALL or len(self._changed) >= _MAX_CHANGED:
            self._reset(event.revision)
        elif event.subject.startswith(_SUBJECT):
            camera_id = event.subject[len(_SUBJECT) :]
            self._cameras.pop(camera_id, None)
            self._changed[camera_id] = event.revision
            self._last_change = event.revision
            self._pages.clear()
        self._applied = event.revision
        self._release()

    def _release(self) -> None:
        """Wake the reads waiting for a revision now applied (all of them when not following)."""
        if not self._waiters:
            return
        waiting = []
        for target, waiter in self._waiters:
            if not self._following or target <= self._applied:
                if not waiter.done():
                    waiter.set_result(None)
            elif not waiter.done():
                waiting.append((target, waiter))
        self._waiters = waiting
