"""A node's desired state as the control plane computes it (server/nodes/assignments.py); the
session sends it as the agent protocol's Assignment (server/nodes/agent_wire.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from server.cameras.model import IngestMode
from server.nodes.grants import RevokedGrant


@dataclass(frozen=True)
class AssignedCamera:
    """One camera the node serves, and how."""

    camera_id: str
    name: str
    ingest: IngestMode
    # Push: the key the camera publishes with. Pull: where to pull from.
    stream_key: str
    source_url: str
    record: bool
    # A stored recording profile name ("original", ...).
    record_profile: str
    retention_max_age_s: int
    retention_max_bytes: int
    # The placement's fencing token (the camera's placement_epoch): the agent never runs the
    # camera under an epoch older than one it has seen.
    epoch: int = 0


@dataclass(frozen=True)
class PlaybackPolicy:
    """How nodes serve signed URLs and exports (server/nodes/policy.py)."""

    max_url_ttl: timedelta | None = None
    max_clip_duration: timedelta | None = None
    export_cache_bytes: int = 0
    exports_per_node: int = 0
    exports_per_principal: int = 0


@dataclass(frozen=True)
class Assignment:
    """The complete desired state of one node, with its version."""

    version: int
    cameras: tuple[AssignedCamera, ...]
    revoked_grants: tuple[RevokedGrant, ...]
    playback: PlaybackPolicy
