"""One camera's ladder ffmpeg: probe the live stream, plan the rungs, run ffmpeg, and write the
master playlist (with CODECS) once every rung has a segment.

Invariants (tests/e2e/test_ladder.py):
- The source is probed on the newest fragment nginx-rtmp wrote for the stream (a file on this
  host: no extra play of the stream); the ladder plays the stream like a recorder does, by
  camera id with a one-time token, so no stream key is in ffmpeg's arguments.
- master.m3u8 appears only when every rung has a segment, and disappears when ffmpeg ends: a
  player never gets a master naming a rung that has nothing to play.
- ffmpeg leads its own process group, gets a parent-death signal, and stop() ends it by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node_agent.ladder.master import (
    RungInfo,
    bandwidth,
    media_segments,
    render_master,
    source_from_ffprobe,
)
from node_agent.ladder.plan import (
    FFMPEG_MASTER,
    MASTER,
    LadderPlan,
    SourceInfo,
    ffmpeg_argv,
    plan_ladder,
)
from node_agent.restart_policy import terminate
from node_agent.supervisor import spawn_guarded

log = logging.getLogger(__name__)

_POLL_S = 0.2


@dataclass(frozen=True)
class LadderSettings:
    """What ladders need from the agent."""

    ffmpeg: str
    ffprobe: str
    # Loopback host:port of nginx's RTMP (node_agent.nginx.config.loopback_rtmp).
    rtmp_source: str
    # nginx-rtmp's HLS directory (one directory per stream key): probed for the source.
    hls_root: Path
    # Where ladders write: <root>/<camera id>/ (served by nginx under /abr/).
    root: Path
    log_dir: Path
    # A one-time token for a local play of a camera (node_agent.live_access.PlayTokens).
    play_token: Callable[[str], str]
    fragment_s: Callable[[], float] = lambda: 1.0
    # How long the first segments of every rung may take.
    ready_timeout_s: float = 30.0


async def ffprobe_json(ffprobe: str, path: Path, timeout_s: float = 20.0) -> bytes | None:
    """`ffprobe -show_streams -of json` of `path`; None when it fails or takes too long."""
    proc = await asyncio.create_subprocess_exec(
        ffprobe, "-v", "error", "-show_streams", "-of", "json", str(path),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None
    return out if proc.returncode == 0 else None


def _newest_fragment(directory: Path) -> Path | None:
    try:
        fragments = [p for p in directory.iterdir() if p.suffix == ".ts"]
    except OSError:
        return None
    # The newest may still be written: take the one before it when there are two.
    fragments.sort(key=lambda p: p.stat().st_mtime if p.exists() else 0.0)
    return fragments[-2] if len(fragments) > 1 else None


class LadderProcess:
    """The ladder of one camera's live stream, until stop() or until ffmpeg ends."""

    def __init__(
        self, camera_id: str, stream_key: str, ladder: tuple[str, ...], settings: LadderSettings
    ) -> None:
        self.camera_id = camera_id
        self.stream_key = stream_key
        self.ladder = ladder
        self._settings = settings
        self.out_dir = settings.root / camera_id
        self.plan: LadderPlan | None = None
        self.source: SourceInfo | None = None
        # Why the ladder is not playing ("" while it is, or before it tried).
        self.failure = ""
        self.ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.last_demand = time.monotonic()
        self.ended_at = 0.0
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """PID of the running ffmpeg, if any."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    def start(self) -> None:
        """Probe, plan and run in the background."""
        self._task = asyncio.create_task(self._run(), name=f"ladder-{self.camera_id}")

    async def _run(self) -> None:
        try:
            await self._run_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("camera %s: the ladder failed", self.camera_id)
            self.failure = f"the ladder failed: {exc}"
        finally:
            self.ready.clear()
            (self.out_dir / MASTER).unlink(missing_ok=True)
            self.ended_at = time.monotonic()
            self.ended.set()

    async def _probe_source(self) -> SourceInfo | None:
        deadline = time.monotonic() + self._settings.ready_timeout_s
        while time.monotonic() < deadline:
            fragment = _newest_fragment(self._settings.hls_root / self.stream_key)
            if fragment is not None:
                document = await ffprobe_json(self._settings.ffprobe, fragment)
                source = source_from_ffprobe(document) if document else None
                if source is not None:
                    return source
            await asyncio.sleep(_POLL_S)
        return None

    async def _run_once(self) -> None:
        s = self._settings
        source = await self._probe_source()
        if source is None:
            self.failure = "the live stream could not be probed (no video fragment yet)"
            log.warning("camera %s: %s", self.camera_id, self.failure)
            return
        self.source = source
        self.plan = plan = plan_ladder(self.ladder, source)
        for skipped in plan.skipped:
            log.info(
                "camera %s: ladder rung %s skipped: %s",
                self.camera_id,
                skipped.rung,
                skipped.reason,
            )
        if not plan.rungs:
            self.failure = "no rung of the ladder fits the source: " + "; ".join(
                f"{k.rung}: {k.reason}" for k in plan.skipped
            )
            log.warning("camera %s: %s", self.camera_id, self.failure)
            return
        await asyncio.to_thread(self._fresh_dir)
        url = f"rtmp://{s.rtmp_source}/live/{self.camera_id}?rec={s.play_token(self.camera_id)}"
        argv = ffmpeg_argv(s.ffmpeg, url, plan, self.out_dir, source, fragment_s=s.fragment_s())
        s.log_dir.mkdir(parents=True, exist_ok=True)
        with (s.log_dir / f"ladder-{self.camera_id}.log").open("ab") as err:
            self._proc = await spawn_guarded(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True,
            )  # fmt: skip
        log.info(
            "camera %s: ladder %s started (pid %d)",
            self.camera_id,
            ", ".join(r.name for r in plan.rungs),
            self._proc.pid,
        )
        waiter = asyncio.create_task(self._proc.wait())
        try:
            async with asyncio.timeout(s.ready_timeout_s):
                infos = await self._first_segments(plan, waiter)
        except TimeoutError:
            infos = None
            self.failure = (
                f"the ladder wrote no segment of every rung within {s.ready_timeout_s:g} s"
            )
        if infos is not None:
            self._write_master(render_master(infos, plan.skipped))
            self.ready.set()
        code = await waiter
        if not self.failure:
            self.failure = f"ffmpeg ended (exit status {code})"
        log.info("camera %s: ladder ended: %s", self.camera_id, self.failure)

    def _fresh_dir(self) -> None:
        shutil.rmtree(self.out_dir, ignore_errors=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # nginx's workers (another account when the agent is root) read the files.
        os.chmod(self.out_dir, 0o755)  # noqa: S103 - media only, under the 0710 data dir

    async def _first_segments(
        self, plan: LadderPlan, waiter: asyncio.Task[int]
    ) -> list[RungInfo] | None:
        """Each rung's measured info once ffmpeg has written its master and a segment of every
        rung; None when ffmpeg ended first."""
        while not waiter.done():
            infos = await self._rung_infos(plan)
            if infos is not None:
                return infos
            await asyncio.sleep(_POLL_S)
        self.failure = (
            f"ffmpeg ended before every rung had a segment (exit status {waiter.result()})"
        )
        return None

    async def _rung_infos(self, plan: LadderPlan) -> list[RungInfo] | None:
        if not (self.out_dir / FFMPEG_MASTER).exists():
            return None
        infos: list[RungInfo] = []
        for i, rung in enumerate(plan.rungs):
            uri = f"v{i}.m3u8"
            try:
                segments = media_segments((self.out_dir / uri).read_text())
            except OSError:
                return None
            if not segments:
                return None
            sizes = []
            for name, _ in segments:
                try:
                    sizes.append((self.out_dir / name).stat().st_size)
                except OSError:
                    return None
            document = await ffprobe_json(self._settings.ffprobe, self.out_dir / segments[0][0])
            probed = source_from_ffprobe(document) if document else None
            if probed is None:
                return None
            rate = bandwidth(sizes, [d for _, d in segments])
            infos.append(RungInfo(rung, uri, probed, rate))
        return infos

    def _write_master(self, text: str) -> None:
        tmp = self.out_dir / f".{MASTER}.tmp"
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.out_dir / MASTER)

    async def stop(self) -> None:
        """End ffmpeg (by its PID, then its group) and remove the ladder's files."""
        if self._proc is not None:
            await terminate(self._proc, grace_s=3.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(shutil.rmtree, self.out_dir, True)
