"""The desired state of one node: which cameras it serves, with keys, recording flags,
recording profiles and retention; the URL grants it must refuse and how it serves playback and
exports (server/nodes/grants.py).

A new version is issued only when the content changes (a hash of it is kept with the node), so
reconnects and repeated recomputations do not churn versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf import duration_pb2, timestamp_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cameras.service import IngestMode
from server.db.models import CameraRow, NodeRow
from server.nodes.grants import RevokedGrants
from server.recordings.convert import PROFILES

_INGEST = {
    IngestMode.PUSH.value: agent_pb2.ASSIGNED_INGEST_PUSH,
    IngestMode.PULL.value: agent_pb2.ASSIGNED_INGEST_PULL,
}


class AssignmentBuilder:
    """Computes and versions node assignments."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        grants: RevokedGrants | None = None,
        playback: agent_pb2.PlaybackPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._grants = grants
        self._playback = playback or agent_pb2.PlaybackPolicy()

    async def follow_revocations(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` whenever the revoked grants change (every node's assignment then
        has to be recomputed); returns at once without a grants source."""
        if self._grants is not None:
            await self._grants.follow(on_change)

    async def current(self, node_id: str) -> agent_pb2.Assignment | None:
        """The node's assignment with its version (bumped if the content changed); None when
        the node no longer exists."""
        revoked = await self._grants.current() if self._grants is not None else ()
        async with self._sessions.begin() as session:
            node = await session.get(NodeRow, node_id, with_for_update=True)
            if node is None:
                return None
            cameras = (
                await session.scalars(
                    select(CameraRow)
                    .where(CameraRow.node_id == node_id, CameraRow.active)
                    .order_by(CameraRow.id)
                )
            ).all()
            assignment = agent_pb2.Assignment(
                cameras=[
                    agent_pb2.AssignedCamera(
                        camera_id=c.id,
                        name=c.name,
                        ingest=_INGEST.get(c.ingest_mode, agent_pb2.ASSIGNED_INGEST_PUSH),
                        stream_key=c.stream_key,
                        source_url=c.source_url,
                        record=c.recording_enabled,
                        record_profile=PROFILES.get(
                            c.recording_profile, recording_pb2.RECORDING_PROFILE_ORIGINAL
                        ),
                        retention_max_age=duration_pb2.Duration(seconds=c.retention_max_age_s),
                        retention_max_bytes=c.retention_max_bytes,
                    )
                    for c in cameras
                ],
                revoked_grants=[
                    agent_pb2.RevokedGrant(
                        principal=g.principal,
                        not_before=timestamp_pb2.Timestamp(
                            seconds=int(g.not_before.timestamp()),
                            nanos=g.not_before.microsecond * 1000,
                        ),
                    )
                    for g in revoked
                ],
                playback=self._playback,
            )
            digest = hashlib.sha256(assignment.SerializeToString(deterministic=True)).hexdigest()
            if digest != node.assignment_hash or node.assignment_version == 0:
                node.assignment_version += 1
                node.assignment_hash = digest
            assignment.version = node.assignment_version
        return assignment
