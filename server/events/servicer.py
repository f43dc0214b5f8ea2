"""camfleet.v1.EventService: WatchEvents over the event log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from camfleet.v1 import event_pb2, event_pb2_grpc

from server.cameras.redaction import may_edit_cameras, shown_source_url
from server.common.wire import timestamp
from server.db.models import utcnow
from server.errors import InvalidArgument
from server.eventlog.log import EventLog, StoredEvent
from server.events.convert import FILTER_TYPES
from server.events.filtering import EventFacts, compile_event_filter
from server.identity.permissions import Permission
from server.identity.principal import current_principal

_QUEUE = 1000


class EventServicer(event_pb2_grpc.EventServiceServicer):
    """Streams events from a revision on, with bookmarks while idle."""

    def __init__(self, log: EventLog, bookmark_every_s: float = 30.0) -> None:
        self._log = log
        self._bookmark_every = bookmark_every_s

    async def WatchEvents(
        self, request: event_pb2.WatchEventsRequest, context: Any
    ) -> AsyncIterator[event_pb2.WatchEventsResponse]:
        if request.after_revision < 0:
            raise InvalidArgument.for_field("after_revision", "must not be negative")
        matches = compile_event_filter(request.filter, FILTER_TYPES)
        principal = current_principal()
        show_secrets = principal.can(Permission.STREAM_KEYS_READ)
        may_edit = may_edit_cameras(principal)
        # Node, stream, recording and alert events need their own read permission; others never
        # see them.
        hidden = {
            resource
            for resource, permission in (
                ("node", Permission.NODES_READ),
                ("stream", Permission.STREAMS_READ),
                ("recording", Permission.RECORDINGS_READ),
                ("alert", Permission.ALERTS_READ),
            )
            if not principal.can(permission)
        }
        # Settings changes carry no resource, only the group and its new version, but which
        # group changed when is still the settings' history: settings.read, like
        # ListSettingsHistory.
        hidden_types = (
            set()
            if principal.can(Permission.SETTINGS_READ)
            else {event_pb2.EVENT_TYPE_SETTINGS_CHANGED}
        )
        if not principal.can(Permission.NODES_READ):
            # A node's storage tier events name the node and why its moves stopped.
            hidden_types.add(event_pb2.EVENT_TYPE_STORAGE_TIER_CHANGED)
        # A reader task feeds a queue, so waiting for a bookmark never cancels the log's
        # iterator mid-step; a reader error is handed over the same way: REVISION_COMPACTED, or
        # a failed database read, which ends the call (UNAVAILABLE) instead of leaving the
        # watcher with bookmarks and no events.
        queue: asyncio.Queue[StoredEvent | Exception] = asyncio.Queue(_QUEUE)

        async def read() -> None:
            try:
                async for stored in self._log.watch(request.after_revision):
                    await queue.put(stored)
            except Exception as err:
                await queue.put(err)

        reader = asyncio.create_task(read())
        last = request.after_revision
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: see _Ring.wait_past in server/eventlog/log.py.
                    async with asyncio.timeout(self._bookmark_every):
                        item = await queue.get()
                except TimeoutError:
                    last = max(last, await self._log.current_revision())
                    yield event_pb2.WatchEventsResponse(
                        event=event_pb2.Event(
                            revision=last,
                            type=event_pb2.EVENT_TYPE_BOOKMARK,
                            time=timestamp(utcnow()),
                        )
                    )
                    continue
                if isinstance(item, Exception):
                    raise item
                last = item.revision
                event = event_pb2.Event.FromString(item.payload)
                if event.WhichOneof("resource") in hidden or event.type in hidden_types:
                    continue
                if not matches(EventFacts(event.type, event.subject)):
                    continue
                event.revision = item.revision
                if not show_secrets and event.HasField("camera"):
                    event.camera.stream_key = ""
                    event.camera.source_url = shown_source_url(
                        event.camera.source_url, show_secrets=False, may_edit=may_edit
                    )
                yield event_pb2.WatchEventsResponse(event=event)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
