"""Why a camera was not recorded for a while: the causes a gap is stored with, and how the
words nodes send map to them. Pure, no I/O (the store is server.recordings.gaps).

Stored by value in recording_gaps.cause; recording.proto's GapCause mirrors them
(server.recordings.convert).
"""

from __future__ import annotations

import enum


class GapCause(enum.StrEnum):
    """A gap's cause."""

    # The recording node stopped heartbeating; until the camera's next segment elsewhere, or on
    # the same node once it is back (not one it recorded while silent: server.recordings.gaps).
    NODE_LOST = "node_lost"
    # A pull camera's source failed (its node reported the camera ERROR) while recording was on.
    SOURCE_ERROR = "source_error"
    # The recorder died (a node reports the time it lost when it restarts it), or is in a crash
    # loop (its node reports the camera's recording ERROR).
    RECORDER_CRASH = "recorder_crash"
    # No room left to write: the node said "disk full", or a recorder died of ENOSPC.
    DISK_FULL = "disk_full"
    # A push camera stopped publishing while recording was on.
    CAMERA_STOPPED = "camera_stopped"
    # Time between two recorded stretches that nothing explains.
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str) -> GapCause:
        """The cause stored as `value`; UNKNOWN for a value this version does not know."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


# When stored gaps overlap, the time they share is shown once, under the first of these: what a
# node itself said went wrong is more precise than what the control plane inferred from the
# outside (a node lost from view may have recorded on until its own recorder crashed).
PRECEDENCE: tuple[GapCause, ...] = (
    GapCause.DISK_FULL,
    GapCause.RECORDER_CRASH,
    GapCause.SOURCE_ERROR,
    GapCause.CAMERA_STOPPED,
    GapCause.NODE_LOST,
    GapCause.UNKNOWN,
)
RANK = {cause: i for i, cause in enumerate(PRECEDENCE)}

# The reasons of the gaps below, as the API shows them beside the cause.
NODE_LOST_REASON = "node lost"
# A node whose agent connected anew, started after its last heartbeat, without a goodbye and
# before it was declared lost: killed, crashed or its host rebooted (server.nodes.messages).
AGENT_RESTARTED_REASON = "the node's agent restarted without a goodbye"
CAMERA_STOPPED_REASON = "the camera stopped publishing"
SOURCE_FAILED_REASON = "source failed"

# How a node says its disk is full: the recording manager's "disk full: less than N bytes free
# and no segment left to delete" (node_agent/recording/manager.py), or a recorder's last line
# when a write failed (ENOSPC, "No space left on device").
_DISK_FULL_WORDS = ("disk full", "no space left on device")


# How a node refuses to run a camera under an older placement than it has seen
# (node_agent/fencing.py): an ERROR that is about fencing, not the camera's source.
_FENCED = "stale placement epoch"


def is_source_failure(reason: str) -> bool:
    """Whether a pull camera's ERROR reason is its source failing (node_agent/pull/reasons.py),
    not the node refusing a stale placement."""
    return not reason.startswith(_FENCED)


def is_disk_full(text: str) -> bool:
    """Whether a node's message or gap reason says the disk is full."""
    lowered = text.lower()
    return any(words in lowered for words in _DISK_FULL_WORDS)


def reported_gap_cause(reason: str) -> GapCause:
    """The cause of a gap a node's RecorderEvent carries. Nodes send one only for time their
    recorder lost between a crash and its restart (or its stop): "recorder exited (signal 9)",
    "recorder exited with code 1: <its last line>" (node_agent/recording/run.py exit_reason);
    a crash that names a full disk is DISK_FULL."""
    return GapCause.DISK_FULL if is_disk_full(reason) else GapCause.RECORDER_CRASH


def stored_cause(cause: str, reason: str) -> GapCause:
    """The cause of a stored gap. Gaps stored before causes were (migration 0006 gave them
    "unknown") were either a lost node's ("node lost") or a node's recorder report: their
    reason says which. No gap is stored as UNKNOWN since: that cause is only for holes."""
    parsed = GapCause.parse(cause)
    if parsed is not GapCause.UNKNOWN:
        return parsed
    return GapCause.NODE_LOST if reason == NODE_LOST_REASON else reported_gap_cause(reason)


def recorder_error_cause(message: str) -> GapCause:
    """The cause of the gap a recorder's ERROR state opens: a full disk, else a crash loop
    (the only two ERRORs nodes send: node_agent/recording/manager.py and recorder.py)."""
    return GapCause.DISK_FULL if is_disk_full(message) else GapCause.RECORDER_CRASH
