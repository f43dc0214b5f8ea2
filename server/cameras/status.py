"""Camera status as the nodes report it: CONNECTING, ONLINE, OFFLINE, ERROR, with the node.

Each change is written with the time it happened on the node, and an event older than the
camera's last status change is recorded but does not move the status: replayed events from a
spool cannot undo what a later reconnect established.

Push cameras belong to the node they publish to: a new publish (CONNECTING) elsewhere moves
the camera's home there (recorded as a `published` placement). Pull cameras belong to the node
the scheduler placed them on (server/placement/): only that node and the node a handover is
taking them to are heard; a report from any other node (a partitioned node that still pulls,
a stale replay) never moves them. The handover node takes the camera over once it serves
it: when recording is expected of the camera (active, recording enabled), only once it has
written a segment under the handover's epoch (`handover_recorded`, called by the recordings
ingest), so the old node stops after the new one started writing and the index shows overlap,
never a hole; otherwise on its ONLINE.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cameras.model import CameraStatus, ChangeKind, ChangeListener, IngestMode
from server.db.models import CameraRow, PlacementRow, utcnow

_LIVE = (CameraStatus.CONNECTING.value, CameraStatus.ONLINE.value)


class PlacementHooks(Protocol):
    """What placement (a floor above: server/placement/store.py's PlacementRecorder) records in
    a status change's transaction."""

    def finish_handover(self, session: AsyncSession, row: CameraRow, at: datetime) -> None:
        """The handover node took the camera over: make it the camera's node (history,
        events, audit)."""

    def homed(self, session: AsyncSession, row: CameraRow, old: str | None, at: datetime) -> None:
        """A push camera's home changed to `row.node_id` (history, events, audit)."""

    async def settle(self, session: AsyncSession) -> None:
        """Before the commit: stage the events of the nodes the recorded moves touched."""


class _Unrecorded:
    """Without placement (tests of this floor alone): the rows change, nothing is recorded."""

    def finish_handover(self, session: AsyncSession, row: CameraRow, at: datetime) -> None:
        row.node_id, row.handover_node_id = row.handover_node_id, None
        row.placement_epoch += 1

    def homed(self, session: AsyncSession, row: CameraRow, old: str | None, at: datetime) -> None:
        row.placement_epoch += 1

    async def settle(self, session: AsyncSession) -> None:
        return None


def heard_from(row: CameraRow, node_id: str, status: CameraStatus) -> bool:
    """Whether `node_id` may report this camera's status (see the module's docstring)."""
    if row.ingest_mode == IngestMode.PULL.value:
        return node_id in (row.node_id, row.handover_node_id)
    return status is CameraStatus.CONNECTING or row.node_id in (None, node_id)


def records(row: CameraRow) -> bool:
    """Whether recording is expected of the camera: its handover then waits for the new node's
    first segment, not just its ONLINE."""
    return bool(row.active and row.recording_enabled)


def _takes_over(row: CameraRow, status: CameraStatus) -> bool:
    """Whether the handover node's report of `status` finishes the handover (a recording
    camera's handover finishes on its first segment there instead: `handover_recorded`)."""
    return status is CameraStatus.ONLINE and not records(row)


def _moved_on(row: CameraRow, node_id: str) -> bool:
    """A push camera live on another node than `node_id`, which reconnects claiming it: the
    camera left through the fleet ingest while `node_id` was cut off, and what that node still
    reports is the connection it has not noticed is dead (nginx drops it within seconds)."""
    return (
        row.ingest_mode != IngestMode.PULL.value
        and row.node_id not in (None, node_id)
        and row.status in _LIVE
    )


class CameraStatusWriter:
    """Moves cameras between stream states and announces each change (its event commits with
    it)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        on_change: ChangeListener,
        placement: PlacementHooks | None = None,
    ) -> None:
        self._sessions = sessions
        self._on_change = on_change
        self._placement: PlacementHooks = placement or _Unrecorded()

    async def set(
        self,
        camera_id: str,
        status: CameraStatus,
        reason: str,
        node_id: str,
        at: datetime,
        *,
        force: bool = False,
    ) -> CameraRow | None:
        """Set one camera's status as reported by `node_id`; None when nothing changed.

        A push camera: a report from a node that no longer has the camera is ignored unless it
        is a new publish (CONNECTING), which moves the camera to that node. A pull camera: only
        its node and its handover node are heard; the handover node is heard only when its
        report finishes the handover (ONLINE, and not recording: see `_takes_over`)."""
        async with self._sessions.begin() as session:
            row = await session.get(CameraRow, camera_id, with_for_update=True)
            if row is None:
                return None
            if not force and not heard_from(row, node_id, status):
                return None
            if not force and at < row.status_changed_at:
                return None
            handing_over = row.handover_node_id is not None and row.handover_node_id == node_id
            if handing_over and row.ingest_mode == IngestMode.PULL.value:
                if not _takes_over(row, status):
                    return None  # the old node still serves it; this one is warming up
                self._placement.finish_handover(session, row, at)
                await self._placement.settle(session)  # the drain's progress, with the move
            if (row.status, row.node_id, row.status_reason) == (status.value, node_id, reason):
                return None
            row.status = status.value
            row.status_reason = reason
            row.status_changed_at = at
            self._move_home(session, row, node_id, at)
            self._announce(session, row)
            await self._placement.settle(session)
        return row

    def _move_home(self, session: AsyncSession, row: CameraRow, node_id: str, at: datetime) -> None:
        """A camera reported live by another node than its own: a push camera is homed there
        (pull cameras reach here only from their node)."""
        if row.node_id == node_id:
            return
        old, row.node_id = row.node_id, node_id
        if row.ingest_mode != IngestMode.PULL.value:
            self._placement.homed(session, row, old, at)

    async def reconcile_node(
        self,
        node_id: str,
        live: Mapping[str, CameraStatus],
        at: datetime,
        gone_reason: str | None,
    ) -> list[CameraRow]:
        """In one transaction: the cameras the node streams take the given status on it,
        whatever older events said. After a (re)connect (`gone_reason` given) its other live
        cameras go OFFLINE; after an assignment (None) they are left as they are.

        The second case is a pull camera the node kept pulling while it was taken off the node
        (the node cut off, then back): its publish was not heard then, and being placed back
        under a new epoch restarts nothing, so no new event would ever say it is live."""
        mine = and_(CameraRow.node_id == node_id, CameraRow.status.in_(_LIVE))
        wanted = CameraRow.id.in_(list(live))
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(CameraRow)
                    .where(wanted if gone_reason is None else or_(wanted, mine))
                    .with_for_update()
                )
            )
            changed = []
            for row in rows:
                status = live.get(row.id, CameraStatus.OFFLINE)
                reason = "" if row.id in live else gone_reason or ""
                if row.id in live and not heard_from(row, node_id, CameraStatus.CONNECTING):
                    continue  # a pull camera placed elsewhere meanwhile: not this node's
                if row.id in live and _moved_on(row, node_id):
                    continue  # a push camera that reconnected elsewhere while this node was away
                if row.id in live and row.handover_node_id == node_id:
                    if not _takes_over(row, status):
                        continue
                    self._placement.finish_handover(session, row, at)
                if (row.status, row.node_id, row.status_reason) == (status.value, node_id, reason):
                    continue
                row.status, row.status_reason, row.status_changed_at = status.value, reason, at
                if row.id in live:
                    self._move_home(session, row, node_id, at)
                changed.append(row)
                self._announce(session, row)
            await self._placement.settle(session)
        return changed

    async def handover_recorded(
        self,
        session: AsyncSession,
        camera_id: str,
        node_id: str,
        epoch: int,
        at: datetime,
        *,
        recorded_until: datetime | None = None,
    ) -> None:
        """In the recordings ingest's transaction: `node_id` indexed a segment of the camera
        recorded under placement `epoch`. When that node is the target of the camera's handover
        and the segment is of the handover's epoch (not a stale spool from an earlier stint),
        it has started writing: it becomes the camera's node, ONLINE (it records, so it
        serves the stream; its ONLINE report was held back until now), and the old node's
        assignment drops the camera. A segment that ended (`recorded_until`) before the
        handover began proves nothing: the last file of the target's own earlier stint with
        the camera, indexed late, carries the epoch the node knows at indexing (CI 2026-12-06:
        such a file ended a drain's handover at once, and the old node stopped 1.6 s before the
        new one's first segment began)."""
        target = await session.scalar(
            select(CameraRow.handover_node_id).where(CameraRow.id == camera_id)
        )
        if target is None or target != node_id:
            return  # every segment comes here: the usual case takes no row lock
        row = await session.get(CameraRow, camera_id, with_for_update=True, populate_existing=True)
        if row is None or row.ingest_mode != IngestMode.PULL.value:
            return
        if row.handover_node_id != node_id or epoch < row.placement_epoch:
            return
        if recorded_until is not None:
            began = await session.scalar(
                select(func.max(PlacementRow.time)).where(
                    PlacementRow.camera_id == camera_id, PlacementRow.to_node_id == node_id
                )
            )
            if began is not None and recorded_until < began:
                return
        self._placement.finish_handover(session, row, at)
        if row.status != CameraStatus.ONLINE.value or row.status_reason:
            row.status, row.status_reason = CameraStatus.ONLINE.value, ""
            row.status_changed_at = max(at, row.status_changed_at)
            self._announce(session, row)
        await self._placement.settle(session)

    async def offline_on_node(
        self, node_id: str, reason: str, keep: Collection[str] = ()
    ) -> list[CameraRow]:
        """Every live camera on `node_id` (except `keep`) goes OFFLINE with `reason`."""
        now = utcnow()
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(CameraRow)
                    .where(CameraRow.node_id == node_id, CameraRow.status.in_(_LIVE))
                    .with_for_update()
                )
            )
            changed = [r for r in rows if r.id not in keep]
            for row in changed:
                row.status = CameraStatus.OFFLINE.value
                row.status_reason = reason
                row.status_changed_at = now
                self._announce(session, row)
        return changed

    def _announce(self, session: AsyncSession, row: CameraRow) -> None:
        """Stage the change's event in its transaction."""
        why = f": {row.status_reason}" if row.status_reason else ""
        message = f"camera {row.name} is {row.status}{why}"
        self._on_change(session, ChangeKind.STATUS_CHANGED, row, message)
