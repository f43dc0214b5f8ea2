"""One follower of the event log for every watcher that has caught up with it.

A watcher reading the log on its own costs a task wake-up, a queue hand-over, a decode, a
filter and a serialization per event; with 500 watchers that was ~80-100 µs of the control
plane's CPU per delivery (bench/README.md, bench_watch_fanout). Here one task follows the log
and, for each event, asks each kind of watcher (delivery.py) for its bytes once and appends
them to the pending deque of every watcher of that kind: per watcher, one append and a wake-up.

A watcher is attached only where the follower is (its last revision seen is the follower's),
so it misses nothing and sees nothing twice; a watcher behind it (resuming, or just connected
while events flow) reads the log on its own until it has caught up. A watcher that lets
`limit` responses pile up (a slow client) is detached: it reads on from the log on its own
from where it was, exactly as every watcher used to (the log's own rules for a slow reader
apply: older events from the table or Redis, or REVISION_COMPACTED). If the follower fails
(the log could not be read), every watcher is detached the same way and meets the error, or
not, on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from server.eventlog.log import EventLog
from server.events.delivery import Kind, Prepared, PrepareFn

log = logging.getLogger(__name__)

# (revision, serialized WatchEventsResponse); one tuple per kind and event, shared by its
# watchers.
Item = tuple[int, bytes]


class Subscription:
    """An attached watcher's share of the follower's work, and its idle alarm."""

    __slots__ = (
        "_alarm",
        "_idle_s",
        "_loop",
        "active_at",
        "idle",
        "kind",
        "pending",
        "resume_after",
        "waiter",
    )

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.pending: deque[Item] = deque()
        self.waiter: asyncio.Future[None] | None = None
        # Set when detached: the newest revision this watcher has been handed or passed over;
        # it reads on from the log after it (once `pending` is sent).
        self.resume_after: int | None = None
        # The idle alarm (bookmarks): one timer per period, re-armed from `active_at`, instead
        # of a timeout around every wait (a timer scheduled and cancelled per event).
        self._loop = asyncio.get_running_loop()
        self.active_at = self._loop.time()
        self.idle = False
        self._idle_s = 0.0
        self._alarm: asyncio.TimerHandle | None = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until something is pending, the subscription is detached or it is idle."""
        if self.pending or self.resume_after is not None or self.idle:
            return
        self.waiter = self._loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def alarm(self, idle_s: float) -> None:
        """Set `idle` (and wake the watcher) whenever nothing was sent for `idle_s` seconds
        (the watcher calls touch() as it sends)."""
        self._idle_s = idle_s
        self._alarm = self._loop.call_at(self.active_at + idle_s, self._ring)

    def touch(self) -> None:
        """The watcher sent something just now."""
        self.active_at = self._loop.time()

    def _ring(self) -> None:
        due = self.active_at + self._idle_s
        if self._loop.time() >= due:
            self.idle = True
            self._wake()
            due = self._loop.time() + self._idle_s
        self._alarm = self._loop.call_at(due, self._ring)

    def stop(self) -> None:
        """Stop the alarm (the watcher ended or reads on its own)."""
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None


class Fanout:
    """The shared follower and the watchers attached to it."""

    def __init__(self, events: EventLog, prepare: PrepareFn, limit: int) -> None:
        self._log = events
        self._prepare = prepare
        self._limit = limit
        self._kinds: dict[Kind, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        # The newest revision fanned out (or where the follower started), while it runs.
        self._cursor = 0

    def following(self, last: int) -> bool:
        """True when the follower runs and has fanned out everything up to `last`, no more."""
        return self._task is not None and self._cursor == last

    def can_attach(self, last: int) -> bool:
        """True when a watcher that has seen everything up to `last` may attach now (`last`
        must be a point the log accepted: the watcher has already read from it)."""
        return self._task is None or self._cursor == last

    def attach(self, kind: Kind, last: int) -> Subscription | None:
        """Attach a watcher that has seen everything up to `last`; None when the follower is
        elsewhere (see can_attach). Starts the follower at `last` when none runs."""
        if self._task is None:
            self._cursor = last
            self._task = asyncio.create_task(self._follow(last), name="watch-fanout")
        elif self._cursor != last:
            return None
        sub = Subscription(kind)
        self._kinds.setdefault(kind, set()).add(sub)
        return sub

    def leave(self, sub: Subscription) -> None:
        """The watcher ended (or was detached); the follower stops with its last watcher."""
        subs = self._kinds.get(sub.kind)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._kinds[sub.kind]
        if not self._kinds and self._task is not None:
            self._task.cancel()  # it ends on its own: nothing waits for it
            self._task = None

    def _detach(self, sub: Subscription, resume_after: int) -> None:
        sub.resume_after = resume_after
        sub._wake()
        self.leave(sub)

    async def _follow(self, after: int) -> None:
        me = asyncio.current_task()
        problem = "the log ended"
        try:
            async for stored in self._log.watch(after):
                if self._task is not me:  # stopped from within _fan: its last watcher left
                    return
                self._fan(stored.revision, self._prepare(stored))
        except Exception as exc:  # whatever it is, each watcher meets it on its own
            problem = str(exc) or type(exc).__name__
        except asyncio.CancelledError:
            problem = "cancelled"  # by leave() (then no longer ours), or by the server's end
            raise
        finally:
            if self._task is me:
                log.warning("watch fan-out stopped (%s); its watchers read on their own", problem)
                self._task = None
                for subs in list(self._kinds.values()):
                    for sub in list(subs):
                        self._detach(sub, self._cursor)

    def _fan(self, revision: int, prepared: Prepared) -> None:
        # No await in here: watchers attach, leave and are detached between events, never in
        # the middle of one.
        slow: list[Subscription] = []
        limit = self._limit
        for kind, subs in self._kinds.items():
            payload = prepared.response(kind)
            if payload is None:
                continue
            item = (revision, payload)
            for sub in subs:
                if len(sub.pending) >= limit:
                    slow.append(sub)
                    continue
                sub.pending.append(item)
                waiter = sub.waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
        for sub in slow:
            self._detach(sub, self._cursor)  # it was handed or passed everything before this
        self._cursor = revision
