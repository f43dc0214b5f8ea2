"""What a camera's recorder is given and what it reports (node_agent.recording.recorder runs
it; node_agent.recording.manager decides which to run and takes what they report)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from node_agent.desired import RecordingProfile
from node_agent.recording.index import Segment
from node_agent.recording.run import SegmentFile


class RecorderState(enum.Enum):
    """A recorder's state as reported to the control plane (node_agent.recording.wire turns it
    into the wire's RecordingState)."""

    RECORDING = "recording"
    IDLE = "idle"
    ERROR = "error"


Gap = tuple[datetime, datetime, str]


@dataclass(frozen=True)
class RecorderSpec:
    """What to record: a camera, where its stream is, and the profile."""

    camera_id: str
    # The local nginx-rtmp stream by camera id (what a re-encoding profile's ffmpeg reads, with
    # a one-time token: the agent's on_play turns it into the stream's key inside nginx).
    source_url: str
    profile: RecordingProfile
    # The stream's live HLS fragments (what the `original` profile's collector joins).
    fragments: Path = Path()
    # A re-encoding profile equal to a rung of the camera's live ladder: the rung's playlist
    # in `fragments` (the ladder's directory), whose fragments the collector joins instead of
    # encoding the stream a second time. "": the profile's own ffmpeg encodes.
    playlist: str = ""
    # Wall time the publish began: the first recorder takes what came since (at most
    # FIRST_LOOKBACK_S before it started).
    since: float = 0.0


class RungSource(Protocol):
    """The node's live ladders as recording uses them (node_agent.ladder.manager)."""

    def pin(self, camera_ids: Iterable[str]) -> None:
        """Keep exactly these cameras' ladders running, watched or not."""
        ...

    def rung_output(self, camera_id: str, rung: str) -> tuple[str, Path | None]:
        """("ready", the rung's playlist), ("starting", None) or ("none", None)."""
        ...


class RecorderSink(Protocol):
    """Where a recorder's segments and state changes go (node_agent.recording.manager)."""

    async def segment(self, file: SegmentFile) -> Segment | None:
        """Measure, index and report a finished file; the Segment, or None if it held no
        media (the file is then gone)."""
        ...

    async def state(
        self, camera_id: str, state: RecorderState, message: str, gap: Gap | None
    ) -> None:
        """The recorder changed state (or restarted after a crash, leaving `gap`)."""
        ...

    async def crashed(self, camera_id: str, reason: str) -> None:
        """The recorder died (e.g. a full disk: the sink may free space before the restart)."""
        ...
