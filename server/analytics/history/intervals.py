"""State intervals of cameras and nodes, written by following the event log.

Every camera and node change is an event row of the outbox (server/db/outbox.py), written in the
transaction of the change and numbered in commit order without gaps. This writer reads the rows
after its cursor (`history_cursors`), applies each state change (the open interval closes at
the change's own time and the next one opens), and moves the cursor in the same fenced
transaction. A leader that dies mid-way rolls the batch back; the next leader goes on from the
cursor, so every change is applied exactly once.

The event log keeps only its newest events (server/eventlog/table.py trims): when the cursor is
older than the oldest event kept (a fleet without a leader for a long while, or the first run),
the writer reconciles from the rows instead: each camera's and node's current state since its
stored change time, and deleted subjects' intervals closed now. Stale changes (older than the
open interval's start: a reconcile already saw something newer) change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from server.analytics.history.convert_events import CAMERA, KINDS, NODE, StateChange, state_change
from server.analytics.history.loop import Clock, Fence, cursor, every, peek_cursor, set_cursor
from server.common.tasks import raise_if_cancelling
from server.db.engine import Sessions
from server.db.models import CameraRow, EventCounterRow, EventRow, NodeRow, utcnow
from server.db.models.analytics import StateIntervalRow

CURSOR = "state_intervals"
PAGE = 1000  # revisions per transaction
POLL_S = 1.0

Key = tuple[str, str]


class IntervalWriter:
    """The leader's job that turns camera and node changes into intervals."""

    def __init__(
        self, sessions: Sessions, fence: Fence, *, poll_s: float = POLL_S, clock: Clock = utcnow
    ) -> None:
        self._sessions = sessions
        self._fence = fence
        self._poll_s = poll_s
        self._clock = clock

    async def run(self) -> None:
        """Follow the event log until cancelled."""
        await every(self._poll_s, self.catch_up, "state interval writer")

    async def catch_up(self) -> int:
        """Apply every committed change after the cursor; returns the revision reached."""
        async with self._sessions() as session:
            reached = await peek_cursor(session, CURSOR)
            newest = int(await session.scalar(select(EventCounterRow.revision)) or 0)
        if reached is not None and reached >= newest:
            return reached  # nothing new: no write transaction (SQLite has one writer)
        while True:
            raise_if_cancelling()
            reached, more = await self.step()
            if not more:
                return reached

    async def step(self) -> tuple[int, bool]:
        """One transaction: up to PAGE revisions applied and the cursor moved. Returns the
        revision reached and whether more are waiting."""
        async with self._sessions.begin() as session:
            await self._fence(session)
            row = await cursor(session, CURSOR)
            newest = int(await session.scalar(select(EventCounterRow.revision)) or 0)
            oldest = await session.scalar(select(func.min(EventRow.revision)))
            now = self._clock()
            if row is None or (oldest is not None and row.revision < oldest - 1):
                await self._reconcile(session, now)
                set_cursor(session, row, CURSOR, newest, now)
                return newest, False
            upto = min(row.revision + PAGE, newest)
            if upto <= row.revision:
                return row.revision, False
            events = (
                await session.execute(
                    select(EventRow.kind, EventRow.payload)
                    .where(
                        EventRow.revision > row.revision,
                        EventRow.revision <= upto,
                        EventRow.kind.in_(KINDS),
                    )
                    .order_by(EventRow.revision)
                )
            ).all()
            changes = [c for kind, payload in events if (c := state_change(kind, payload))]
            await apply(session, changes)
            set_cursor(session, row, CURSOR, upto, now)
            return upto, upto < newest

    async def _reconcile(self, session: AsyncSession, now: datetime) -> None:
        cameras = (
            await session.execute(
                select(
                    CameraRow.id,
                    CameraRow.status,
                    CameraRow.status_reason,
                    CameraRow.status_changed_at,
                )
            )
        ).all()
        nodes = (
            await session.execute(
                select(NodeRow.id, NodeRow.state, NodeRow.state_reason, NodeRow.state_changed_at)
            )
        ).all()
        changes = [StateChange(CAMERA, *c) for c in cameras] + [
            StateChange(NODE, *n) for n in nodes
        ]
        existing = {(c.subject_kind, c.subject_id) for c in changes}
        open_rows = (
            await session.scalars(
                select(StateIntervalRow).where(StateIntervalRow.end_time.is_(None))
            )
        ).all()
        gone = [
            StateChange(r.subject_kind, r.subject_id, r.state, "", now, deleted=True)
            for r in open_rows
            if (r.subject_kind, r.subject_id) not in existing
        ]
        await apply(session, [*changes, *gone])


async def _open_intervals(
    session: AsyncSession, keys: Iterable[Key]
) -> dict[Key, StateIntervalRow]:
    wanted = sorted(set(keys))
    found: dict[Key, StateIntervalRow] = {}
    for i in range(0, len(wanted), 500):
        rows = await session.scalars(
            select(StateIntervalRow).where(
                StateIntervalRow.end_time.is_(None),
                tuple_(StateIntervalRow.subject_kind, StateIntervalRow.subject_id).in_(
                    wanted[i : i + 500]
                ),
            )
        )
        found.update({(r.subject_kind, r.subject_id): r for r in rows})
    return found


async def apply(session: AsyncSession, changes: Sequence[StateChange]) -> None:
    """Apply `changes` in order to the subjects' open intervals, in the caller's transaction."""
    opens = await _open_intervals(session, ((c.subject_kind, c.subject_id) for c in changes))
    for change in changes:
        key = (change.subject_kind, change.subject_id)
        current = opens.get(key)
        if current is not None and change.at < current.start_time:
            continue  # older than what is known already
        if change.deleted:
            if current is not None:
                current.end_time = change.at
                del opens[key]
            continue
        if current is not None:
            if current.state == change.state:
                continue
            if change.at == current.start_time:  # replaced at the instant it began
                current.state, current.reason = change.state, change.reason
                continue
            current.end_time = change.at
        opened = StateIntervalRow(
            subject_kind=change.subject_kind,
            subject_id=change.subject_id,
            state=change.state,
            reason=change.reason,
            start_time=change.at,
            end_time=None,
        )
        session.add(opened)
        opens[key] = opened
