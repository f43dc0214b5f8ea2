"""What the control plane wants this node to run: the Assignment, as typed objects. The wire's
agent_pb2.Assignment becomes one at the edge (node_agent.convert), so the agent's logic never
reads protobuf; node_agent.assignment keeps the one in force, and node_agent.state stores it
in its own JSON form (assignment_to_json), not the wire's.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field

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


class RecordingProfile(enum.IntEnum):
    """What a camera is recorded as: its own stream, or re-encoded at a height and bitrate
    (node_agent.recording.media.PROFILES).

    Numbered as camfleet.v1's RecordingProfile on purpose: the segment index
    (node_agent.recording.index) stores these numbers, as agents before this enum stored the
    wire's, so an index written by an earlier agent reads back as the same members. Never
    renumber a member (node_agent.convert maps to and from the wire by name, not by number).
    """

    ORIGINAL = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    ULTRA = 5


@dataclass(frozen=True)
class AssignedCamera:
    """One camera this node is to run."""

    camera_id: str
    name: str = ""
    ingest: Ingest = Ingest.UNSPECIFIED
    stream_key: str = ""
    source_url: str = ""
    record: bool = False
    record_profile: RecordingProfile = RecordingProfile.ORIGINAL
    # Retention (0: no limit).
    retention_max_age_s: float = 0.0
    retention_max_bytes: int = 0
    # The placement's fencing token (node_agent.fencing): never run under one older than seen.
    epoch: int = 0
    # The live ladder's rungs ("source", "360p", ...; node_agent.ladder), empty: none.
    ladder: tuple[str, ...] = ()


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
class ColdStorage:
    """The object store this node moves old segments to (node_agent.recording.cold)."""

    endpoint: str
    bucket: str
    prefix: str
    access_key: str
    secret_key: str = field(repr=False)
    after_s: float
    region: str = "us-east-1"


@dataclass(frozen=True)
class NodeSettings:
    """The platform settings this node applies live (node_agent.settings); None: never set on
    the platform, so the agent's own flag holds (flags are the first-start defaults)."""

    hls_fragment_s: float | None = None
    hls_playlist_length_s: float | None = None
    segment_s: float | None = None
    free_space_floor_bytes: int | None = None
    warm_after_s: float | None = None
    # None: no cold tier.
    cold: ColdStorage | None = None


@dataclass(frozen=True)
class Assignment:
    """The complete desired state of this node, with its version (0: none yet)."""

    version: int = 0
    cameras: tuple[AssignedCamera, ...] = ()
    revoked_grants: tuple[RevokedGrant, ...] = ()
    playback: PlaybackPolicy = field(default_factory=PlaybackPolicy)
    # Stored with the rest, so a restart without the control plane keeps them.
    settings: NodeSettings = field(default_factory=NodeSettings)


# The stored form's layout; a file of another (future) format reads as damaged.
_FORMAT = 1


def assignment_to_json(assignment: Assignment) -> bytes:
    """How node_agent.state stores `assignment`: JSON of these objects (enums by name), so the
    file depends on this module rather than on the protocol; assignment_from_json reads it back
    equal."""
    document = {
        "format": _FORMAT,
        "version": assignment.version,
        "cameras": [
            {**asdict(c), "ingest": c.ingest.value, "record_profile": c.record_profile.name}
            for c in assignment.cameras
        ],
        "revoked_grants": [asdict(g) for g in assignment.revoked_grants],
        "playback": asdict(assignment.playback),
        "settings": asdict(assignment.settings),
    }
    return json.dumps(document, sort_keys=True, indent=1).encode()


def assignment_from_json(data: bytes) -> Assignment:
    """The Assignment assignment_to_json wrote; ValueError if `data` is not one."""
    try:
        document = json.loads(data)
        if document["format"] != _FORMAT:
            raise ValueError(f"unknown assignment format {document['format']!r}")
        return Assignment(
            version=int(document["version"]),
            cameras=tuple(
                AssignedCamera(
                    **{
                        **c,
                        "ingest": Ingest(c["ingest"]),
                        "record_profile": RecordingProfile[c["record_profile"]],
                        "ladder": tuple(c.get("ladder", ())),
                    }
                )
                for c in document["cameras"]
            ),
            revoked_grants=tuple(RevokedGrant(**g) for g in document["revoked_grants"]),
            playback=PlaybackPolicy(**document["playback"]),
            # Files written before settings came with assignments have none: the flags hold.
            settings=_settings(document.get("settings", {})),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        # json.JSONDecodeError and a bad enum value are ValueErrors already.
        raise ValueError(f"not a stored assignment: {exc!r}") from None


def _settings(stored: dict[str, object]) -> NodeSettings:
    cold = stored.get("cold")
    values = {**stored, "cold": ColdStorage(**cold) if isinstance(cold, dict) else None}
    return NodeSettings(**values)  # type: ignore[arg-type]
