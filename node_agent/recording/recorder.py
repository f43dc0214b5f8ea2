"""One camera's recorder: a child process writing the camera's stream into segments, restarted
with backoff when it crashes, each closed (or, after a crash, partial) segment handed to a
sink, and its state changes and gaps reported.

The child is node_agent.recording.collector for the `original` profile (joining nginx-rtmp's
live HLS fragments; a new one resumes where the last file ended, from the fragments still on
disk) and ffmpeg for a re-encoding profile (reading the local RTMP stream; a new one starts at
the live edge). Both print a CSV line per closed segment.

A child that ends on its own with exit code 0, or once the publish is gone, ended because the
publisher left: that is no crash. Anything else is, and the media between the last segment's
end and the next run's first one is reported as a gap with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from camfleet.v1 import recording_pb2

from node_agent.backoff import Backoff
from node_agent.recording.index import Segment
from node_agent.recording.media import (
    PROFILE_NAMES,
    PROFILES,
    SUFFIX,
    collector_argv,
    collector_env,
    encoder_argv,
)
from node_agent.recording.tiers import DirectoryTier
from node_agent.supervisor import with_parent_death_signal

log = logging.getLogger(__name__)

RECORDING = recording_pb2.RECORDING_STATE_RECORDING
IDLE = recording_pb2.RECORDING_STATE_IDLE
ERROR = recording_pb2.RECORDING_STATE_ERROR

Gap = tuple[datetime, datetime, str]

# How far back (seconds) a camera's first recorder takes fragments: the moments of the
# publish before recording was started, not what an earlier recorder of it already took.
FIRST_LOOKBACK_S = 5.0


@dataclass(frozen=True)
class RecorderSpec:
    """What to record: a camera, where its stream is, and the profile."""

    camera_id: str
    # The local nginx-rtmp stream by camera id (what a re-encoding profile's ffmpeg reads, with
    # a one-time token: the agent's on_play turns it into the stream's key inside nginx).
    source_url: str
    profile: int
    # The stream's live HLS fragments (what the `original` profile's collector joins).
    fragments: Path = Path()
    # Wall time the publish began: the first recorder takes what came since (at most
    # FIRST_LOOKBACK_S before it started).
    since: float = 0.0


@dataclass(frozen=True)
class SegmentFile:
    """A segment file the recorder finished with."""

    camera_id: str
    profile: int
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


class RecorderSink(Protocol):
    """Where a recorder's segments and state changes go (node_agent.recording.manager)."""

    async def segment(self, file: SegmentFile) -> Segment | None:
        """Measure, index and report a finished file; the Segment, or None if it held no
        media (the file is then gone)."""
        ...

    async def state(
        self, camera_id: str, state: recording_pb2.RecordingState, message: str, gap: Gap | None
    ) -> None:
        """The recorder changed state (or restarted after a crash, leaving `gap`)."""
        ...

    async def crashed(self, camera_id: str, reason: str) -> None:
        """The recorder died (e.g. a full disk: the sink may free space before the restart)."""
        ...


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
class Recorder:
    """Keeps one camera recording until stop() or until its input ends."""

    spec: RecorderSpec
    hot: DirectoryTier
    sink: RecorderSink
    ffmpeg: str
    segment_s: float
    log_path: Path
    # Whether the camera still publishes (an exit after the publish ended is no crash).
    is_live: Callable[[], bool] = lambda: True
    # After the first crash of a healthy recorder it restarts at once (every moment it is down
    # is video lost); after that, with backoff.
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=10.0))
    healthy_after_s: float = 10.0
    crash_limit: int = 5
    crash_window_s: float = 60.0
    # Unexpected exits (monotonic time, exit code) and the gaps they left.
    exits: list[tuple[float, int]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    segments: int = 0
    # The Python that runs node_agent.recording.collector (the agent's own).
    python: str = sys.executable
    # A one-time token for ffmpeg's play of the camera (node_agent.live_access.PlayTokens).
    play_token: Callable[[str], str] | None = None
    _created: float = field(default_factory=time.time)
    _proc: asyncio.subprocess.Process | None = None
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _stop_message: str = ""
    _last_end: datetime | None = None
    _pending_gap: tuple[datetime, str] | None = None
    _announced: bool = False
    _in_error: bool = False
    _log_offset: int = 0
    _quick_restart: bool = True
    _leftovers: asyncio.Task[None] | None = None

    @property
    def camera_id(self) -> str:
        return self.spec.camera_id

    @property
    def pid(self) -> int | None:
        """PID of the running recorder process (collector or ffmpeg), if any."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    @property
    def finished(self) -> bool:
        """True once the recorder ended (its input ended, or stop())."""
        return self._task is not None and self._task.done()

    @property
    def crash_looping(self) -> bool:
        """`crash_limit` exits within the window."""
        since = time.monotonic() - self.crash_window_s
        return sum(1 for t, _ in self.exits if t > since) >= self.crash_limit

    def start(self) -> None:
        """Record in the background."""
        self._task = asyncio.create_task(self._run(), name=f"recorder-{self.camera_id}")

    async def stop(self, message: str, grace_s: float = 10.0) -> None:
        """SIGTERM the child (it closes its segment, which is indexed) and stop; `message`
        says why in the IDLE event."""
        self._stop_message = message
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(grace_s):
                await asyncio.shield(task)
        except TimeoutError:
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await asyncio.shield(task)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        message = "the stream ended"
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                code = await self._run_once()
                if self._stop.is_set():
                    break
                # A publisher leaving ends the play cleanly (0) or with an error, never with a
                # signal: a signal is always a crash, and the restart must not wait.
                if code == 0 or (code > 0 and not await self._still_live()):
                    break
                uptime = time.monotonic() - started
                if uptime >= self.healthy_after_s:
                    self.backoff.reset()
                    self._quick_restart = True
                await self._crashed(code)
                delay = 0.0 if self._quick_restart else self.backoff.next_delay()
                self._quick_restart = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stop.wait()
            message = self._stop_message or message
        except Exception:
            log.exception("recorder of %s failed", self.camera_id)
            message = "the recorder failed (see the agent log)"
        finally:
            await self._wait_leftovers()
            gap = None
            if self._pending_gap is not None:
                start, reason = self._pending_gap
                gap = (start, max(start, datetime.now(UTC)), reason)
                self.gaps.append(gap)
            with contextlib.suppress(Exception):
                await self.sink.state(self.camera_id, IDLE, message, gap)

    async def _still_live(self, within_s: float = 0.5) -> bool:
        """Whether the publish is still on, giving nginx's on_publish_done time to arrive."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if not self.is_live():
                return False
            await asyncio.sleep(0.1)
        return self.is_live()

    async def _crashed(self, code: int) -> None:
        reason = exit_reason(code, _last_line(self.log_path, self._log_offset))
        self.exits = [*self.exits[-50:], (time.monotonic(), code)]
        log.warning("recorder of %s: %s", self.camera_id, reason)
        if self._pending_gap is None:
            # Its start is the end of the last segment, known once the leftovers are measured.
            self._pending_gap = (self._last_end or datetime.now(UTC), reason)
        await self.sink.crashed(self.camera_id, reason)
        if self.crash_looping and not self._in_error:
            self._in_error = True
            recent = sum(1 for t, _ in self.exits if t > time.monotonic() - self.crash_window_s)
            await self.sink.state(
                self.camera_id,
                ERROR,
                f"recorder crash loop ({recent} exits in {self.crash_window_s:.0f}s): {reason}",
                None,
            )

    @property
    def _collects(self) -> bool:
        """The `original` profile: the collector, whose segment lines carry wall-clock times
        and which resumes from disk (ffmpeg's lines count from the run's first packet)."""
        return self.spec.profile not in PROFILES

    def _command(self, output_pattern: str) -> list[str]:
        """This run's argv (no stream key in it: every local user can read it)."""
        encoding = PROFILES.get(self.spec.profile)
        if encoding is not None:
            source = self.spec.source_url
            if self.play_token is not None:
                source += f"?rec={self.play_token(self.camera_id)}"
            return encoder_argv(self.ffmpeg, source, output_pattern, self.segment_s, encoding)
        if self._last_end is not None:
            # Where the last file (closed, or cut short by a crash) ended: nothing is lost
            # while the fragments in between are still on disk.
            since = self._last_end.timestamp()
        else:
            since = max(self.spec.since, self._created - FIRST_LOOKBACK_S)
        return collector_argv(self.python, output_pattern, self.segment_s, since)

    async def _run_once(self) -> int:
        """One recorder run; its exit code once every file it wrote is handed to the sink."""
        if self._collects:
            # The collector resumes where the last file ended, so that file (a crashed run's
            # partial) is measured first. ffmpeg cannot resume: it starts at once instead.
            await self._wait_leftovers()
        now = datetime.now(UTC)
        directory = f"{self.camera_id}/{now:%Y%m%d}"
        prefix = f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-"
        prefix += f"{PROFILE_NAMES.get(self.spec.profile, 'original')}-"
        out_dir = self.hot.path_for(directory)
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        argv = self._command(str(out_dir / f"{prefix}%05d{SUFFIX}"))
        await asyncio.to_thread(_rotate, self.log_path)
        with self.log_path.open("ab") as err:
            self._log_offset = err.tell()
            proc = await asyncio.create_subprocess_exec(
                *with_parent_death_signal(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                env=collector_env(self.spec.fragments, os.environ) if self._collects else None,
            )
        self._proc = proc
        if self._stop.is_set():
            proc.send_signal(signal.SIGTERM)  # stop() came while it was being spawned
        # ffmpeg's CSV times count from the run's first packet, which comes right after the
        # spawn (a live play starts at once): the spawn is the run's clock. It is never moved, so
        # segments of one run stay contiguous even when the publisher falls behind and
        # catches up in a burst; and it is not taken from when ffmpeg prints its lines, which
        # on a starved CPU can lag by seconds.
        spawned = time.time()
        anchor: float | None = None
        seen: set[str] = set()
        media_end = 0.0
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                entry = parse_segment_line(line)
                if entry is None:
                    continue
                name, start_s, end_s = entry
                if anchor is None:
                    anchor = 0.0 if self._collects else spawned
                await self._wait_leftovers()
                seen.add(name)
                media_end = end_s
                await self._deliver(
                    name,
                    directory,
                    out_dir,
                    start=_utc(anchor + start_s),
                    end=_utc(anchor + end_s),
                    recovered=False,
                )
        finally:
            code = await proc.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        # Whatever it wrote but never closed (the segment it was in when it died) is measured
        # and indexed while the next run starts: a restart must not wait for ffprobe.
        await self._wait_leftovers()  # a run that closed nothing never waited for the last
        start = None if anchor is None else _utc(anchor + media_end)
        self._leftovers = asyncio.create_task(
            self._finish_run(directory, out_dir, prefix, seen, start)
        )
        return code

    async def _finish_run(
        self, directory: str, out_dir: Path, prefix: str, seen: set[str], start: datetime | None
    ) -> None:
        paths = await asyncio.to_thread(lambda: list(out_dir.glob(f"{prefix}*{SUFFIX}")))
        for path in sorted(p for p in paths if p.name not in seen):
            end = None
            if start is None:
                # Nothing closed in this run, so it has no clock: the file's last write is
                # its end (the store measures back from it).
                try:
                    modified = (await asyncio.to_thread(path.stat)).st_mtime
                except OSError:
                    continue
                end = _utc(modified)
            await self._deliver(
                path.name,
                directory,
                out_dir,
                start=start or _utc(0),
                end=end,
                recovered=True,
            )

    async def _wait_leftovers(self) -> None:
        """Until the previous run's unclosed files are indexed (keeps segments in order)."""
        task, self._leftovers = self._leftovers, None
        if task is not None:
            try:
                await task
            except Exception:
                log.exception(
                    "finishing the files of %s's previous recorder failed", self.camera_id
                )

    async def _deliver(
        self,
        name: str,
        directory: str,
        out_dir: Path,
        *,
        start: datetime,
        end: datetime | None,
        recovered: bool,
    ) -> None:
        file = SegmentFile(
            camera_id=self.camera_id,
            profile=self.spec.profile,
            relative_path=f"{directory}/{name}",
            path=out_dir / name,
            start=start,
            end=end,
            recovered=recovered,
            # A new run's clock is an estimate: never overlap what is recorded already.
            not_before=self._last_end,
        )
        segment = await self.sink.segment(file)
        if segment is None:
            return
        self.segments += 1
        self._last_end = max(self._last_end or segment.end, segment.end)
        if self._pending_gap is not None and recovered:
            # The partial segment of the crashed run: the gap starts where it ends.
            self._pending_gap = (self._last_end, self._pending_gap[1])
        elif self._pending_gap is not None:
            gap_start, reason = self._pending_gap
            gap = (gap_start, max(gap_start, segment.start), reason)
            self._pending_gap = None
            self._in_error = False
            self._announced = True
            self.gaps.append(gap)
            seconds = (gap[1] - gap[0]) / timedelta(seconds=1)
            await self.sink.state(
                self.camera_id, RECORDING, f"recorder restarted ({seconds:.2f}s lost)", gap
            )
        elif not self._announced:
            self._announced = True
            await self.sink.state(self.camera_id, RECORDING, "recording", None)
