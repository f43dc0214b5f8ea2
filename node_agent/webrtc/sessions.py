"""WHEP sessions of this node: each an aiortc peer connection sending one camera's video.

One CameraFeed per camera, started by its first viewer and stopped (its ffmpeg ended by PID)
when its last viewer leaves; MediaRelay fans the feed's packets out to every viewer. The
number of sessions is bounded: beyond the limit a new one is refused with a reason. A session
ends on DELETE, when its peer connection fails or closes, when it never connects, or when the
camera's publish ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from node_agent.tasks import cancel_and_wait
from node_agent.webrtc.feed import CameraFeed, FeedSettings
from node_agent.webrtc.offer import OfferRefused

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """No session can be opened now (the limit is reached, the node is stopping, the media
    path could not start); the message says why, as a sentence."""


@dataclass
class Session:
    """One viewer's peer connection to one camera."""

    id: str
    camera_id: str
    pc: RTCPeerConnection
    watchdog: asyncio.Task[None] | None = None


@dataclass
class _Viewers:
    feed: CameraFeed
    sessions: set[str] = field(default_factory=set)
    ended: asyncio.Task[None] | None = None


def _h264_only(pc: RTCPeerConnection) -> None:
    """Answer with H.264 only: the node forwards the camera's H.264, it cannot encode VP8."""
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "H264"]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(codecs)


class WhepSessions:
    """The node's WHEP sessions, at most `max_sessions` at once."""

    def __init__(
        self, settings: FeedSettings, max_sessions: int, connect_within_s: float = 30.0
    ) -> None:
        self._settings = settings
        self.max_sessions = max_sessions
        self._connect_within_s = connect_within_s
        self._sessions: dict[str, Session] = {}
        self._cameras: dict[str, _Viewers] = {}
        self._relay = MediaRelay()
        # Offers being answered count against the limit too.
        self._pending = 0
        self._closing = False

    def __len__(self) -> int:
        return len(self._sessions)

    def feed_pid(self, camera_id: str) -> int | None:
        """PID of the camera's feed ffmpeg, if it runs."""
        viewers = self._cameras.get(camera_id)
        return viewers.feed.pid if viewers is not None else None

    async def open(self, camera_id: str, offer_sdp: str) -> tuple[str, str]:
        """A new session for `camera_id` answering `offer_sdp`: (session id, answer SDP).
        Unavailable beyond the limit; OfferRefused for an offer aiortc cannot take."""
        if self._closing:
            raise Unavailable("The node is shutting down.")
        if len(self._sessions) + self._pending >= self.max_sessions:
            raise Unavailable(
                f"This node already serves {self.max_sessions} WebRTC viewers, its limit; "
                "try again later or watch over HLS."
            )
        self._pending += 1
        held = [True]

        def release() -> None:
            """The reservation ends: the session counts itself now, or there is none."""
            if held:
                held.clear()
                self._pending -= 1

        try:
            return await self._open(camera_id, offer_sdp, release)
        finally:
            release()

    async def _open(
        self, camera_id: str, offer_sdp: str, release: Callable[[], None]
    ) -> tuple[str, str]:
        pc = RTCPeerConnection()
        session = Session(secrets.token_urlsafe(24), camera_id, pc)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except Exception as exc:  # aiortc raises ValueError and others for SDP it cannot use
            await pc.close()
            raise OfferRefused(f"The offer could not be used: {exc}.") from None
        try:
            viewers = await self._viewers(camera_id)
        except BaseException:
            await pc.close()
            raise
        viewers.sessions.add(session.id)
        self._sessions[session.id] = session
        # Counted as a session from here on, no longer as an offer being answered (counted
        # twice while its answer was made, it refused an offer that the limit allowed).
        release()
        try:
            pc.addTrack(self._relay.subscribe(viewers.feed.track))
            if any(t.kind == "audio" for t in pc.getTransceivers()):
                pc.addTrack(self._relay.subscribe(viewers.feed.audio))
            _h264_only(pc)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await self.close(session.id)
            raise OfferRefused(f"The offer could not be answered: {exc}.") from None

        @pc.on("connectionstatechange")
        async def _changed() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

        session.watchdog = asyncio.create_task(self._watch(session), name="whep-connect")
        log.info("WebRTC session for camera %s opened (%d on this node)", camera_id, len(self))
        return session.id, pc.localDescription.sdp

    async def _viewers(self, camera_id: str) -> _Viewers:
        viewers = self._cameras.get(camera_id)
        if viewers is None:
            feed = CameraFeed(camera_id, self._settings)
            viewers = _Viewers(feed)
            self._cameras[camera_id] = viewers
            try:
                await feed.start()
            except OSError as exc:
                del self._cameras[camera_id]
                raise Unavailable(
                    f"The node could not start the camera's media path: {exc.strerror}."
                ) from None
            viewers.ended = asyncio.create_task(self._feed_ended(camera_id, feed))
        return viewers

    async def _feed_ended(self, camera_id: str, feed: CameraFeed) -> None:
        """The camera's publish ended (or its ffmpeg did): its viewers' sessions end."""
        await feed.ended.wait()
        viewers = self._cameras.get(camera_id)
        if viewers is not None and viewers.feed is feed:
            for session_id in list(viewers.sessions):
                await self.close(session_id)

    async def _watch(self, session: Session) -> None:
        """A session that has not connected in time ends (a viewer that went away)."""
        await asyncio.sleep(self._connect_within_s)
        if session.pc.connectionState != "connected":
            log.info("WebRTC session for camera %s never connected", session.camera_id)
            await self.close(session.id)

    async def close(self, session_id: str) -> bool:
        """End a session (and its camera's feed after the last one); False when unknown."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        if session.watchdog is not None and session.watchdog is not asyncio.current_task():
            session.watchdog.cancel()
        await session.pc.close()
        viewers = self._cameras.get(session.camera_id)
        if viewers is not None:
            viewers.sessions.discard(session_id)
            if not viewers.sessions:
                del self._cameras[session.camera_id]
                if viewers.ended is not None and viewers.ended is not asyncio.current_task():
                    viewers.ended.cancel()
                await viewers.feed.stop()
        log.info("WebRTC session for camera %s closed (%d left)", session.camera_id, len(self))
        return True

    async def close_all(self) -> None:
        """End every session and feed (the agent stops)."""
        self._closing = True
        for session_id in list(self._sessions):
            await self.close(session_id)
        tasks = [v.ended for v in self._cameras.values() if v.ended is not None]
        await cancel_and_wait(tasks, quiet=True)
        with contextlib.suppress(Exception):
            for viewers in list(self._cameras.values()):
                await viewers.feed.stop()
        self._cameras.clear()
