"""One life of a recorder's child process (node_agent.recording.recorder restarts it): spawn the
collector or ffmpeg, hand each segment it closes on, and afterwards the file it was writing when it
died (the partial segment) as a recovered one.

Both children print a CSV line per closed segment, `name,start,end`: the collector in wall-clock
seconds, ffmpeg in seconds from the run's first packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from node_agent.desired import RecordingProfile
from node_agent.recording.media import SUFFIX
from node_agent.restart_policy import kill_group
from node_agent.supervisor import spawn_guarded

# More than an MPEG-TS file's headers (PAT, PMT: a few 188-byte packets): a keyframe is more.
MEDIA_BYTES = 4096


@dataclass(frozen=True)
class SegmentFile:
    """A segment file the recorder finished with."""

    camera_id: str
    profile: RecordingProfile
    # Relative to the hot tier's root.
    relative_path: str
    path: Path
    # Wall time of its first media.
    start: datetime
    # Wall time of its end; None for a partial one (start + its measured duration).
    end: datetime | None
    # Cut short by the recorder's death.
    recovered: bool
    # The end of the camera's previous segment: this one starts no earlier.
    not_before: datetime | None = None


def parse_segment_line(line: bytes) -> tuple[str, float, float] | None:
    """A segment list entry `name,start,end` (ffmpeg's CSV, or the collector's in the same
    shape); None for anything else."""
    parts = line.decode(errors="replace").strip().rsplit(",", 2)
    if len(parts) != 3 or not parts[0]:
        return None
    try:
        return parts[0].strip('"'), float(parts[1]), float(parts[2])
    except ValueError:
        return None


def exit_reason(returncode: int, last_line: str = "") -> str:
    """Why a recorder exited, for gaps and events."""
    if returncode < 0:
        return f"recorder exited (signal {-returncode})"
    reason = f"recorder exited with code {returncode}"
    return f"{reason}: {last_line}" if last_line else reason


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _rotate(path: Path, keep_bytes: int = 1 << 20) -> None:
    """Keep a recorder's log bounded: past `keep_bytes` it becomes `<name>.1` (replacing the
    previous one), so a crash loop cannot fill the disk with ffmpeg's complaints."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > keep_bytes:
            path.replace(path.with_name(path.name + ".1"))


def _last_line(path: Path, since: int) -> str:
    """The last non-empty line written to `path` after offset `since`."""
    try:
        with path.open("rb") as f:
            f.seek(since)
            text = f.read()[-4096:].decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


@dataclass
class RecorderRun:
    """One child process of a camera's recorder: start(), watch() until it exits, finish()."""

    camera_id: str
    profile: RecordingProfile
    # Where this run writes: `<directory>/<prefix>NNNNN.ts` under the hot tier (`out_dir`).
    directory: str
    out_dir: Path
    prefix: str
    log_path: Path
    # Whether the child's times are wall-clock (the collector) or count from its first packet.
    wall_clock: bool
    # Every file it is done with (closed, or the partial one) goes here, in order.
    deliver: Callable[[SegmentFile], Awaitable[None]]
    proc: asyncio.subprocess.Process | None = None
    _log_offset: int = 0
    _seen: set[str] = field(default_factory=set)
    # Wall time of the end of the media it closed; None until it closed a segment.
    _media_end: datetime | None = None

    @property
    def output_pattern(self) -> str:
        """The segment file names the child is told to write."""
        return str(self.out_dir / f"{self.prefix}%05d{SUFFIX}")

    async def start(self, argv: list[str], env: Mapping[str, str] | None) -> None:
        """Spawn the child (its own process group, SIGTERM if the agent dies)."""
        await asyncio.to_thread(self.out_dir.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(_rotate, self.log_path)
        with self.log_path.open("ab") as err:
            self._log_offset = err.tell()
            self.proc = await spawn_guarded(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                env=env,
            )

    async def watch(self) -> int:
        """Deliver each segment the child closes; its exit code once it is reaped (and what it
        left in its process group killed)."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        # ffmpeg's CSV times count from the run's first packet, which comes right after the
        # spawn (a live play starts at once): the spawn is the run's clock. It is never moved, so
        # segments of one run stay contiguous even when the publisher falls behind and
        # catches up in a burst; and it is not taken from when ffmpeg prints its lines, which
        # on a starved CPU can lag by seconds.
        anchor = 0.0 if self.wall_clock else time.time()
        try:
            while line := await proc.stdout.readline():
                entry = parse_segment_line(line)
                if entry is None:
                    continue
                name, start_s, end_s = entry
                self._seen.add(name)
                self._media_end = _utc(anchor + end_s)
                await self._deliver(name, _utc(anchor + start_s), self._media_end, recovered=False)
        finally:
            code = await proc.wait()
            kill_group(proc.pid)
        return code

    def wrote_media(self, min_bytes: int = MEDIA_BYTES) -> bool:
        """Whether the child has written media yet (more than a file's headers)."""
        for path in self.out_dir.glob(f"{self.prefix}*{SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_size >= min_bytes:
                    return True
        return False

    def exit_reason(self, returncode: int) -> str:
        """Why the child exited, with the last line of its log from this run."""
        return exit_reason(returncode, _last_line(self.log_path, self._log_offset))

    async def finish(self) -> None:
        """Deliver what the child wrote but never closed (the segment it was in when it died),
        starting where its last closed segment ended."""
        paths = await asyncio.to_thread(lambda: list(self.out_dir.glob(f"{self.prefix}*{SUFFIX}")))
        for path in sorted(p for p in paths if p.name not in self._seen):
            end = None
            if self._media_end is None:
                # Nothing closed in this run, so it has no clock: the file's last write is
                # its end (the store measures back from it).
                try:
                    modified = (await asyncio.to_thread(path.stat)).st_mtime
                except OSError:
                    continue
                end = _utc(modified)
            await self._deliver(path.name, self._media_end or _utc(0), end, recovered=True)

    async def _deliver(
        self, name: str, start: datetime, end: datetime | None, *, recovered: bool
    ) -> None:
        await self.deliver(
            SegmentFile(
                camera_id=self.camera_id,
                profile=self.profile,
                relative_path=f"{self.directory}/{name}",
                path=self.out_dir / name,
                start=start,
                end=end,
                recovered=recovered,
            )
        )
