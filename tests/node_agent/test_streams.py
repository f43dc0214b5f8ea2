"""The live stream tracker on /stat readings (MEDIA once per publish, a stream nginx lost ends),
and which HLS directory a signed URL opens."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from camfleet.playback import Grant, playback_signature
from camfleet.v1 import agent_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from node_agent.assignment import CurrentAssignment
from node_agent.convert import assignment_from_proto, report_to_proto
from node_agent.desired import Assignment
from node_agent.nginx.stat import StreamStat
from node_agent.playback_auth import PlaybackGate, PlaybackSecret
from node_agent.publish_auth import RateLimiter
from node_agent.reports import StreamEventKind
from node_agent.state import DataDir
from node_agent.streams import StreamTracker
from tests.support.agent_node import new_camera_id


def stat(name: str, bytes_in: int, **extra: object) -> StreamStat:
    fields: dict[str, object] = {
        "name": name,
        "uptime_ms": 1000,
        "bitrate_bps": 500_000,
        "clients": 0,
        "publishing": True,
        "bytes_in": bytes_in,
    }
    fields.update(extra)
    return StreamStat(**fields)  # type: ignore[arg-type]


def test_media_is_reported_once_per_publish() -> None:
    tracker = StreamTracker()
    tracker.publish_started("key", "cam", "127.0.0.1")
    # Only the sequence headers so far (what nginx shows before the first frame).
    assert tracker.observe([stat("key", 50, width=640, height=360, video_codec="H264")]) == []
    assert tracker.reports()[0].media_flowing is False
    [event] = tracker.observe([stat("key", 14_740, width=640, height=360, video_codec="H264")])
    assert event.kind is StreamEventKind.MEDIA
    assert event.camera_id == "cam"
    assert "640x360" in event.message
    assert tracker.observe([stat("key", 90_000)]) == []
    # As Hello and Heartbeat send it.
    [report] = [report_to_proto(r) for r in tracker.reports()]
    assert report.media_flowing is True
    assert (report.width, report.bitrate_bps) == (0, 500_000)
    # A new publish of the same camera reports media again.
    tracker.publish_ended("key")
    tracker.publish_started("key", "cam", "127.0.0.1")
    assert len(tracker.observe([stat("key", 20_000)])) == 1


def test_stream_missing_from_nginx_ends_after_a_grace() -> None:
    tracker = StreamTracker(vanished_after_s=5.0)
    tracker.publish_started("key", "cam", "127.0.0.1")
    start = time.monotonic()
    # Just accepted and not in /stat yet: still live.
    assert tracker.observe([], now=start + 0.5) == []
    assert tracker.observe([], now=start + 4.0) == []
    [event] = tracker.observe([], now=start + 6.0)
    assert event.kind is StreamEventKind.UNPUBLISH
    assert event.camera_id == "cam"
    assert "gone from nginx" in event.message
    assert tracker.by_key("key") is None
    assert tracker.observe([], now=start + 7.0) == []


def test_stream_the_agent_was_ending_says_why_when_it_vanishes() -> None:
    tracker = StreamTracker(vanished_after_s=1.0)
    tracker.publish_started("key", "cam", "127.0.0.1")
    publish = tracker.by_key("key")
    assert publish is not None
    # Being dropped for a revoked key when nginx restarted: no on_publish_done will come.
    publish.end_reason = "stream key no longer valid"
    start = time.monotonic()
    assert tracker.observe([], now=start + 0.5) == []
    [event] = tracker.observe([], now=start + 2.0)
    assert event.kind is StreamEventKind.UNPUBLISH
    assert event.message == "stream key no longer valid"


def test_stream_present_in_nginx_stays_live() -> None:
    tracker = StreamTracker(vanished_after_s=1.0)
    tracker.publish_started("key", "cam", "127.0.0.1")
    start = time.monotonic()
    for step in range(5):
        assert tracker.observe([stat("key", 100)], now=start + 2 * step) == []
    assert tracker.by_camera("cam") is not None


def test_a_publish_awaits_media_from_its_accept_until_media_or_the_window_ends() -> None:
    """What keeps /stat read fast (node_agent.stat_poller)."""
    tracker = StreamTracker(fast_watch_s=10.0)
    assert not tracker.awaiting_media()
    assert not tracker.accepted.is_set()
    tracker.publish_started("key", "cam", "127.0.0.1")
    tracker.publish_started("quiet", "cam-2", "127.0.0.1")
    # The accept wakes the poller.
    assert tracker.accepted.is_set()
    start = time.monotonic()
    assert tracker.awaiting_media(now=start + 1.0)
    # Media on one: the other still waits.
    tracker.observe([stat("key", 20_000), stat("quiet", 50)], now=start + 1.0)
    assert tracker.awaiting_media(now=start + 1.0)
    # A publish that sent nothing for the whole window no longer does.
    assert not tracker.awaiting_media(now=start + 11.0)
    tracker.publish_ended("quiet")
    assert not tracker.awaiting_media(now=start + 1.0)


def test_rate_limiter_counts_per_address_and_window() -> None:
    limiter = RateLimiter(limit=2, window_s=60)
    assert [limiter.hit("127.0.0.1", now=0) for _ in range(4)] == [1, 2, 3, 4]
    assert limiter.hit("::1", now=1) == 1
    assert limiter.hit("127.0.0.1", now=61) == 1


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(limit=1, window_s=60, max_addresses=100)
    for i in range(1000):
        limiter.hit(f"10.0.{i // 256}.{i % 256}", now=float(i))
    assert len(limiter._windows) <= 100


SECRET = b"s" * 32
# URLs here are signed for this user, issued a minute ago.
USER = Grant(("u-1",), int(time.time()) - 60)
G = USER.encode()


@pytest.fixture
def gate(tmp_path: Path) -> tuple[PlaybackGate, PlaybackSecret, StreamTracker, CurrentAssignment]:
    data_dir = DataDir(tmp_path)
    secret = PlaybackSecret(data_dir)
    tracker = StreamTracker()
    current = CurrentAssignment(data_dir)
    return PlaybackGate(secret, tracker, current), secret, tracker, current


async def test_hls_stream_dir_checks_signature_expiry_and_camera(
    gate: tuple[PlaybackGate, PlaybackSecret, StreamTracker, CurrentAssignment],
) -> None:
    playback, secret, tracker, current = gate
    assigned, live_elsewhere, stranger = new_camera_id(), new_camera_id(), new_camera_id()
    expires = int(time.time()) + 300

    def sign(camera: str, at: int = expires) -> str:
        return playback_signature(SECRET, camera, at, USER)

    # No secret yet (never welcomed, nothing on disk): nothing plays.
    assert playback.hls_stream_dir(assigned, G, expires, sign(assigned)) is None
    secret.update(SECRET)
    await current.apply(
        assignment_from_proto(
            agent_pb2.Assignment(
                version=1,
                cameras=[
                    agent_pb2.AssignedCamera(
                        camera_id=assigned, ingest=agent_pb2.ASSIGNED_INGEST_PUSH, stream_key="akey"
                    )
                ],
            )
        )
    )
    tracker.publish_started("checked-key", live_elsewhere, "127.0.0.1")

    assert playback.hls_stream_dir(assigned, G, expires, sign(assigned)) == "akey"
    # Live here through a key the control plane vouched for (not in the assignment yet).
    assert (
        playback.hls_stream_dir(live_elsewhere, G, expires, sign(live_elsewhere)) == "checked-key"
    )
    # Validly signed, but not a camera of this node.
    assert playback.hls_stream_dir(stranger, G, expires, sign(stranger)) is None
    # A signature for one camera does not open another.
    assert playback.hls_stream_dir(assigned, G, expires, sign(live_elsewhere)) is None
    # Expiry changed: signature breaks.
    assert playback.hls_stream_dir(assigned, G, expires + 1, sign(assigned)) is None
    # Expired.
    past = int(time.time()) - 1
    assert playback.hls_stream_dir(assigned, G, past, sign(assigned, past)) is None
    # Signed with another secret.
    other = playback_signature(b"o" * 32, assigned, expires, USER)
    assert playback.hls_stream_dir(assigned, G, expires, other) is None


def _assignment(
    version: int, camera: str, revoked: dict[str, float], max_ttl_s: int = 3600
) -> Assignment:
    """As the control plane sends it, converted at the agent's edge."""
    sent = agent_pb2.Assignment(
        version=version,
        cameras=[
            agent_pb2.AssignedCamera(
                camera_id=camera, ingest=agent_pb2.ASSIGNED_INGEST_PUSH, stream_key="akey"
            )
        ],
        revoked_grants=[
            agent_pb2.RevokedGrant(principal=p, not_before=timestamp_pb2.Timestamp(seconds=int(at)))
            for p, at in revoked.items()
        ],
        playback=agent_pb2.PlaybackPolicy(max_url_ttl=duration_pb2.Duration(seconds=max_ttl_s)),
    )
    return assignment_from_proto(sent)


async def test_a_revoked_grant_refuses_urls_issued_before_it(
    gate: tuple[PlaybackGate, PlaybackSecret, StreamTracker, CurrentAssignment],
) -> None:
    playback, secret, _, current = gate
    camera = new_camera_id()
    secret.update(SECRET)
    now = int(time.time())
    expires = now + 300
    user, token = Grant(("u-2",), now - 60), Grant(("u-3", "t-9"), now - 60)

    def allowed(grant: Grant) -> bool:
        sig = playback_signature(SECRET, camera, expires, grant)
        return playback.hls_stream_dir(camera, grant.encode(), expires, sig) == "akey"

    await current.apply(_assignment(1, camera, {}))
    assert allowed(user) and allowed(token)
    # u-2 disabled 10 s ago, API token t-9 revoked: their URLs issued before are refused...
    await current.apply(_assignment(2, camera, {"u-2": now - 10, "t-9": now - 10}))
    assert not allowed(user) and not allowed(token)
    # ... a URL issued after the revocation (the user enabled again) works, and others' too.
    assert allowed(Grant(("u-2",), now - 5))
    assert allowed(USER)
    # Revoking the token's user also ends the token's URLs.
    await current.apply(_assignment(3, camera, {"u-3": now - 10}))
    assert not allowed(token)
    # Desired state: once the control plane no longer lists it, the revocation is gone.
    await current.apply(_assignment(4, camera, {}))
    assert allowed(user) and allowed(token)


async def test_expiries_beyond_the_longest_url_life_are_refused(
    gate: tuple[PlaybackGate, PlaybackSecret, StreamTracker, CurrentAssignment],
) -> None:
    """With a stolen secret one signs a URL valid until 2033; the node refuses it anyway."""
    playback, secret, _, current = gate
    camera = new_camera_id()
    secret.update(SECRET)
    await current.apply(_assignment(1, camera, {}, max_ttl_s=600))
    now = int(time.time())

    def allowed(grant: Grant, expires: int) -> bool:
        sig = playback_signature(SECRET, camera, expires, grant)
        return playback.hls_stream_dir(camera, grant.encode(), expires, sig) == "akey"

    assert allowed(Grant(("u",), now), now + 600)
    far = int(time.mktime((2033, 1, 1, 0, 0, 0, 0, 0, 0)))
    assert not allowed(Grant(("u",), now), far)
    assert not allowed(Grant(("u",), now), now + 600 + 120)
    # Issued "in the future", or living longer than any URL the control plane signs.
    assert not allowed(Grant(("u",), now + 3600), now + 600)
    assert not allowed(Grant(("u",), now - 7200), now + 300)
