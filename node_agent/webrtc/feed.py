"""One camera's media path for WebRTC viewers: an ffmpeg that plays the camera from the local
nginx-rtmp (by camera id with a one-time token, as recorders do, so no stream key is in its
arguments) and remuxes it, without re-encoding, to MPEG-TS with Annex B H.264 on a pipe; a
thread demuxes the pipe with PyAV into a track whose packets aiortc sends as they are.

Why the remux: aiortc's H.264 passthrough needs Annex B start codes, and PyAV reading the FLV
that RTMP carries hands out length-prefixed NAL units, which aiortc silently sends as nothing.

The track is live: packets are kept only from the first keyframe after someone asked for one,
and a reader that falls more than a GOP behind skips to the next keyframe, so a viewer never
watches a backlog (the first viewer waits at most one GOP for a picture)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from node_agent.restart_policy import terminate
from node_agent.supervisor import spawn_guarded

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    VideoPacket = av.Packet[av.stream.Stream]

# Packets a reader may be behind before it skips to the next keyframe (~4 s at 30 fps).
_MAX_QUEUED = 120
# How long PyAV may probe the pipe for the video's parameters (an SPS comes with a keyframe).
_PROBE = {"probesize": "1000000", "analyzeduration": "2000000", "fflags": "nobuffer"}


@dataclass(frozen=True)
class FeedSettings:
    """What a feed needs from the agent."""

    ffmpeg: str
    # Loopback host:port of nginx's RTMP (node_agent.nginx.config.loopback_rtmp).
    rtmp_source: str
    # A one-time play token for a camera id (node_agent.live_access.PlayTokens.issue).
    play_token: Callable[[str], str]
    log_dir: Path


def feed_argv(ffmpeg: str, source_url: str) -> list[str]:
    """ffmpeg copying the source's first video stream as MPEG-TS with Annex B H.264 to stdout."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-fflags", "nobuffer", "-rw_timeout", "10000000",
        "-i", source_url,
        "-map", "0:v:0", "-c:v", "copy", "-bsf:v", "h264_mp4toannexb",
        # Audio, when the camera sends any, as Opus (what WebRTC browsers take; AAC is not).
        "-map", "0:a:0?", "-c:a", "libopus", "-ar", "48000", "-ac", "2", "-b:a", "64k",
        "-application", "lowdelay", "-max_interleave_delta", "500000",
        "-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1",
        "pipe:1",
    ]  # fmt: skip


class LiveVideoTrack(MediaStreamTrack):
    """H.264 packets of one camera as they arrive (aiortc sends av.Packet without encoding)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[VideoPacket | None] = asyncio.Queue()
        self._wanted = False
        self._need_keyframe = True
        self.packets = 0

    def _starts(self, packet: VideoPacket) -> bool:
        """Whether a reader may start at `packet` (a keyframe)."""
        return bool(packet.is_keyframe)

    def deliver(self, packet: VideoPacket | None) -> None:
        """Called on the event loop for each packet demuxed (None: the source ended)."""
        if packet is None:
            self._queue.put_nowait(None)
            return
        if not self._wanted:
            return
        if self._queue.qsize() >= _MAX_QUEUED:
            # The reader stalled: what is queued is stale; start again at a keyframe.
            self._drain()
            self._need_keyframe = True
        if self._need_keyframe:
            if not self._starts(packet):
                return
            self._need_keyframe = False
        self.packets += 1
        self._queue.put_nowait(packet)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def recv(self) -> VideoPacket:
        """The next packet; MediaStreamError once the source has ended."""
        if self.readyState != "live":
            raise MediaStreamError
        self._wanted = True
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet


class LiveAudioTrack(LiveVideoTrack):
    """Opus packets of one camera as they arrive; any packet is a place to start."""

    kind = "audio"

    def _starts(self, packet: VideoPacket) -> bool:
        return True


class CameraFeed:
    """The ffmpeg and demux thread of one camera, feeding `track` until stop()."""

    def __init__(self, camera_id: str, settings: FeedSettings) -> None:
        self.camera_id = camera_id
        self._settings = settings
        self.track = LiveVideoTrack()
        # Silent (never a packet) when the camera sends no audio.
        self.audio = LiveAudioTrack()
        self._proc: asyncio.subprocess.Process | None = None
        self._thread: threading.Thread | None = None
        self._reader: IO[bytes] | None = None
        self.ended = asyncio.Event()

    @property
    def pid(self) -> int | None:
        """PID of the running ffmpeg, if any."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    async def start(self) -> None:
        """Spawn ffmpeg (with the parent-death signal, leading its own process group) and the
        thread that demuxes its output."""
        s = self._settings
        url = f"rtmp://{s.rtmp_source}/live/{self.camera_id}?rec={s.play_token(self.camera_id)}"
        read_fd, write_fd = os.pipe()
        s.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = s.log_dir / f"webrtc-{self.camera_id}.log"
        try:
            with log_path.open("ab") as errors:
                self._proc = await spawn_guarded(
                    feed_argv(s.ffmpeg, url),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=write_fd,
                    stderr=errors,
                    start_new_session=True,
                )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._reader = os.fdopen(read_fd, "rb", buffering=0)
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._demux, args=(loop, self._reader), name=f"webrtc-{self.camera_id[:8]}"
        )
        self._thread.start()
        log.info("WebRTC feed of camera %s started (ffmpeg %s)", self.camera_id, self._proc.pid)

    def _demux(self, loop: asyncio.AbstractEventLoop, reader: IO[bytes]) -> None:
        """Runs in the thread: packets from the pipe onto the loop, then None at the end."""
        try:
            with av.open(reader, format="mpegts", mode="r", options=_PROBE) as container:
                video = container.streams.video[0]
                audio = [s for s in container.streams.audio if s.codec_context.name == "opus"]
                for packet in container.demux(video, *audio[:1]):
                    if packet.size and packet.pts is not None:
                        track = self.track if packet.stream is video else self.audio
                        loop.call_soon_threadsafe(track.deliver, packet)
        except Exception as exc:  # any end of the source ends the feed
            log.info("WebRTC feed of camera %s ended: %s", self.camera_id, exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(self._source_ended)

    def _source_ended(self) -> None:
        self.track.deliver(None)
        self.audio.deliver(None)
        self.ended.set()

    async def stop(self) -> None:
        """End ffmpeg by its PID (and its group), then the thread, then the pipe."""
        if self._proc is not None:
            await terminate(self._proc, grace_s=3.0)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.track.stop()
        self.audio.stop()
        log.info("WebRTC feed of camera %s stopped", self.camera_id)
