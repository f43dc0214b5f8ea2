"""One pull camera's ffmpeg: started, watched and restarted with backoff, its failures reported
as the camera's ERROR with a reason (node_agent.pull.reasons).

Invariants (tests/node_agent/test_pull.py):
- A source URL that node_agent.pull.source refuses is reported once and never given to ffmpeg;
  nothing retries it (only a new assignment, with another URL, starts a new Puller).
- ffmpeg's stderr is read by the agent, never written anywhere raw: every line is redacted
  (node_agent.pull.source.PullSource.redact) before it reaches the camera's log file, the
  agent's log or a reason, because ffmpeg prints its input URL, credentials included, and its
  output URL, the camera's stream key included.
- A run that published and ended without nginx's word (nginx itself died) ends the publish
  itself (UNPUBLISH, then the ERROR), and its restart waits only for nginx to listen again:
  waiting for /stat to show the publish gone cost every camera of the node a second.
- An ERROR is reported when a run fails for another reason than the one last reported, or after
  a run that published (the camera had left ERROR): retries failing the same way add nothing
  to the spool. After a run that published, the ERROR waits (briefly) for nginx's
  on_publish_done, so the control plane sees UNPUBLISH before ERROR and the camera stays ERROR.
- An RTSP source is probed briefly (node_agent.pull.source); a run that fails so without
  publishing, in a way a short probe can cause, is run again at once with ffmpeg's full probe
  before anything is reported.
- Restarts follow node_agent.restart_policy (backoff with jitter, reset after a healthy run);
  ffmpeg leads its own process group, gets a parent-death signal, and stop() ends it with the
  shared kill sequence: no ffmpeg outlives its Puller or the agent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from node_agent.backoff import Backoff
from node_agent.pull.reasons import (
    NGINX_RESTARTED,
    NO_VIDEO,
    OTHER,
    UNSUPPORTED_CODEC,
    classify,
)
from node_agent.pull.source import PullSource, SourceRefused, ffmpeg_argv, parse_source
from node_agent.restart_policy import RestartPolicy, kill_group, terminate
from node_agent.supervisor import spawn_guarded
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# Lines of stderr kept for the classification of a run (the cause is near the end).
_KEEP_LINES = 40
# How often a run checks whether its publish has been accepted.
_POLL_S = 0.25
# After a run that published: how long the ERROR waits for nginx's on_publish_done (it comes
# within milliseconds from a live nginx; a dead one sends none, and the puller ends the publish
# itself so as not to wait for /stat to show it gone). Every moment here is a moment the camera
# is not pulled (chaos soak: its nginx killed, each camera lost ~2 s, 0.5 of it this wait).
_UNPUBLISH_WAIT_S = 0.2
# After a run that published, the restart waits (this long at most) for nginx's RTMP port to
# accept: when nginx itself died, the agent is starting it again, and an ffmpeg started before
# it listens fails and backs off.
_NGINX_BACK_S = 5.0
_NGINX_POLL_S = 0.05


def _probe_missed(reason: str) -> bool:
    """Whether a run that never published may have failed for want of a longer probe (a track
    or a codec's setup not found: FLV's header cannot be written), not for a reason of the
    source's (refused, unauthorized, not found, timed out, ended)."""
    return reason in (NO_VIDEO, UNSUPPORTED_CODEC) or reason.startswith(OTHER)


@dataclass(frozen=True)
class PullSpec:
    """What a Puller runs: restarted (a new Puller) whenever any of it changes."""

    camera_id: str
    stream_key: str
    source_url: str


@dataclass(frozen=True)
class PullSettings:
    """What pullers need from the agent."""

    ffmpeg: str
    rtmp_source: str  # loopback host:port of nginx's RTMP (node_agent.nginx.config)
    log_dir: Path
    # A source silent this long ends the run (and it is retried).
    io_timeout_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0


# Report a camera's failure: (camera id, reason).
Report = Callable[[str, str], Awaitable[None]]
# Whether the camera's publish is live in nginx (node_agent.streams.StreamTracker).
IsPublishing = Callable[[str], bool]
# End the camera's publish as nginx's on_publish_done would (its UNPUBLISH): its ffmpeg exited.
PublishOver = Callable[[str], Awaitable[None]]


async def _noop_publish_over(camera_id: str) -> None:
    return None


class Puller:
    """Keeps one camera's source published into nginx until stop()."""

    def __init__(
        self,
        spec: PullSpec,
        settings: PullSettings,
        report: Report,
        is_publishing: IsPublishing,
        publish_over: PublishOver = _noop_publish_over,
    ) -> None:
        self.spec = spec
        self._settings = settings
        self._report = report
        self._is_publishing = is_publishing
        self._publish_over = publish_over
        # As a recorder's: while the puller is down the camera is neither live nor recorded,
        # so a healthy puller that dies (its nginx killed, a source's blip) restarts at once;
        # a source that keeps failing backs off.
        self.policy = RestartPolicy(
            backoff=Backoff(base=settings.backoff_base_s, cap=settings.backoff_cap_s),
            healthy_after_s=10.0,
            quick_first_restart=True,
        )
        self.runs = 0
        # The reason last reported ("" after a run that published).
        self.reported = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Set when nginx died during the current run (nginx_died), until that run ends.
        self._nginx_gone = False

    @property
    def pid(self) -> int | None:
        """PID of the running ffmpeg, if any."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    @property
    def log_path(self) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.spec.camera_id)
        return self._settings.log_dir / f"pull-{safe[:100]}.log"

    def start(self) -> None:
        """Pull in the background."""
        self._task = asyncio.create_task(self._run(), name=f"pull-{self.spec.camera_id}")

    async def stop(self, grace_s: float = 5.0) -> None:
        """End ffmpeg (SIGTERM, SIGKILL after `grace_s`, then its group) and stop retrying."""
        self._stopping = True
        if self._proc is not None:
            await terminate(self._proc, grace_s)
        if self._task is not None:
            await cancel_and_wait([self._task])

    def nginx_died(self) -> None:
        """nginx exited (the agent starts it again at once): this run failed for that reason,
        whether its ffmpeg already found the connection broken or not (then it is ended now,
        not when it next writes: 0.3-0.5 s later in the chaos soak, all lost from the
        recording). No on_publish_done will come; it publishes again once nginx is back."""
        self._nginx_gone = True
        if self._proc is not None and self._proc.returncode is None:
            kill_group(self._proc.pid)

    async def _run(self) -> None:
        camera_id = self.spec.camera_id
        try:
            if not self.spec.stream_key:
                raise SourceRefused("the camera has no stream key to publish under")
            source = parse_source(self.spec.source_url)
        except SourceRefused as exc:
            reason = f"source refused: {exc}"
            log.warning("camera %s: %s", camera_id, reason)
            await self._report(camera_id, reason)
            return
        publish_url = f"rtmp://{self._settings.rtmp_source}/live/{self.spec.stream_key}"
        log.info("camera %s: pulling %s", camera_id, source.shown)
        short_probe = source.probed_briefly
        while not self._stopping:
            argv = ffmpeg_argv(
                self._settings.ffmpeg,
                source,
                publish_url,
                self._settings.io_timeout_s,
                short_probe=short_probe,
            )
            started = time.monotonic()
            returncode, reason, published = await self._once(argv, source)
            if self._stopping:
                return
            if short_probe and not published and _probe_missed(reason):
                # The short probe may have missed the stream's setup: at once again with the
                # full one, before reporting anything (a real failure fails that way too).
                short_probe = False
                log.info("camera %s: %s; again with ffmpeg's full probe", camera_id, reason)
                continue
            short_probe = source.probed_briefly
            self.policy.exited(returncode, time.monotonic() - started)
            await self._failed(reason, published)
            delay = self.policy.next_delay()
            log.warning(
                "camera %s: pulling %s failed (%s); retrying in %.1fs",
                camera_id,
                source.shown,
                reason,
                delay,
            )
            await asyncio.sleep(delay)
            if published:
                await self._nginx_back()

    async def _once(self, argv: list[str], source: PullSource) -> tuple[int, str, bool]:
        """One run of ffmpeg: (returncode, reason, whether it published)."""
        self.runs += 1
        # An nginx death between runs is not this run's failure.
        self._nginx_gone = False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as out:
            try:
                self._proc = await spawn_guarded(
                    argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                    # Its own process group (id = its PID), so leftovers can be killed.
                    start_new_session=True,
                )
            except OSError as exc:
                return -1, f"{OTHER}: cannot start ffmpeg: {exc}", False
            proc = self._proc
            lines: collections.deque[str] = collections.deque(maxlen=_KEEP_LINES)
            reader = asyncio.create_task(self._read(proc, source, self.spec.stream_key, lines, out))
            published = False
            started = time.monotonic()
            try:
                while proc.returncode is None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_POLL_S):
                            await proc.wait()
                    published = published or self._is_publishing(self.spec.camera_id)
                await reader
            finally:
                reader.cancel()
                kill_group(proc.pid)
            returncode = proc.returncode
            outlasted = time.monotonic() - started >= self._settings.io_timeout_s
            reason = classify(lines, returncode, outlasted_timeout=outlasted and not published)
            return returncode, reason, published

    @staticmethod
    async def _read(
        proc: asyncio.subprocess.Process,
        source: PullSource,
        stream_key: str,
        lines: collections.deque[str],
        out: IO[str],
    ) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = source.redact(raw.decode("utf-8", errors="replace").rstrip())
            # ffmpeg names its output too (nginx's RTMP URL), stream key and all: a failure to
            # publish (nginx died) must not put the key in a reason every viewer can read.
            line = line.replace(stream_key, "<stream key>")
            lines.append(line)
            out.write(line + "\n")
            out.flush()

    async def _failed(self, reason: str, published: bool) -> None:
        """Report a failed run, unless it failed like the one reported before it. When nginx
        died (perhaps heard of while waiting here: ffmpeg can find its connection broken
        first), that is the reason, and no on_publish_done will come."""
        camera_id = self.spec.camera_id
        if published:
            self.reported = ""
            deadline = time.monotonic() + _UNPUBLISH_WAIT_S
            # Polled: the StreamTracker is plain state with nothing to wait on.
            while (  # noqa: ASYNC110
                self._is_publishing(camera_id)
                and not self._nginx_gone
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.05)
        if self._nginx_gone:
            reason = NGINX_RESTARTED
        if published and self._is_publishing(camera_id):
            # No word from nginx: it died with the publish (it is being started again). The
            # publish is over all the same, and its UNPUBLISH goes before the ERROR.
            await self._publish_over(camera_id)
        if reason != self.reported:
            self.reported = reason
            await self._report(camera_id, reason)

    async def _nginx_back(self) -> None:
        """Wait until nginx's RTMP port accepts, at most _NGINX_BACK_S (then ffmpeg says why)."""
        host, _, port = self._settings.rtmp_source.rpartition(":")
        deadline = time.monotonic() + _NGINX_BACK_S
        while not self._stopping and time.monotonic() < deadline:
            try:
                async with asyncio.timeout(1.0):
                    _, writer = await asyncio.open_connection(host.strip("[]"), int(port))
            except (OSError, TimeoutError, ValueError):
                await asyncio.sleep(_NGINX_POLL_S)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
