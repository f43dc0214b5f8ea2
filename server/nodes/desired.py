"""A node's desired state as the control plane computes it (server/nodes/assignments.py); the
session sends it as the agent protocol's Assignment (server/nodes/agent_wire.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from server.cameras.model import IngestMode
from server.common.ladder import DEFAULT_LADDER
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
    # The live ladder, resolved: the camera's own, else the streaming settings' default.
    ladder: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaybackPolicy:
    """How nodes serve signed URLs and exports (server/nodes/policy.py)."""

    max_url_ttl: timedelta | None = None
    max_clip_duration: timedelta | None = None
    export_cache_bytes: int = 0
    exports_per_node: int = 0
    exports_per_principal: int = 0


@dataclass(frozen=True)
class ColdStorage:
    """The cold tier a node moves old segments to (the storage settings' cold_* fields)."""

    endpoint: str
    bucket: str
    prefix: str
    access_key: str
    secret_key: str = field(repr=False)
    after_s: float
    region: str


@dataclass(frozen=True)
class AgentSettings:
    """The platform settings a node applies live (server/nodes/agent_settings.py). 0 means
    unset: the node keeps its own flag's value (flags stay the first-start defaults)."""

    hls_fragment_s: float = 0.0
    hls_playlist_length_s: float = 0.0
    segment_s: float = 0.0
    free_space_floor_bytes: int = 0
    warm_after_s: float = 0.0
    # Not sent as a setting: the ladder of cameras without their own, resolved per camera
    # into the assignment (always the platform's, changed or not: nodes have no flag for it).
    default_ladder: tuple[str, ...] = DEFAULT_LADDER
    # None: no cold tier.
    cold: ColdStorage | None = None


@dataclass(frozen=True)
class Assignment:
    """The complete desired state of one node, with its version."""

    version: int
    cameras: tuple[AssignedCamera, ...]
    revoked_grants: tuple[RevokedGrant, ...]
    playback: PlaybackPolicy
    # Part of the content hash: a settings change gives every node a new version.
    settings: AgentSettings = AgentSettings()
