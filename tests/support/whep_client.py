"""A WHEP viewer for tests: an aiortc peer connection that offers to receive H.264 (or what a
test asks for), POSTs its offer to a node's WHEP URL and counts the video frames it decodes.
Its ICE candidates are on loopback only, like the node's in tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from node_agent.webrtc.ice import offer_addresses

offer_addresses(["127.0.0.1"])


@dataclass
class Viewer:
    """One WHEP session seen from the browser's side."""

    endpoint: str
    codecs: tuple[str, ...] = ("H264",)
    # Also offer to receive audio (Opus).
    audio: bool = False
    pc: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    location: str = ""
    answer: str = ""
    frames: int = 0
    audio_frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def offer(self) -> str:
        """The offer SDP (receive-only video, the given codecs preferred in order)."""
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        caps = RTCRtpReceiver.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for name in self.codecs for c in caps if c.name == name])

        if self.audio:
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._readers.append(asyncio.create_task(self._read(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if track.kind == "audio":
                    self.audio_frames += 1
                    continue
                self.frames += 1
                self.sizes.add((frame.width, frame.height))  # type: ignore[union-attr]

    async def connect(self) -> None:
        """Offer, POST, apply the answer; AssertionError unless the node answered 201."""
        sdp = await self.offer()
        status, headers, body = await post_offer(self.endpoint, sdp)
        assert status == 201, (status, body)
        await self.accept(headers["Location"], body)

    async def accept(self, location: str, answer: str) -> None:
        """Take the node's answer to this viewer's offer."""
        self.location = location
        self.answer = answer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def until_frames(self, count: int, within_s: float = 60.0) -> None:
        """Until `count` frames have been decoded."""
        await until(lambda: self.frames >= count, within_s, f"{count} frames")

    def session_url(self) -> str:
        """The absolute URL of the session (Location is relative to the endpoint)."""
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}{self.location}"

    async def close(self) -> None:
        """Close the peer connection (not the session: a test DELETEs it itself)."""
        await self.pc.close()
        for reader in self._readers:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def post_offer(
    url: str, body: str | bytes, content_type: str = "application/sdp"
) -> tuple[int, dict[str, str], str]:
    """POST an offer: status, headers, body text."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers={"Content-Type": content_type}) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.text()


async def delete(url: str) -> tuple[int, str]:
    """DELETE a session: status and body text."""
    async with aiohttp.ClientSession() as http, http.delete(url) as resp:
        return resp.status, await resp.text()


async def until(holds: Callable[[], bool], within_s: float, what: str) -> None:
    """Poll `holds` until it is true; AssertionError naming `what` after `within_s`."""
    deadline = time.monotonic() + within_s
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {within_s} s")
        await asyncio.sleep(0.1)
