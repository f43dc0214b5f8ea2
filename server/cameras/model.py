"""What a camera is, in the domain's own terms: its stored status and ingest values, batch
actions, recording profiles, and the kinds of change the event stream is told about. A leaf of
the cameras package: nodes, streams and events import these without the service."""

from __future__ import annotations

import enum
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import CameraRow


class CameraStatus(enum.StrEnum):
    """Stored status values."""

    OFFLINE = "offline"
    CONNECTING = "connecting"
    ONLINE = "online"
    ERROR = "error"


class IngestMode(enum.StrEnum):
    """How media reaches a node."""

    PUSH = "push"
    PULL = "pull"


class CameraAction(enum.Enum):
    """Actions of BatchCameraAction."""

    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"
    DELETE = "delete"
    ROTATE_STREAM_KEY = "rotate_stream_key"


RECORDING_PROFILES = ("original", "low", "medium", "high", "ultra")
RECORDING_STATES = ("idle", "recording", "error")


class ChangeKind(enum.StrEnum):
    """What happened to a camera, for the event stream."""

    CREATED = "camera.created"
    UPDATED = "camera.updated"
    DELETED = "camera.deleted"
    STATUS_CHANGED = "camera.status_changed"


# Told about every change inside the transaction that makes it, so its event commits with it
# (server/db/outbox.py): (that session, kind, the camera after it, a sentence for people).
ChangeListener = Callable[[AsyncSession, ChangeKind, CameraRow, str], None]
