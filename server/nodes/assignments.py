"""The desired state of one node: which cameras it serves, with keys, recording flags,
recording profiles and retention; the URL grants it must refuse and how it serves playback and
exports (server/nodes/grants.py); the platform settings it applies live
(server/nodes/agent_settings.py).

A node serves the active cameras placed on it (node_id) and those being handed over to it
(handover_node_id: during a make-before-break move both nodes run the camera until the new one
is ONLINE), each with its placement epoch.

A new version is issued only when the content changes (a hash of it is kept with the node), so
reconnects and repeated recomputations do not churn versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, replace

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cameras.model import IngestMode
from server.db.models import CameraRow, NodeRow
from server.nodes.agent_settings import AgentSettingsSource
from server.nodes.desired import AgentSettings, AssignedCamera, Assignment, PlaybackPolicy
from server.nodes.grants import RevokedGrants


class AssignmentBuilder:
    """Computes and versions node assignments."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        grants: RevokedGrants | None = None,
        playback: PlaybackPolicy | None = None,
        settings: AgentSettingsSource | None = None,
    ) -> None:
        self._sessions = sessions
        self._grants = grants
        self._playback = playback or PlaybackPolicy()
        self._settings = settings

    async def follow_revocations(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` whenever the revoked grants change (every node's assignment then
        has to be recomputed); returns at once without a grants source."""
        if self._grants is not None:
            await self._grants.follow(on_change)

    async def follow_settings(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` whenever the settings nodes apply change; returns at once without
        a settings source."""
        if self._settings is not None:
            await self._settings.follow(on_change)

    async def current(self, node_id: str) -> Assignment | None:
        """The node's assignment with its version (bumped if the content changed); None when
        the node no longer exists."""
        revoked = await self._grants.current() if self._grants is not None else ()
        settings = await self._settings.current() if self._settings else AgentSettings()
        async with self._sessions.begin() as session:
            node = await session.get(NodeRow, node_id, with_for_update=True)
            if node is None:
                return None
            cameras = (
                await session.scalars(
                    select(CameraRow)
                    .where(
                        or_(CameraRow.node_id == node_id, CameraRow.handover_node_id == node_id),
                        CameraRow.active,
                    )
                    .order_by(CameraRow.id)
                )
            ).all()
            assignment = Assignment(
                version=0,
                cameras=tuple(
                    AssignedCamera(
                        camera_id=c.id,
                        name=c.name,
                        ingest=IngestMode(c.ingest_mode),
                        stream_key=c.stream_key,
                        source_url=c.source_url,
                        record=c.recording_enabled,
                        record_profile=c.recording_profile,
                        retention_max_age_s=c.retention_max_age_s,
                        retention_max_bytes=c.retention_max_bytes,
                        epoch=c.placement_epoch,
                        ladder=tuple(c.live_ladder or settings.default_ladder),
                    )
                    for c in cameras
                ),
                revoked_grants=tuple(revoked),
                playback=self._playback,
                settings=settings,
            )
            # The digest of the desired state: the same content never gets a new version. (Of
            # the domain object, not its wire form, which is the session's business; the first
            # build after the upgrade that made this so gives every node one new version.)
            digest = _digest(assignment)
            if digest != node.assignment_hash or node.assignment_version == 0:
                node.assignment_version += 1
                node.assignment_hash = digest
            version = node.assignment_version
        return replace(assignment, version=version)


def _digest(assignment: Assignment) -> str:
    content = json.dumps(asdict(assignment), sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()
