"""The transactional outbox: an event is a row written in the transaction of its change.

Domain code stages events in the session that makes the change (`stage_event`). Just before
that session commits, the staged events take their revisions and are inserted into `events`
in the same transaction, so a change and its event commit together or not at all: a control
plane killed between the two can no longer lose the event. After the commit, the event log
(server/eventlog/) relays the new rows to watchers and, with Redis, to the shared stream; a relay
that died resumes from the table.

Why revisions come from a counter row, taken at the very end of the transaction: relays read
the table "after the revision I have" and must never pass over a revision that commits later.
On PostgreSQL, transactions that took revisions 6 and 7 from a sequence could commit 7 first;
a relay reading then would move past 6 for good. `UPDATE event_counter ... RETURNING` locks the
counter row until commit, so whoever holds 6 commits before anyone can take 7: revision order
is commit order, and what a relay reads after its cursor is complete and gap-free. Taking it
last holds that lock only for the INSERT and the COMMIT. (SQLite has one writer at a time
anyway; the same statement serves both.) The cost is that transactions writing events commit
one at a time; the alternatives (relay only up to the lowest uncommitted revision, or number
at relay time) need a second pass over every event or a second key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import event, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.db.models import EventCounterRow, EventRow

_STAGED = "camfleet.outbox.staged"
_WRITTEN = "camfleet.outbox.revision"
RELAY_SLOT = "camfleet.outbox.relay"


class Relay(Protocol):
    """What relays committed events (the event log)."""

    def committed(self, revision: int) -> None:
        """Events up to `revision` just committed: relay them soon (must not block)."""
        ...

    async def relayed(self, revision: int) -> None:
        """Return once watchers can see `revision` (bounded: the change is committed)."""
        ...


@dataclass
class RelaySlot:
    """Where a session factory's sessions find the relay; filled in once the log starts."""

    relay: Relay | None = None


@dataclass(frozen=True)
class StagedEvent:
    """An event waiting for its transaction to commit."""

    kind: str
    subject: str
    payload: bytes


def stage_event(session: AsyncSession | Session, kind: str, subject: str, payload: bytes) -> None:
    """Write this event in `session`'s transaction when it commits (dropped if it rolls back)."""
    session.info.setdefault(_STAGED, []).append(StagedEvent(kind, subject, payload))


def written_revision(session: AsyncSession | Session) -> int | None:
    """The revision of the last event `session` committed, if any."""
    revision = session.info.get(_WRITTEN)
    return revision if isinstance(revision, int) else None


class OutboxSession(Session):
    """A Session whose commit writes the events staged in it, in the same transaction."""


@event.listens_for(OutboxSession, "before_commit")
def _write_staged(session: Session) -> None:
    staged: list[StagedEvent] = session.info.pop(_STAGED, [])
    if not staged:
        return
    session.flush()  # the change first: the counter's lock is then held for the INSERT only
    connection = session.connection()
    newest = connection.execute(
        update(EventCounterRow)
        .where(EventCounterRow.id == 1)
        .values(revision=EventCounterRow.revision + len(staged))
        .returning(EventCounterRow.revision)
    ).scalar_one()
    first = newest - len(staged) + 1
    connection.execute(
        insert(EventRow),
        [
            {"revision": first + i, "kind": e.kind, "subject": e.subject, "payload": e.payload}
            for i, e in enumerate(staged)
        ],
    )
    session.info[_WRITTEN] = newest


@event.listens_for(OutboxSession, "after_commit")
def _wake_relay(session: Session) -> None:
    revision = session.info.get(_WRITTEN)
    slot = session.info.get(RELAY_SLOT)
    if isinstance(revision, int) and isinstance(slot, RelaySlot) and slot.relay is not None:
        slot.relay.committed(revision)


@event.listens_for(OutboxSession, "after_rollback")
def _drop_staged(session: Session) -> None:
    session.info.pop(_STAGED, None)
    session.info.pop(_WRITTEN, None)
