"""Applying placement decisions to the camera rows, each batch in one fenced transaction.

A decision was made against the camera as the planner last saw it (its node and its epoch). The
row is locked and checked first: if someone else moved it meanwhile (an API change, a handover
finished by a status report, another leader) the decision is skipped and reported back, so the
scheduler re-reads the camera and decides again. Every applied move writes, in the same
transaction: the row (node_id / handover_node_id / placement_epoch / placement_reason), a
placements history row, the CAMERA_PLACED event and the camera's UPDATED event (both staged
through the publisher, so they commit with it), and an audit entry "camera.placed"; before the
commit, `settle` stages a NODE_UPDATED event with the new counts of each node the moves touched
(a drain's progress). The fence (the leader's epoch check) runs first in the transaction: a
deposed leader's batch rolls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
from server.cameras.model import CameraStatus, ChangeKind, ChangeListener, IngestMode
from server.db.models import CameraRow, PlacementRow, utcnow
from server.placement.fleet import Action, Decision
from server.placement.model import Placement, PlacementReason

# Stages a CAMERA_PLACED event in the session (the event publisher: a floor above).
PlacedListener = Callable[[AsyncSession, Placement], None]
# Stages, in the session, NODE_UPDATED events carrying the counts of these nodes (what moved on
# and off them): server/nodes/load_events.py's NodeLoadEvents.stage with the event publisher.
NodesTouched = Callable[[AsyncSession, Collection[str]], Awaitable[None]]
# Checks, inside the transaction, that this process still leads (server/leader/); raises to roll
# the transaction back.
Fence = Callable[[AsyncSession], Awaitable[object]]

# Rows per transaction when a batch is large (placing a whole fleet at start).
CHUNK = 500
# session.info key: the node ids this transaction's moves touched, until `settle` stages them.
_TOUCHED = "placement.touched_nodes"


async def _no_fence(session: AsyncSession) -> None:
    return None


@dataclass(frozen=True)
class Move:
    """One change of a camera's node, as history records it (None: no node)."""

    from_node_id: str | None
    to_node_id: str | None
    reason: PlacementReason
    message: str


@dataclass
class Applied:
    """What a batch did: the rows as committed, and the decisions that found the camera
    changed (or gone) and were skipped."""

    rows: list[CameraRow] = field(default_factory=list)
    skipped: list[Decision] = field(default_factory=list)


class PlacementRecorder:
    """Writes one placement's history row, events and audit entry into a caller's transaction:
    shared by the store and by the camera status writer (handover finished, push camera homed)."""

    def __init__(
        self,
        on_change: ChangeListener,
        on_placed: PlacedListener,
        on_nodes: NodesTouched | None = None,
    ) -> None:
        self._on_change = on_change
        self._on_placed = on_placed
        self._on_nodes = on_nodes

    def record(self, session: AsyncSession, row: CameraRow, move: Move, at: datetime) -> Placement:
        """Record that `row` (already changed) moved."""
        reason, message = move.reason, move.message
        placement = Placement(
            camera_id=row.id,
            from_node_id=move.from_node_id or "",
            to_node_id=move.to_node_id or "",
            reason=reason,
            message=message,
            epoch=row.placement_epoch,
            time=at,
        )
        session.add(
            PlacementRow(
                camera_id=row.id,
                from_node_id=placement.from_node_id,
                to_node_id=placement.to_node_id,
                reason=reason.value,
                message=message,
                epoch=row.placement_epoch,
                time=at,
            )
        )
        self._on_placed(session, placement)
        self._on_change(session, ChangeKind.UPDATED, row, message)
        touched = session.info.setdefault(_TOUCHED, set())
        touched.update(n for n in (move.from_node_id, move.to_node_id) if n)
        add_audit(
            session,
            "camera.placed",
            f"cameras/{row.id}",
            actor="placement",
            details={
                "reason": reason.value,
                "from_node": placement.from_node_id,
                "to_node": placement.to_node_id,
                "epoch": str(row.placement_epoch),
            },
        )
        return placement

    async def settle(self, session: AsyncSession) -> None:
        """Before the commit of a transaction that recorded moves: stage the NODE_UPDATED event
        of every node they touched, with the counts they leave (once per node)."""
        touched = session.info.pop(_TOUCHED, None)
        if touched and self._on_nodes is not None:
            await self._on_nodes(session, sorted(touched))

    def changed(self, session: AsyncSession, row: CameraRow, message: str) -> None:
        """Stage the camera's UPDATED event alone (its waiting reason changed)."""
        self._on_change(session, ChangeKind.UPDATED, row, message)

    def finish_handover(self, session: AsyncSession, row: CameraRow, at: datetime) -> None:
        """The handover node took the camera over (ONLINE; recording, when recording is
        expected of it: server/cameras/status.py): it is the camera's node now, and the old
        node's assignment drops it."""
        old, new = row.node_id, row.handover_node_id
        row.node_id, row.handover_node_id = new, None
        row.placement_epoch += 1
        row.placement_reason = ""
        doing = "recording" if row.active and row.recording_enabled else "online"
        message = f"{row.name} is {doing} on its new node; the old one stops it"
        self.record(session, row, Move(old, new, PlacementReason.HANDOVER_DONE, message), at)

    def homed(self, session: AsyncSession, row: CameraRow, old: str | None, at: datetime) -> None:
        """A push camera published to another node (`row.node_id`, already set): its new home."""
        row.placement_epoch += 1
        message = f"{row.name} publishes to another node now; it is homed there"
        self.record(session, row, Move(old, row.node_id, PlacementReason.PUBLISHED, message), at)


class PlacementStore:
    """Applies the planner's decisions."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        recorder: PlacementRecorder,
        fence: Fence = _no_fence,
    ) -> None:
        self._sessions = sessions
        self._recorder = recorder
        self._fence = fence

    async def apply(self, decisions: Sequence[Decision]) -> Applied:
        """Apply `decisions` in order, in transactions of up to CHUNK cameras."""
        applied = Applied()
        for start in range(0, len(decisions), CHUNK):
            chunk = decisions[start : start + CHUNK]
            async with self._sessions.begin() as session:
                await self._fence(session)
                ids = sorted({d.camera_id for d in chunk})  # locked in one order: no deadlock
                rows = {
                    r.id: r
                    for r in await session.scalars(
                        select(CameraRow)
                        .where(CameraRow.id.in_(ids))
                        .order_by(CameraRow.id)
                        .with_for_update()
                    )
                }
                now = utcnow()
                done: dict[str, CameraRow] = {}
                for decision in chunk:
                    row = rows.get(decision.camera_id)
                    if row is None or not _still(row, decision):
                        applied.skipped.append(decision)
                        continue
                    self._apply(session, row, decision, now)
                    done[row.id] = row
                await self._recorder.settle(session)
            applied.rows.extend(done.values())
        return applied

    def _apply(self, session: AsyncSession, row: CameraRow, d: Decision, now: datetime) -> None:
        if d.action is Action.WAIT:
            row.placement_reason = d.waiting
            self._recorder.changed(session, row, d.message)
            return
        old_node, old_target = row.node_id, row.handover_node_id
        row.placement_epoch += 1
        if d.action is Action.HANDOVER:
            row.handover_node_id = d.handover_node_id
            self._recorder.record(session, row, _move(d, old_node, row.handover_node_id), now)
            return
        if d.action is Action.CANCEL_HANDOVER:
            row.handover_node_id = None
            self._recorder.record(session, row, _move(d, old_target, old_node), now)
            return
        row.node_id, row.handover_node_id = d.to_node_id, None
        row.placement_reason = d.waiting
        if row.status != CameraStatus.OFFLINE.value and row.ingest_mode == IngestMode.PULL.value:
            # Its old node no longer reports for it (server/cameras/status.py): until the new
            # one does, it is neither live nor in the old node's error.
            row.status = CameraStatus.OFFLINE.value
            row.status_reason = d.waiting or "moving to another node"
            row.status_changed_at = now
        self._recorder.record(session, row, _move(d, old_node, row.node_id), now)


def _move(decision: Decision, from_node_id: str | None, to_node_id: str | None) -> Move:
    return Move(from_node_id, to_node_id, decision.reason, decision.message)


def _still(row: CameraRow, decision: Decision) -> bool:
    """The row is as the decision saw it."""
    return row.placement_epoch == decision.epoch and row.node_id == decision.from_node_id
