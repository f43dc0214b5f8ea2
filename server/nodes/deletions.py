"""Telling nodes which recorded segments to delete, and telling them again until they confirm.

A deletion is asked for on DeleteRecording (on whichever replica took the call), on every Hello,
and again while it stays pending: the request may have been made on another replica, or lost
with a stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta

from server.common.tasks import raise_if_cancelling
from server.nodes.session import NodeSession
from server.recordings.ingest import RecordingIngest

log = logging.getLogger(__name__)

# Deletions a node has not confirmed after this long are sent again.
RESEND_DELETIONS_S = 15.0


class DeletionSender:
    """Sends pending segment deletions to this replica's sessions."""

    def __init__(self, recordings: RecordingIngest, sessions: Mapping[str, NodeSession]) -> None:
        self._recordings = recordings
        self._sessions = sessions

    def send(self, node_id: str, recording_ids: Sequence[str]) -> None:
        """Tell a locally connected node to delete these segments (no-op otherwise: the node
        gets them on its next Hello, or from the replica that holds its stream)."""
        session = self._sessions.get(node_id)
        if session is not None and recording_ids:
            session.send_deletions(recording_ids)

    async def send_pending(self, node_id: str) -> None:
        """Send a node every deletion still pending for it (it just connected)."""
        pending = await self._recordings.pending_deletions([node_id])
        self.send(node_id, pending.get(node_id, []))

    async def resend_forever(self) -> None:
        """Every RESEND_DELETIONS_S, send again what the local nodes have not confirmed."""
        while True:
            raise_if_cancelling()
            await asyncio.sleep(RESEND_DELETIONS_S)
            try:
                pending = await self._recordings.pending_deletions(
                    list(self._sessions), older_than=timedelta(seconds=RESEND_DELETIONS_S)
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next round tries again
                raise_if_cancelling()
                log.exception("could not read pending segment deletions")
                continue
            for node_id, ids in pending.items():
                self.send(node_id, ids)
