"""What the control plane wants this node to run: the Assignment, as typed objects. The wire's
agent_pb2.Assignment becomes one at the edge (node_agent.convert), so the agent's logic never
reads protobuf; node_agent.assignment keeps the one in force.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Until the first assignment says otherwise: the control plane's default URL lifetime.
DEFAULT_MAX_URL_TTL_S = 3600.0
DEFAULT_MAX_CLIP_S = 3600.0
DEFAULT_EXPORT_CACHE_BYTES = 2 * 1024**3
DEFAULT_EXPORTS_PER_NODE = 2
DEFAULT_EXPORTS_PER_PRINCIPAL = 1


class Ingest(enum.Enum):
    """How a camera's stream reaches this node."""

    PUSH = "push"  # the camera publishes to nginx with its stream key
    PULL = "pull"  # the node fetches `source_url`
    UNSPECIFIED = "unspecified"  # unset, or a value this agent does not know: NACKed


@dataclass(frozen=True)
class AssignedCamera:
    """One camera this node is to run."""

    camera_id: str
    name: str = ""
    ingest: Ingest = Ingest.UNSPECIFIED
    stream_key: str = ""
    source_url: str = ""
    record: bool = False
    # A recording_pb2.RecordingProfile value (node_agent.recording.media knows them).
    record_profile: int = 0
    # Retention (0: no limit).
    retention_max_age_s: float = 0.0
    retention_max_bytes: int = 0


@dataclass(frozen=True)
class RevokedGrant:
    """Signed URLs of `principal` issued before `not_before` (Unix seconds; 0: ever) are
    refused."""

    principal: str
    not_before: float = 0.0


@dataclass(frozen=True)
class PlaybackPolicy:
    """How this node serves signed URLs and exports (unset on the wire: the defaults)."""

    max_url_ttl_s: float = DEFAULT_MAX_URL_TTL_S
    max_clip_s: float = DEFAULT_MAX_CLIP_S
    export_cache_bytes: int = DEFAULT_EXPORT_CACHE_BYTES
    exports_per_node: int = DEFAULT_EXPORTS_PER_NODE
    exports_per_principal: int = DEFAULT_EXPORTS_PER_PRINCIPAL


@dataclass(frozen=True)
class Assignment:
    """The complete desired state of this node, with its version (0: none yet)."""

    version: int = 0
    cameras: tuple[AssignedCamera, ...] = ()
    revoked_grants: tuple[RevokedGrant, ...] = ()
    playback: PlaybackPolicy = field(default_factory=PlaybackPolicy)
