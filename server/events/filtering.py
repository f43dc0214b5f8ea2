"""The WatchEvents filter: AIP-160 terms on `type` and `subject`, matched in memory.

Grammar (AIP-160 precedence: OR binds tighter than AND):
    filter := group ("AND" group)*        group := term ("OR" term)*
    term   := "type" "=" NAME | "subject" "=" STRING | "subject" ":" STRING
where NAME is an event type of the caller's vocabulary (EventTypes; the servicer's comes from
server.events.convert), in any case, and ':' is a prefix match on the subject
(`subject:"cameras/"`). Parentheses are not needed with this precedence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from server.errors import InvalidArgument

_TERM = re.compile(
    r'^\s*(?P<field>type|subject)\s*(?P<op>=|:)\s*(?:"(?P<quoted>[^"\\]*)"|(?P<bare>[A-Za-z_]+))\s*$'
)
MAX_FILTER = 2000


@dataclass(frozen=True)
class EventTypes:
    """The event types a filter may name."""

    # Upper-case name as a filter may write it -> the type an event's EventFacts carry.
    by_name: Mapping[str, int]
    # Listed when a filter names a type it does not know.
    offered: tuple[str, ...]


@dataclass(frozen=True)
class EventFacts:
    """What a filter can look at."""

    type: int
    subject: str


Matcher = Callable[[EventFacts], bool]


def _term(text: str, types: EventTypes) -> Matcher:
    m = _TERM.match(text)
    if m is None:
        raise InvalidArgument.for_field(
            "filter",
            f"cannot read {text.strip()[:80]!r}; use type = CAMERA_UPDATED, subject = "
            '"cameras/<id>" or subject:"cameras/", joined with AND / OR',
        )
    value = m["quoted"] if m["quoted"] is not None else m["bare"]
    if m["field"] == "type":
        if m["op"] != "=":
            raise InvalidArgument.for_field("filter", "type supports = only")
        wanted = types.by_name.get(value.upper())
        if wanted is None:
            known = ", ".join(types.offered)
            raise InvalidArgument.for_field(
                "filter", f"unknown event type {value[:40]!r}; known: {known}"
            )
        return lambda e: e.type == wanted
    if m["op"] == "=":
        return lambda e: e.subject == value
    return lambda e: e.subject.startswith(value)


def compile_event_filter(text: str, types: EventTypes) -> Matcher:
    """A predicate over events whose types are named by `types`; InvalidArgument (naming the
    problem) for anything else."""
    if len(text) > MAX_FILTER:
        raise InvalidArgument.for_field("filter", f"must be at most {MAX_FILTER} characters")
    if any(ord(c) < 0x20 and c not in "\t\n" for c in text):
        raise InvalidArgument.for_field("filter", "must not contain control characters")
    if not text.strip():
        return lambda e: True
    groups = [
        [_term(term, types) for term in re.split(r"\bOR\b", group)]
        for group in re.split(r"\bAND\b", text)
    ]
    return lambda e: all(any(t(e) for t in group) for group in groups)
