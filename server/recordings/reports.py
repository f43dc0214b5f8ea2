"""What a node reports about its recordings, in the recordings domain's terms: the segment and
recorder events server.recordings.ingest applies. The agent's messages become these at the edge
(server.recordings.convert, called by server.nodes.agent_wire), as sent: checking them is the
ingest's job, so a time the node sent that is no time is kept as a BadTime to say which.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

# Longer than any real segment: a report of a longer one is unusable, and it bounds the index
# range scanned for overlaps.
MAX_SEGMENT = timedelta(hours=6)


class BadTime(enum.Enum):
    """A time a node sent that cannot be used; the value completes "<field> ..."."""

    MISSING = "is missing"
    INVALID = "is not a valid time"


# A time as a node sent it.
SentTime = datetime | BadTime


class SegmentChange(enum.Enum):
    """What happened to a segment."""

    CLOSED = "closed"  # recorded and indexed on the node
    MOVED = "moved"  # its file went to another tier
    DELETED = "deleted"  # its file is gone
    MOVES_BLOCKED = "moves_blocked"  # moves to segment.tier stopped (reason says why)
    MOVES_RESUMED = "moves_resumed"  # they go again


@dataclass(frozen=True)
class ReportedSegment:
    """A segment as a node describes it (a MOVED or DELETED event fills only some fields)."""

    id: str
    camera_id: str
    start: SentTime = BadTime.MISSING
    end: SentTime = BadTime.MISSING
    duration_s: float = 0.0
    size_bytes: int = 0
    sha256: str = ""
    # "hot", "warm", "cold"; None when unset or unknown.
    tier: str | None = None
    # "original", "low", ...; None when unset or unknown.
    profile: str | None = None
    # "" when unset.
    container: str = ""
    recovered: bool = False
    # The placement epoch it was recorded under (0: a node before epochs, or none sent).
    epoch: int = 0
    # MOVED to "cold": its object.
    object_bucket: str = ""
    object_key: str = ""


@dataclass(frozen=True)
class SegmentReport:
    """A segment event. `change` is an int when the node sent a type this control plane does not
    know (kept to say which)."""

    change: SegmentChange | int
    segment: ReportedSegment
    # DELETED, MOVES_BLOCKED: why.
    reason: str = ""


@dataclass(frozen=True)
class ReportedGap:
    """A stretch the recorder missed, as the node sent it."""

    start: SentTime
    end: SentTime
    reason: str


@dataclass(frozen=True)
class RecorderReport:
    """A recorder event: the camera's recorder state ("idle", "recording", "error"; None when
    unknown), why, and the gap a crash or full disk left (None when none was sent)."""

    camera_id: str
    state: str | None
    message: str
    gap: ReportedGap | None = None


class StreamStop(enum.Enum):
    """How a camera's stream stopped on a node, as far as recording gaps care."""

    UNPUBLISHED = "unpublished"  # the publisher left (a push camera, or a pull's ffmpeg)
    FAILED = "failed"  # the node reported the camera ERROR (a pull camera's source failed)


@dataclass(frozen=True)
class StreamStopReport:
    """A stream event that may open a gap: a camera stopped on a node at `at`, and why (the
    reason a pull camera's ERROR carries, node_agent/pull/reasons.py)."""

    camera_id: str
    stop: StreamStop
    reason: str
    at: datetime


# Either report, as the hub hands them to the ingest.
RecordingReport = SegmentReport | RecorderReport
