"""What each watcher is sent for an event, computed once per kind of watcher, not per watcher.

A watcher's response to an event depends only on its permission class (which resources and
types it may see, how much of a camera's secrets) and its filter text. So an event is decoded
once, each filter is evaluated once, and the WatchEventsResponse bytes are built once per
permission class; every watcher of the same kind is handed the same bytes (the servicer
registers WatchEvents with a pass-through serializer). With 500 watchers that is the
difference between one decode, redaction and serialization per event and 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from camfleet.v1 import event_pb2

from server.cameras.redaction import may_edit_cameras, shown_source_url
from server.eventlog.log import StoredEvent
from server.events.filtering import EventFacts, Matcher
from server.identity.permissions import Permission
from server.identity.principal import Principal

# Node, stream, recording and alert events need their own read permission; others never see
# them.
_RESOURCE_PERMISSIONS = (
    ("node", Permission.NODES_READ),
    ("stream", Permission.STREAMS_READ),
    ("recording", Permission.RECORDINGS_READ),
    ("alert", Permission.ALERTS_READ),
)
# Prepared events kept for watchers that read on their own behind the shared follower: enough
# for a burst of them resuming from the same point to share the work.
_CACHED = 2048


@dataclass(frozen=True)
class View:
    """What a permission class may see of events (hashable: watchers of one class share it)."""

    hidden_resources: frozenset[str]
    hidden_types: frozenset[int]
    show_secrets: bool
    may_edit: bool

    @classmethod
    def of(cls, principal: Principal) -> View:
        """The view of `principal`'s permissions."""
        hidden_types = set()
        # Settings changes carry no resource, only the group and its new version, but which
        # group changed when is still the settings' history: settings.read, like
        # ListSettingsHistory.
        if not principal.can(Permission.SETTINGS_READ):
            hidden_types.add(event_pb2.EVENT_TYPE_SETTINGS_CHANGED)
        if not principal.can(Permission.NODES_READ):
            # A node's storage tier events name the node and why its moves stopped.
            hidden_types.add(event_pb2.EVENT_TYPE_STORAGE_TIER_CHANGED)
        return cls(
            hidden_resources=frozenset(
                resource for resource, needs in _RESOURCE_PERMISSIONS if not principal.can(needs)
            ),
            hidden_types=frozenset(hidden_types),
            show_secrets=principal.can(Permission.STREAM_KEYS_READ),
            may_edit=may_edit_cameras(principal),
        )

    def render(self, event: event_pb2.Event) -> bytes | None:
        """The serialized WatchEventsResponse for `event` (its revision set), or None when this
        class may not see it."""
        if event.WhichOneof("resource") in self.hidden_resources or event.type in self.hidden_types:
            return None
        if not self.show_secrets and event.HasField("camera"):
            shown = event_pb2.Event()
            shown.CopyFrom(event)
            shown.camera.stream_key = ""
            shown.camera.source_url = shown_source_url(
                shown.camera.source_url, show_secrets=False, may_edit=self.may_edit
            )
            event = shown
        return event_pb2.WatchEventsResponse(event=event).SerializeToString()


@dataclass(frozen=True)
class Kind:
    """A kind of watcher: its permission class and filter. Watchers of one kind get the same
    bytes for every event."""

    view: View
    filter_text: str
    # Compiled from the text: equal text, equal kind.
    matches: Matcher = field(compare=False)


_UNSEEN = b""  # a rendered response is never empty (it has an event), so this marks "not yet"


class Prepared:
    """One event, decoded once, with what each kind of watcher is sent for it."""

    __slots__ = ("_event", "_facts", "_matched", "_rendered", "stored")

    def __init__(self, stored: StoredEvent) -> None:
        self.stored = stored
        self._event: event_pb2.Event | None = None
        self._facts: EventFacts | None = None
        self._matched: dict[str, bool] = {}
        self._rendered: dict[View, bytes | None] = {}

    def _decoded(self) -> event_pb2.Event:
        if self._event is None:
            self._event = event_pb2.Event.FromString(self.stored.payload)
            self._event.revision = self.stored.revision
        return self._event

    def response(self, kind: Kind) -> bytes | None:
        """The bytes a watcher of `kind` is sent, or None when it is not sent this event."""
        matched = self._matched.get(kind.filter_text)
        if matched is None:
            if self._facts is None:
                event = self._decoded()
                self._facts = EventFacts(event.type, event.subject)
            matched = self._matched[kind.filter_text] = kind.matches(self._facts)
        if not matched:
            return None
        rendered = self._rendered.get(kind.view, _UNSEEN)
        if rendered is _UNSEEN:
            rendered = self._rendered[kind.view] = kind.view.render(self._decoded())
        return rendered


class Preparer:
    """Prepared events by revision, so watchers reading the same events share the work."""

    def __init__(self, size: int = _CACHED) -> None:
        self._size = size
        self._by_revision: dict[int, Prepared] = {}

    def __call__(self, stored: StoredEvent) -> Prepared:
        """`stored`, prepared (once while it stays cached)."""
        found = self._by_revision.get(stored.revision)
        # The same revision of another history (a database swapped under a resuming watcher)
        # is another event: compare what was stored, by identity first (the ring shares it).
        if found is not None and (found.stored is stored or found.stored == stored):
            return found
        prepared = self._by_revision[stored.revision] = Prepared(stored)
        if len(self._by_revision) > self._size:
            del self._by_revision[next(iter(self._by_revision))]  # the oldest added
        return prepared


PrepareFn = Callable[[StoredEvent], Prepared]
