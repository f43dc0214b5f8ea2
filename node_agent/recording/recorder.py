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

A new segment length (the platform's setting) reaches the collector through its segment file,
live; an ffmpeg is replaced make-before-break at a segment boundary: the new run starts beside
the old one, which is ended once the new one writes media. Measured with a camera whose frames
carry their number (tests/node_agent/test_settings_recorder.py): no frame is lost, the runs
overlap by seconds, where a kill -9 and restart loses about two seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from node_agent.backoff import Backoff
from node_agent.recording.media import (
    PROFILE_NAMES,
    PROFILES,
    collector_argv,
    collector_env,
    encoder_argv,
)
from node_agent.recording.run import RecorderRun, SegmentFile
from node_agent.recording.spec import Gap, RecorderSink, RecorderSpec, RecorderState
from node_agent.recording.tiers import DirectoryTier
from node_agent.restart_policy import RestartPolicy, terminate

log = logging.getLogger(__name__)


# The reason of the gap an encoding recorder's replacement for a new segment length leaves.
RESEGMENT_REASON = "the recorder restarted for a new segment length"
# How far back (seconds) a camera's first recorder takes fragments: the moments of the
# publish before recording was started, not what an earlier recorder of it already took.
FIRST_LOOKBACK_S = 5.0


def _recorder_policy() -> RestartPolicy:
    # After the first crash of a healthy recorder it restarts at once (every moment it is down
    # is video lost); after that, with backoff.
    return RestartPolicy(backoff=Backoff(base=0.5, cap=10.0), quick_first_restart=True)


@dataclass
class Recorder:
    """Keeps one camera recording until stop() or until its input ends: a RecorderRun after
    another, restarted under the shared RestartPolicy, with the gaps between them reported."""

    spec: RecorderSpec
    hot: DirectoryTier
    sink: RecorderSink
    ffmpeg: str
    segment_s: float
    log_path: Path
    # Whether the camera still publishes (an exit after the publish ended is no crash).
    is_live: Callable[[], bool] = lambda: True
    policy: RestartPolicy = field(default_factory=_recorder_policy)
    # The gaps crashes left.
    gaps: list[Gap] = field(default_factory=list)
    segments: int = 0
    # The Python that runs node_agent.recording.collector (the agent's own).
    python: str = sys.executable
    # A one-time token for ffmpeg's play of the camera (node_agent.live_access.PlayTokens).
    play_token: Callable[[str], str] | None = None
    # The file holding the platform's segment length, which the collector follows live.
    segment_file: Path | None = None
    # Where the media of the camera already indexed on this node ends (an earlier recorder's
    # last file): this recorder takes and indexes nothing before it, so two recorders of one
    # camera never hold the same moments (the chaos soak found one re-taking, by its first
    # look back, fragments its predecessor had taken).
    resume_after: datetime | None = None
    _created: float = field(default_factory=time.time)
    _run: RecorderRun | None = None
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _stop_message: str = ""
    _last_end: datetime | None = None
    _pending_gap: tuple[datetime, str] | None = None
    _announced: bool = False
    # The previous run's finish(): its partial segment is indexed before the next run's first.
    _leftovers: asyncio.Task[None] | None = None
    # An encoding run that must be replaced at its next segment boundary (new segment length),
    # and one being ended for that reason (its exit is no crash and no end of the stream).
    _resegment: bool = False
    _switching: bool = False
    # The run started beside the current one to replace it (make-before-break), the task
    # starting it, and whether it came without media in time (then the switch leaves a gap).
    _next: RecorderRun | None = None
    _overlap: asyncio.Task[None] | None = None
    _switch_gap: bool = False

    @property
    def camera_id(self) -> str:
        return self.spec.camera_id

    @property
    def pid(self) -> int | None:
        """PID of the running recorder process (collector or ffmpeg), if any."""
        proc = self._run.proc if self._run is not None else None
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def finished(self) -> bool:
        """True once the recorder ended (its input ended, or stop())."""
        return self._task is not None and self._task.done()

    def set_segment_length(self, segment_s: float) -> None:
        """The next segments are `segment_s` long. The collector follows the segment file by
        itself (the manager rewrote it): nothing restarts. ffmpeg cannot change -segment_time,
        so an encoding run is replaced at its next segment boundary."""
        if segment_s == self.segment_s:
            return
        self.segment_s = segment_s
        if not self._collects:
            self._resegment = True

    def start(self) -> None:
        """Record in the background."""
        self._task = asyncio.create_task(self._loop(), name=f"recorder-{self.camera_id}")

    async def stop(self, message: str, grace_s: float = 10.0) -> None:
        """End the child with the kill sequence (on SIGTERM it closes its segment, which is
        indexed) and stop; `message` says why in the IDLE event."""
        self._stop_message = message
        self._stop.set()
        task = self._task
        if task is None:
            return
        # Twice: a run spawned while the first one was being ended gets the same treatment.
        for _ in range(2):
            for run in (self._next, self._run):
                if run is not None and run.proc is not None:
                    await terminate(run.proc, grace_s)
            # The last files are measured and indexed after the child is gone.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await asyncio.shield(task)
            if task.done():
                return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self) -> None:
        message = "the stream ended"
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                run = self._take_next() if self._switching else await self._run_once()
                code = await run.watch()
                await self._finish_later(run)
                if self._stop.is_set():
                    break
                if self._switching:
                    # Replaced for a new segment length by the run started beside it, which
                    # goes on. Every line of the old run is in (its last segment, closed on
                    # SIGTERM, too); a gap only if the new run had no media in time.
                    if self._switch_gap and self._pending_gap is None and self._last_end:
                        self._pending_gap = (self._last_end, RESEGMENT_REASON)
                    continue
                await self._drop_next()  # it ended by itself while its successor was starting
                # A publisher leaving ends the play cleanly (0) or with an error, never with a
                # signal: a signal is always a crash, and the restart must not wait.
                if code == 0 or (code > 0 and not await self._still_live()):
                    break
                self.policy.exited(code, time.monotonic() - started)
                await self._crashed(run.exit_reason(code))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.policy.next_delay()):
                        await self._stop.wait()
            message = self._stop_message or message
        except Exception:
            log.exception("recorder of %s failed", self.camera_id)
            message = "the recorder failed (see the agent log)"
        finally:
            await self._drop_next()
            await self._wait_leftovers()
            gap = None
            if self._pending_gap is not None:
                start, reason = self._pending_gap
                gap = (start, max(start, datetime.now(UTC)), reason)
                self.gaps.append(gap)
            with contextlib.suppress(Exception):
                await self.sink.state(self.camera_id, RecorderState.IDLE, message, gap)

    def _switch_at_boundary(self) -> None:
        """A segment just closed: replace this encoding run by one with the new segment length,
        make-before-break (ffmpeg cannot change -segment_time, and a new one starts at the live
        edge only after connecting and waiting for a keyframe)."""
        if self._overlap is not None and not self._overlap.done():
            return  # one is starting; _resegment stays set if the length changed meanwhile
        self._resegment = False
        self._overlap = asyncio.create_task(self._make_before_break())

    async def _make_before_break(self, within_s: float = 30.0) -> None:
        """Start the new run beside the current one; once it writes media, end the current one
        at once: its last segment and the new run's first overlap by a moment, which the index
        trims (SegmentStore.add's not_before), so nothing is lost. If the new run has no media
        within `within_s`, the switch is made anyway and its gap reported. The old run records
        meanwhile, so waiting costs nothing: 10 s was too short for a new encoder to connect
        and see a keyframe on a loaded machine (CI: an 18 s gap reported at the switch)."""
        old = self._run
        if old is None or old.proc is None or old.proc.returncode is not None:
            return
        new = await self._spawn()
        self._next = new
        deadline = time.monotonic() + within_s
        while not await asyncio.to_thread(new.wrote_media):
            if new.proc is None or new.proc.returncode is not None:
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        if self._stop.is_set() or old.proc.returncode is not None:
            return  # the loop ends or drops the new run
        self._switch_gap = not await asyncio.to_thread(new.wrote_media)
        self._switching = True
        old.proc.send_signal(signal.SIGTERM)

    def _take_next(self) -> RecorderRun:
        """The run started beside the last one: the current one from now on."""
        run, self._next = self._next, None
        assert run is not None
        self._switching = False
        self._run = run
        return run

    async def _drop_next(self) -> None:
        """End a replacement that never took over (its files are indexed like any run's)."""
        if self._overlap is not None:
            self._overlap.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._overlap
            self._overlap = None
        run, self._next = self._next, None
        self._switching = False
        if run is not None and run.proc is not None:
            await terminate(run.proc, 5.0)
            with contextlib.suppress(Exception):
                await run.watch()
            await self._finish_later(run)

    async def _still_live(self, within_s: float = 0.5) -> bool:
        """Whether the publish is still on, giving nginx's on_publish_done time to arrive."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if not self.is_live():
                return False
            await asyncio.sleep(0.1)
        return self.is_live()

    async def _crashed(self, reason: str) -> None:
        log.warning("recorder of %s: %s", self.camera_id, reason)
        if self._pending_gap is None:
            # Its start is the end of the last segment, known once the leftovers are measured.
            self._pending_gap = (self._last_end or datetime.now(UTC), reason)
        await self.sink.crashed(self.camera_id, reason)
        if self.policy.enter_error():
            await self.sink.state(
                self.camera_id,
                RecorderState.ERROR,
                f"recorder crash loop ({self.policy.recent_exits} exits in "
                f"{self.policy.crash_window_s:.0f}s): {reason}",
                None,
            )

    @property
    def _collects(self) -> bool:
        """The `original` profile, or one a ladder rung already encodes: the collector, whose
        segment lines carry wall-clock times and which resumes from disk (ffmpeg's lines count
        from the run's first packet)."""
        return self.spec.profile not in PROFILES or bool(self.spec.playlist)

    def _command(self, output_pattern: str) -> list[str]:
        """This run's argv (no stream key in it: every local user can read it)."""
        encoding = PROFILES.get(self.spec.profile)
        if encoding is not None and not self.spec.playlist:
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
            if self.resume_after is not None:
                since = max(since, self.resume_after.timestamp())
        argv = collector_argv(self.python, output_pattern, self.segment_s, since, self.segment_file)
        return argv + (["--playlist", self.spec.playlist] if self.spec.playlist else [])

    async def _run_once(self) -> RecorderRun:
        """A new run of the child, started: the current one."""
        if self._collects:
            # The collector resumes where the last file ended, so that file (a crashed run's
            # partial) is measured first. ffmpeg cannot resume: it starts at once instead.
            await self._wait_leftovers()
        run = await self._spawn()
        self._run = run
        if self._stop.is_set() and run.proc is not None:
            run.proc.send_signal(signal.SIGTERM)  # stop() came while it was being spawned
        return run

    async def _spawn(self) -> RecorderRun:
        """A new run of the child, started (not yet the current one)."""
        now = datetime.now(UTC)
        directory = f"{self.camera_id}/{now:%Y%m%d}"
        prefix = f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-"
        prefix += f"{PROFILE_NAMES[self.spec.profile]}-"
        run = RecorderRun(
            camera_id=self.camera_id,
            profile=self.spec.profile,
            directory=directory,
            out_dir=self.hot.path_for(directory),
            prefix=prefix,
            log_path=self.log_path,
            wall_clock=self._collects,
            deliver=self._deliver,
        )
        env = collector_env(self.spec.fragments, os.environ) if self._collects else None
        await run.start(self._command(run.output_pattern), env)
        return run

    async def _finish_later(self, run: RecorderRun) -> None:
        """Index the run's unclosed files while the next run starts: a restart must not wait
        for ffprobe."""
        await self._wait_leftovers()  # a run that closed nothing never waited for the last
        self._leftovers = asyncio.create_task(run.finish())

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

    async def _deliver(self, file: SegmentFile) -> None:
        """Hand a file of a run to the sink, and report the state it implies."""
        if not file.recovered:
            # A live run's files come after the previous run's partial one.
            await self._wait_leftovers()
        # A new run's clock is an estimate: never overlap what is recorded already.
        not_before = self._last_end or self.resume_after
        segment = await self.sink.segment(dataclasses.replace(file, not_before=not_before))
        if segment is None:
            return
        self.segments += 1
        self._last_end = max(self._last_end or segment.end, segment.end)
        if self._resegment and not file.recovered:
            self._switch_at_boundary()
        if self._pending_gap is not None and file.recovered:
            # The partial segment of the crashed run: the gap starts where it ends.
            self._pending_gap = (self._last_end, self._pending_gap[1])
        elif self._pending_gap is not None:
            gap_start, reason = self._pending_gap
            gap = (gap_start, max(gap_start, segment.start), reason)
            self._pending_gap = None
            self.policy.recovered()
            self._announced = True
            self.gaps.append(gap)
            seconds = (gap[1] - gap[0]) / timedelta(seconds=1)
            await self.sink.state(
                self.camera_id,
                RecorderState.RECORDING,
                f"recorder restarted ({seconds:.2f}s lost)",
                gap,
            )
        elif not self._announced:
            self._announced = True
            await self.sink.state(self.camera_id, RecorderState.RECORDING, "recording", None)
