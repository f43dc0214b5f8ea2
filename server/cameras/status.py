"""Camera status as the nodes report it: CONNECTING, ONLINE, OFFLINE, ERROR, with the node.

Each change is written with the time it happened on the node, and an event older than the
camera's last status change is recorded but does not move the status: replayed events from a
spool cannot undo what a later reconnect established.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cameras.model import CameraStatus, ChangeKind, ChangeListener
from server.db.models import CameraRow, utcnow

_LIVE = (CameraStatus.CONNECTING.value, CameraStatus.ONLINE.value)


class CameraStatusWriter:
    """Moves cameras between stream states and announces each change (its event commits with
    it)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], on_change: ChangeListener
    ) -> None:
        self._sessions = sessions
        self._on_change = on_change

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

        A report from a node that no longer has the camera is ignored unless it is a new
        publish (CONNECTING), which moves the camera to that node."""
        async with self._sessions.begin() as session:
            row = await session.get(CameraRow, camera_id, with_for_update=True)
            if row is None:
                return None
            moving = status is CameraStatus.CONNECTING
            if not force and not moving and row.node_id not in (None, node_id):
                return None
            if not force and at < row.status_changed_at:
                return None
            if (row.status, row.node_id, row.status_reason) == (status.value, node_id, reason):
                return None
            row.status = status.value
            row.status_reason = reason
            row.status_changed_at = at
            row.node_id = node_id
            self._announce(session, row)
        return row

    async def reconcile_node(
        self, node_id: str, live: Mapping[str, CameraStatus], at: datetime, gone_reason: str
    ) -> list[CameraRow]:
        """After a node (re)connects, in one transaction: the cameras it streams take the given
        status on it, whatever older events said; its other live cameras go OFFLINE."""
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(CameraRow)
                    .where(
                        or_(
                            CameraRow.id.in_(list(live)),
                            and_(CameraRow.node_id == node_id, CameraRow.status.in_(_LIVE)),
                        )
                    )
                    .with_for_update()
                )
            )
            changed = []
            for row in rows:
                status = live.get(row.id, CameraStatus.OFFLINE)
                reason = "" if row.id in live else gone_reason
                if (row.status, row.node_id, row.status_reason) == (status.value, node_id, reason):
                    continue
                row.status, row.status_reason, row.status_changed_at = status.value, reason, at
                if row.id in live:
                    row.node_id = node_id
                changed.append(row)
                self._announce(session, row)
        return changed

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
