"""camfleet.v1.EventService: WatchEvents over the event log.

Watchers that have caught up share one follower of the log (fanout.py) and are handed
WatchEventsResponse bytes built once per kind of watcher (delivery.py); a watcher behind it
(resuming from an older revision, or detached as slow) reads the log on its own until it has
caught up. Either way it gets the same events in the same order, each once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from camfleet.v1 import event_pb2, event_pb2_grpc

from server.common.wire import timestamp
from server.db.models import utcnow
from server.errors import InvalidArgument
from server.eventlog.log import EventLog, StoredEvent
from server.events.convert import FILTER_TYPES
from server.events.delivery import Kind, Preparer, View
from server.events.fanout import Fanout, Subscription
from server.events.filtering import compile_event_filter
from server.identity.principal import current_principal

# Responses a watcher may have waiting before it counts as slow (and reads on its own).
_QUEUE = 1000
_SERVICE = "camfleet.v1.EventService"


@dataclass
class _Position:
    """Where one watcher is."""

    seen: int  # the newest revision read from the log (sent or passed over)
    mark: int  # the revision of the last response sent (an event's or a bookmark's)
    sub: Subscription | None = None  # while attached to the shared follower


class EventServicer(event_pb2_grpc.EventServiceServicer):
    """Streams events from a revision on, with bookmarks while idle."""

    def __init__(self, log: EventLog, bookmark_every_s: float = 30.0) -> None:
        self._log = log
        self._bookmark_every = bookmark_every_s
        self._prepare = Preparer()
        self._fanout = Fanout(log, self._prepare, _QUEUE)

    async def WatchEvents(  # type: ignore[override]  # bytes: see add_event_service
        self, request: event_pb2.WatchEventsRequest, context: Any
    ) -> AsyncIterator[bytes]:
        if request.after_revision < 0:
            raise InvalidArgument.for_field("after_revision", "must not be negative")
        matches = compile_event_filter(request.filter, FILTER_TYPES)
        kind = Kind(View.of(current_principal()), request.filter, matches)
        # "From now" is the newest revision now: what the log's watch(0) starts from.
        after = request.after_revision or await self._log.current_revision()
        at = _Position(seen=after, mark=after)
        # A running follower at this very revision proves the log accepts it; otherwise the
        # log is asked first (it may answer REVISION_COMPACTED).
        if self._fanout.following(after):
            at.sub = self._fanout.attach(kind, after)
        while True:
            sub = at.sub
            if sub is None:
                async for data in self._alone(kind, at):
                    yield data
                continue
            # What the follower hands this watcher, until it is detached (inline: a generator
            # layer per delivery costs).
            pending = sub.pending
            sub.alarm(self._bookmark_every)
            try:
                while True:
                    if pending:
                        while pending:
                            revision, data = pending.popleft()
                            at.seen = at.mark = revision
                            yield data
                        sub.idle = False  # it was not: it just sent
                    elif sub.resume_after is not None:
                        at.seen = sub.resume_after
                        break
                    elif sub.idle:
                        sub.idle = False
                        yield await self._bookmark(at)
                    sub.touch()
                    await sub.wait()
            finally:
                sub.stop()
                self._fanout.leave(sub)
                at.sub = None

    async def _bookmark(self, at: _Position) -> bytes:
        at.mark = max(at.mark, await self._log.current_revision())
        return event_pb2.WatchEventsResponse(
            event=event_pb2.Event(
                revision=at.mark, type=event_pb2.EVENT_TYPE_BOOKMARK, time=timestamp(utcnow())
            )
        ).SerializeToString()

    async def _alone(self, kind: Kind, at: _Position) -> AsyncIterator[bytes]:
        """Events after `at.seen` read from the log by this watcher alone, until it has caught
        up with the shared follower."""
        # A reader task feeds a queue, so waiting for a bookmark never cancels the log's
        # iterator mid-step; a reader error is handed over the same way: REVISION_COMPACTED, or
        # a failed database read, which ends the call (UNAVAILABLE) instead of leaving the
        # watcher with bookmarks and no events.
        queue: asyncio.Queue[StoredEvent | Exception] = asyncio.Queue(_QUEUE)

        async def read(after: int) -> None:
            try:
                async for stored in self._log.watch(after):
                    await queue.put(stored)
            except Exception as err:
                await queue.put(err)

        reader = asyncio.create_task(read(at.seen))
        try:
            while True:
                try:
                    async with asyncio.timeout(self._bookmark_every):
                        item = await queue.get()
                except TimeoutError:
                    yield await self._bookmark(at)
                else:
                    if isinstance(item, Exception):
                        raise item
                    at.seen = at.mark = item.revision
                    data = self._prepare(item).response(kind)
                    if data is not None:
                        yield data
                # Everything read was sent, and the follower is just there (or not running):
                # the rest comes from it. Attached before the reader stops: whatever the reader
                # reads after this point is the follower's to send, and is dropped here.
                if queue.empty() and self._fanout.can_attach(at.seen):
                    at.sub = self._fanout.attach(kind, at.seen)
                    return
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


def _as_is(data: bytes) -> bytes:
    return data


def add_event_service(servicer: EventServicer, server: grpc.aio.Server) -> None:
    """Register EventService as the generated add_EventServiceServicer_to_server does, but
    with WatchEvents' responses passed through as the bytes the servicer built."""
    handlers = {
        "WatchEvents": grpc.unary_stream_rpc_method_handler(
            servicer.WatchEvents,
            request_deserializer=event_pb2.WatchEventsRequest.FromString,
            response_serializer=_as_is,
        )
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))
    # As the generated code does (grpc's stubs do not declare it yet).
    server.add_registered_method_handlers(_SERVICE, handlers)  # type: ignore[attr-defined]
