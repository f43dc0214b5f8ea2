"""The WatchEvents filter on its own: the servicer's event-type vocabulary, the grammar's
precedence, and the errors a bad filter gets."""

from __future__ import annotations

import pytest
from camfleet.v1 import event_pb2

from server.errors import InvalidArgument
from server.events.convert import FILTER_TYPES
from server.events.filtering import EventFacts, EventTypes, compile_event_filter

CREATED = EventFacts(event_pb2.EVENT_TYPE_CAMERA_CREATED, "cameras/a")
DELETED = EventFacts(event_pb2.EVENT_TYPE_CAMERA_DELETED, "cameras/b")
NODE = EventFacts(event_pb2.EVENT_TYPE_NODE_UPDATED, "nodes/n")


@pytest.mark.parametrize(
    "name", ["CAMERA_CREATED", "camera_created", "EVENT_TYPE_CAMERA_CREATED", '"Camera_Created"']
)
def test_a_type_is_named_with_or_without_its_prefix_in_any_case(name: str) -> None:
    matches = compile_event_filter(f"type = {name}", FILTER_TYPES)
    assert [matches(e) for e in (CREATED, DELETED, NODE)] == [True, False, False]


def test_every_event_type_can_be_named() -> None:
    for name, value in event_pb2.EventType.items():
        matches = compile_event_filter(f"type = {name}", FILTER_TYPES)
        assert matches(EventFacts(value, "x"))


def test_an_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(InvalidArgument, match="unknown event type 'nope'; known: CAMERA_CREATED, "):
        compile_event_filter("type = nope", FILTER_TYPES)
    with pytest.raises(InvalidArgument) as err:
        compile_event_filter("type = nope", FILTER_TYPES)
    assert "UNSPECIFIED" not in str(err.value)
    assert "RECORDING_ADDED" in str(err.value)


def test_or_binds_tighter_than_and() -> None:
    matches = compile_event_filter(
        'type = CAMERA_DELETED OR type = NODE_UPDATED AND subject:"cameras/"', FILTER_TYPES
    )
    assert [matches(e) for e in (CREATED, DELETED, NODE)] == [False, True, False]


def test_the_vocabulary_is_the_callers() -> None:
    types = EventTypes(by_name={"PING": 7}, offered=("PING",))
    matches = compile_event_filter("type = ping", types)
    assert matches(EventFacts(7, "")) and not matches(EventFacts(8, ""))
    with pytest.raises(InvalidArgument, match=r"known: PING$"):
        compile_event_filter("type = CAMERA_CREATED", types)
