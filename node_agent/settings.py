"""The platform settings this node applies without a restart: what is in force (the last
assignment's settings over the agent's own flags), and the applier that carries a change to
the parts that use it.

- Recorded segment length: every recorder's next segments (node_agent.recording.manager: the
  collectors read it from a file each poll, so no process restarts and nothing is lost; an
  encoding ffmpeg, which cannot change -segment_time, is replaced make-before-break at a
  segment boundary, losing no frame either).
- Free-space floor and warm-tier age: the housekeeper's next pass.
- The cold tier (object storage): the cold mover's next pass (node_agent.recording.cold).
- HLS fragment and playlist length: nginx.conf rendered again and nginx reloaded (its master
  keeps running, viewers keep fetching); live streams take them when they publish again,
  which the reload makes them do (node_agent.nginx.runner.NginxRunner.reload).

A value the agent cannot use (outside its own flags' bounds) is logged and the flag's value
kept: a control plane validates what it stores, so this guards only against a broken one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from node_agent.config import AgentConfig
from node_agent.desired import ColdStorage, NodeSettings

log = logging.getLogger(__name__)

# What the agent accepts, as its flags do (node_agent.config).
SEGMENT_S = (1.0, 3600.0)
HLS_FRAGMENT_S = (0.1, 60.0)
HLS_PLAYLIST_S = (0.1, 3600.0)
WARM_AFTER_S = (1.0, 10 * 365 * 86400.0)
MIN_FREE_BYTES = 1


@dataclass(frozen=True)
class InForce:
    """The values the node runs with."""

    hls_fragment_s: float
    hls_playlist_length_s: float
    segment_s: float
    min_free_bytes: int
    warm_after_s: float
    # The cold tier (None: none); only ever set by the platform.
    cold: ColdStorage | None = None

    @property
    def hls(self) -> tuple[float, float]:
        """What nginx.conf takes."""
        return self.hls_fragment_s, self.hls_playlist_length_s

    @property
    def recording(self) -> tuple[float, int, float]:
        """What the recorders and the housekeeper take."""
        return self.segment_s, self.min_free_bytes, self.warm_after_s


def default_playlist_s(fragment_s: float) -> float:
    """The playlist length when none is set: six fragments, at least six seconds."""
    return max(6.0, fragment_s * 6)


def flag_values(config: AgentConfig) -> InForce:
    """What the agent's flags (and environment) say: the first-start defaults."""
    return InForce(
        hls_fragment_s=config.hls_fragment_s,
        hls_playlist_length_s=default_playlist_s(config.hls_fragment_s),
        segment_s=config.segment_s,
        min_free_bytes=config.min_free_bytes,
        warm_after_s=config.warm_after_s,
    )


def in_force(flags: InForce, settings: NodeSettings) -> InForce:
    """`flags` (the agent's configuration) with each setting the platform set that the agent
    can use; the playlist never shorter than one fragment."""

    def pick(name: str, value: float | None, flag: float, bounds: tuple[float, float]) -> float:
        if value is None:
            return flag
        if not bounds[0] <= value <= bounds[1]:
            log.warning(
                "ignoring the setting %s = %g (outside %g-%g); keeping %g",
                name, value, *bounds, flag,
            )  # fmt: skip
            return flag
        return value

    fragment = pick("hls_fragment", settings.hls_fragment_s, flags.hls_fragment_s, HLS_FRAGMENT_S)
    playlist_flag = (
        flags.hls_playlist_length_s
        if settings.hls_fragment_s is None
        else default_playlist_s(fragment)
    )
    playlist = pick(
        "hls_playlist_length", settings.hls_playlist_length_s, playlist_flag, HLS_PLAYLIST_S
    )
    floor = settings.free_space_floor_bytes
    if floor is not None and floor < MIN_FREE_BYTES:
        log.warning("ignoring the free-space floor %d; keeping %d", floor, flags.min_free_bytes)
        floor = None
    return InForce(
        hls_fragment_s=fragment,
        hls_playlist_length_s=max(playlist, fragment),
        segment_s=pick("segment_length", settings.segment_s, flags.segment_s, SEGMENT_S),
        min_free_bytes=flags.min_free_bytes if floor is None else floor,
        warm_after_s=pick("warm_after", settings.warm_after_s, flags.warm_after_s, WARM_AFTER_S),
        cold=settings.cold,
    )


class SettingsApplier:
    """Applies the latest settings in the background, one change at a time (a reload of nginx
    takes a moment; a newer assignment meanwhile wins, and nothing is applied twice)."""

    def __init__(
        self,
        flags: InForce,
        current: InForce,
        *,
        recording: Callable[[InForce], Awaitable[None]],
        hls: Callable[[float, float], Awaitable[None]],
        cold: Callable[[ColdStorage | None], Awaitable[None]] | None = None,
    ) -> None:
        self.flags = flags
        # What the node runs with now.
        self.current = current
        self._recording = recording
        self._hls = hls
        self._cold = cold
        self._wanted = current
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="settings")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def want(self, settings: NodeSettings) -> None:
        """An assignment with these settings is in force: apply what changed."""
        wanted = in_force(self.flags, settings)
        if wanted == self._wanted:
            return
        self._wanted = wanted
        self._idle.clear()
        self._wake.set()

    async def settled(self) -> None:
        """Until every wanted change is applied (tests)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wanted = self._wanted
            try:
                await self._apply(wanted)
            except Exception:
                # Kept as wanted: the next assignment's settings (or a retry) apply it again.
                log.exception("applying the node's settings failed")
                await asyncio.sleep(1.0)
                self._wake.set()
                continue
            if self._wanted == wanted:
                self._idle.set()

    async def _apply(self, wanted: InForce) -> None:
        before = self.current
        if wanted.recording != before.recording:
            await self._recording(wanted)
            self.current = replace(
                before,
                segment_s=wanted.segment_s,
                min_free_bytes=wanted.min_free_bytes,
                warm_after_s=wanted.warm_after_s,
            )
            log.info(
                "settings applied: segments of %gs, free-space floor %d bytes, warm after %gs",
                *wanted.recording,
            )
        if wanted.cold != before.cold and self._cold is not None:
            await self._cold(wanted.cold)
            self.current = replace(self.current, cold=wanted.cold)
            where = f"{wanted.cold.endpoint}/{wanted.cold.bucket}" if wanted.cold else "none"
            log.info("settings applied: cold tier %s", where)
        if wanted.hls != before.hls:
            await self._hls(*wanted.hls)
            log.info(
                "settings applied: HLS fragments of %gs, playlists of %gs (nginx reloaded)",
                *wanted.hls,
            )
        self.current = wanted
