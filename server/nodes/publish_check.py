"""CheckStreamKey: may this key publish on this node? Asked by agents for keys their assignment
does not know yet. Refusals are audited; unknown keys are rate limited per publisher address.

Any node takes any active push camera's key: behind the fleet ingest (Envoy over every node's
RTMP listener) a camera whose node died republishes to whichever node is healthy. The camera is
then homed there at once — a `published` placement with its epoch bumped (history, event,
audit: server/placement through PlacementHooks) — so that node's assignment includes it. While
the camera is live on another node that still heartbeats it is refused (a second publisher of
the key must not take it over); once that node has missed two heartbeats, a camera reaching
this node through the ingest has left it, and is taken without waiting for the node to be
declared lost. Pull cameras are published by their own node's puller only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import AuditLog
from server.cameras.model import CameraStatus, ChangeKind, ChangeListener, IngestMode
from server.cameras.status import PlacementHooks
from server.db.models import CameraRow, NodeRow, utcnow
from server.errors import ResourceExhausted
from server.kv.ratelimit import RateLimiter
from server.nodes.presence import Presence
from server.recordings import gaps

_WINDOW_S = 60.0
_MAX_KEY = 200
_LIVE = (CameraStatus.CONNECTING.value, CameraStatus.ONLINE.value)


@dataclass(frozen=True)
class KeyVerdict:
    """The answer to one check."""

    allowed: bool
    camera_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class _Request:
    node_id: str
    node_name: str
    stream_key: str
    address: str


class PublishCheck:
    """Decides publishes for keys that are not in a node's assignment."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        limiter: RateLimiter,
        audit: AuditLog,
        on_change: ChangeListener,
        unknown_key_limit: int,
        *,
        placement: PlacementHooks | None = None,
        presence: Presence | None = None,
        silent_after_s: float = 0.0,
    ) -> None:
        self._sessions = sessions
        self._limiter = limiter
        self._audit = audit
        self._on_change = on_change
        self._limit = unknown_key_limit
        # Records a camera's new home (None: the row changes, no history; tests of this floor).
        self._placement = placement
        # Heartbeats: a node silent for `silent_after_s` no longer holds its cameras' keys
        # (None: a live camera's node always does, until declared lost).
        self._presence = presence
        self._silent_after_s = silent_after_s

    async def check(
        self, node_id: str, node_name: str, stream_key: str, remote_address: str
    ) -> KeyVerdict:
        """Allow an active camera's key (moving the camera to this node), refuse the rest."""
        request = _Request(node_id, node_name, stream_key, remote_address)
        limit_key = f"unknown-key:{remote_address or node_id}"
        verdict = await self._limiter.check(limit_key, self._limit, _WINDOW_S)
        if not verdict.allowed:
            await self._refused(request, "", "rate limited")
            raise ResourceExhausted(
                f"too many refused stream keys from {remote_address or 'this publisher'}; try "
                f"again in {max(1, round(verdict.retry_after_seconds))} s",
                retry_after_seconds=verdict.retry_after_seconds,
            )
        camera = None
        if stream_key and len(stream_key) <= _MAX_KEY:
            async with self._sessions() as session:
                camera = await session.scalar(
                    select(CameraRow).where(CameraRow.stream_key == stream_key)
                )
        if camera is None:
            await self._limiter.hit(limit_key, self._limit, _WINDOW_S)
            return await self._refused(request, "", "unknown stream key")
        if not camera.active:
            return await self._refused(request, camera.id, f"camera {camera.name} is deactivated")
        if camera.ingest_mode == IngestMode.PULL.value:
            return await self._refused(
                request, camera.id, f"camera {camera.name} is a pull camera: its node pulls it"
            )
        live_elsewhere = camera.status in _LIVE and camera.node_id not in (None, node_id)
        silent_since = await self._silent_since(camera.node_id) if live_elsewhere else None
        if live_elsewhere and silent_since is None:
            async with self._sessions() as session:
                other = await session.get(NodeRow, camera.node_id)
            where = other.name if other else camera.node_id
            return await self._refused(
                request, camera.id, f"camera {camera.name} is already publishing on node {where}"
            )
        if camera.node_id != node_id:
            await self._move(camera.id, node_id, node_name, silent_since)
        return KeyVerdict(True, camera.id)

    async def _silent_since(self, node_id: str | None) -> datetime | None:
        """The last heartbeat of `node_id` when it has missed heartbeats for a while, else
        None (also when none is known: after a restart of the control plane presence may not
        have heard from it yet)."""
        if self._presence is None or node_id is None:
            return None
        seen = (await self._presence.last_heartbeats()).get(node_id)
        if seen is None or time.time() - seen <= self._silent_after_s:
            return None
        return datetime.fromtimestamp(seen, UTC)

    async def _move(
        self, camera_id: str, node_id: str, node_name: str, silent_since: datetime | None
    ) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(CameraRow, camera_id, with_for_update=True)
            if row is None or row.node_id == node_id:
                return
            if silent_since is not None and row.node_id is not None:
                # It left a node that stopped heartbeating: that node's loss is the gap.
                await gaps.left_silent_node(session, row, row.node_id, silent_since)
            old, row.node_id = row.node_id, node_id
            # Its UPDATED event makes the hub send the node an assignment with this camera.
            if self._placement is not None:
                self._placement.homed(session, row, old, utcnow())
                await self._placement.settle(session)  # both nodes' camera_count events
            else:
                moved = f"camera {row.name} now streams to node {node_name}"
                self._on_change(session, ChangeKind.UPDATED, row, moved)

    async def _refused(self, request: _Request, camera_id: str, reason: str) -> KeyVerdict:
        await self._audit.security_event(
            "stream.publish_refused",
            f"cameras/{camera_id}" if camera_id else f"nodes/{request.node_id}",
            actor=f"node:{request.node_name}",
            details={
                "reason": reason,
                "publisher_address": request.address[:64],
                "key_prefix": request.stream_key[:6],
            },
        )
        return KeyVerdict(False, camera_id, reason)
