"""The WHEP endpoint's pure parts: which offers are answered (and the sentence for those that
are not), which addresses ICE offers, the WebRTC settings, and the live track's rule that a
viewer starts at a keyframe and never watches a backlog."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError

from node_agent.config import load_config
from node_agent.errors import ConfigError
from node_agent.webrtc.feed import FeedSettings, LiveVideoTrack, feed_argv
from node_agent.webrtc.ice import addresses_for
from node_agent.webrtc.offer import MAX_OFFER_BYTES, OfferRefused, check_offer
from node_agent.webrtc.sessions import Unavailable, WhepSessions
from tests.support.agent_node import FFMPEG


async def _offer(*codecs: str, kinds: tuple[str, ...] = ("video",)) -> str:
    pc = RTCPeerConnection()
    try:
        for kind in kinds:
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            if kind == "video" and codecs:
                caps = RTCRtpReceiver.getCapabilities("video").codecs
                transceiver.setCodecPreferences([c for n in codecs for c in caps if c.name == n])
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


async def test_an_h264_offer_is_taken_whatever_comes_first() -> None:
    sdp = await _offer("VP8", "H264")
    assert check_offer(sdp.encode()) == sdp.replace("\r\n", "\n").replace("\n", "\r\n")
    # LF-only line ends (some clients) are accepted and normalised.
    assert "\r\n" in check_offer(sdp.replace("\r\n", "\n").encode())


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        (b"", "is not an SDP session description"),
        (b"hello", "is not an SDP session description"),
        (b"\xff\xfe", "is not SDP text"),
        (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", "has no video section"),
        (b"v=0\r\n" + b"a" * MAX_OFFER_BYTES, f"larger than {MAX_OFFER_BYTES} bytes"),
    ],
)
def test_what_is_no_offer_gets_a_sentence(body: bytes, sentence: str) -> None:
    with pytest.raises(OfferRefused, match=sentence) as refused:
        check_offer(body)
    assert str(refused.value).endswith(".")


async def test_offers_without_video_or_without_h264_are_refused_in_words() -> None:
    with pytest.raises(OfferRefused, match="no video section"):
        check_offer((await _offer(kinds=("audio",))).encode())
    with pytest.raises(OfferRefused, match=r"allows VP8 but not H\.264"):
        check_offer((await _offer("VP8")).encode())


def test_ice_offers_the_listeners_own_address_or_what_is_configured() -> None:
    assert addresses_for("127.0.0.1") == ["127.0.0.1"]
    assert addresses_for("::1") == ["::1"]
    assert addresses_for("0.0.0.0") == []  # every address of the host
    assert addresses_for("node-1.example") == []
    assert addresses_for("127.0.0.1", ("192.0.2.7",)) == ["192.0.2.7"]


def test_webrtc_settings_from_flags_and_environment() -> None:
    config = load_config(
        ["--webrtc-max-sessions", "3"], {"CAMFLEET_WEBRTC_ADDRESSES": "::1, 127.0.0.1"}
    )
    assert (config.webrtc_max_sessions, config.webrtc_addresses) == (3, ("::1", "127.0.0.1"))
    assert load_config([], {}).webrtc_max_sessions == 50
    with pytest.raises(ConfigError, match="--webrtc-address: 'node-1' is not an IP address"):
        load_config(["--webrtc-address", "node-1"], {})
    with pytest.raises(ConfigError, match="--webrtc-max-sessions"):
        load_config(["--webrtc-max-sessions", "0"], {})


def test_the_feed_copies_video_as_annex_b_and_names_no_key() -> None:
    argv = feed_argv("ffmpeg", "rtmp://127.0.0.1:1935/live/cam?rec=token")
    assert argv[argv.index("-c:v") + 1] == "copy"
    assert argv[argv.index("-bsf:v") + 1] == "h264_mp4toannexb"
    assert argv[argv.index("-f") + 1] == "mpegts" and argv[-1] == "pipe:1"


def _packet(pts: int, key: bool) -> av.Packet:
    packet = av.Packet(b"\x00\x00\x00\x01\x65" if key else b"\x00\x00\x00\x01\x41")
    packet.pts = pts
    packet.is_keyframe = key
    return packet


async def test_a_viewer_starts_at_a_keyframe_and_skips_a_backlog() -> None:
    track = LiveVideoTrack()
    # Nobody reads yet: nothing is kept.
    track.deliver(_packet(0, key=True))
    reader = asyncio.create_task(track.recv())
    await asyncio.sleep(0)
    # Reading: packets before the next keyframe are dropped.
    track.deliver(_packet(1, key=False))
    track.deliver(_packet(2, key=True))
    assert (await reader).pts == 2
    track.deliver(_packet(3, key=False))
    assert (await track.recv()).pts == 3
    # A reader far behind: what is queued is dropped up to the next keyframe.
    for pts in range(4, 4 + 200):
        track.deliver(_packet(pts, key=pts % 25 == 0))
    first = await track.recv()
    assert first.is_keyframe and first.pts > 4
    # The source ends: what was queued is read, then the track ends.
    track.deliver(None)
    with pytest.raises(MediaStreamError):
        for _ in range(300):
            await track.recv()
    assert track.readyState == "ended"


async def test_an_offer_being_answered_counts_once_against_the_limit(tmp_path: Path) -> None:
    """A session counts from its reservation until its answer is made, once: counted both as
    a session and as an offer being answered, it made the node refuse the limit's second
    viewer (CI: a flood of offers got one 201 where the limit is two)."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    # The feed's ffmpeg plays from an RTMP port nobody listens on: it fails after a while,
    # which ends both sessions; what counts here is whether the second one is let in.
    settings = FeedSettings(FFMPEG, f"127.0.0.1:{port}", lambda _: "token", tmp_path)
    sessions = WhepSessions(settings, max_sessions=2)
    camera_id = str(uuid.uuid4())
    offers = [await _offer("H264"), await _offer("H264")]
    try:
        first = asyncio.create_task(sessions.open(camera_id, offers[0]))
        # Until the first session is registered while its answer is still being made.
        while len(sessions) == 0:
            assert not first.done(), first
            await asyncio.sleep(0)
        assert not first.done(), "the first answer was made without a pause to look in"
        second = asyncio.create_task(sessions.open(camera_id, offers[1]))
        results = await asyncio.gather(first, second, return_exceptions=True)
        assert not [r for r in results if isinstance(r, Unavailable)], results
    finally:
        await sessions.close_all()
