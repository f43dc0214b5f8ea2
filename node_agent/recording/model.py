"""The recording domain's terms: where a segment's file lives and what a camera is recorded as.

Both are IntEnums numbered as camfleet.v1's StorageTier and RecordingProfile, on purpose: the
segment index (node_agent.recording.index) stores these numbers in its `tier` and `profile`
columns, and has done so since before these enums existed, so an index written by an earlier
agent reads back as the same members. Never renumber a member. node_agent.convert maps them to
and from the wire's enums; the domain never imports camfleet.v1.
"""

from __future__ import annotations

import enum


class StorageTier(enum.IntEnum):
    """Where a segment's file lives."""

    HOT = 1  # the node's data directory
    WARM = 2  # a second directory (e.g. a mounted share)
    COLD = 3  # object storage (not implemented)


class RecordingProfile(enum.IntEnum):
    """What a camera is recorded as: its own stream, or re-encoded at a height and bitrate
    (node_agent.recording.media.PROFILES)."""

    ORIGINAL = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    ULTRA = 5
