"""When the agent reports media (what makes a camera ONLINE): node_agent.stat_poller reading
nginx's /stat fast from a publish's accept until its media flows, in the whole agent with its
real nginx. The once-a-second poll is set to an hour here, so every MEDIA these tests see came
from the fast readings an accept starts; publishers are ffmpeg, or a bare RTMP client
(tests/support/rtmp_publisher.py) when a test decides what media nginx gets and when."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, stream_pb2

from node_agent.agent import Agent
from node_agent.convert import assignment_from_proto
from node_agent.credentials import Credential, save_credential
from node_agent.stat_poller import StatPoller
from node_agent.state import DataDir, save_assignment, save_playback_secret
from node_agent.streams import FAST_WATCH_S, MEDIA_BYTES, LivePublish
from tests.support.agent_node import loopback_config, new_camera_id, publishing, running_agent
from tests.support.rtmp_publisher import bare_publish

CAMERAS = {f"k{i}" + secrets.token_hex(8): new_camera_id() for i in range(8)}
FFMPEG_KEY, SLOW_KEY, SILENT_KEY, *CROWD_KEYS = CAMERAS
# An H.264 sequence header's worth of bytes, and a keyframe's (nginx counts message bytes).
SEQUENCE_HEADER = b"\x17\x00\x00\x00\x00" + bytes(40)
KEYFRAME = b"\x17\x01\x00\x00\x00" + bytes(4 * MEDIA_BYTES)


def prepare_data_dir(root: Path) -> None:
    """A node connected before: credential, an assignment of CAMERAS, the playback key."""
    data_dir = DataDir(root)
    data_dir.create()
    save_credential(data_dir, Credential("node-test", "cfn_" + secrets.token_urlsafe(16)))
    assignment = agent_pb2.Assignment(
        version=1,
        cameras=[
            agent_pb2.AssignedCamera(
                camera_id=camera, name=key, ingest=agent_pb2.ASSIGNED_INGEST_PUSH, stream_key=key
            )
            for key, camera in CAMERAS.items()
        ],
    )
    save_assignment(data_dir, assignment_from_proto(assignment))
    save_playback_secret(data_dir, secrets.token_bytes(32))


@pytest.fixture(scope="module")
async def agent(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Agent]:
    root = tmp_path_factory.mktemp("stat-poller-node")
    prepare_data_dir(root)
    async with running_agent(loopback_config(root, stat_interval_s=3600.0)) as a:
        yield a


def poller(agent: Agent) -> StatPoller:
    assert agent.stat_poller is not None
    return agent.stat_poller


def kinds(agent: Agent, key: str) -> list[str]:
    """The stream events spooled for `key`'s camera, oldest first (PUBLISH, MEDIA, ...)."""
    assert agent.spool is not None
    requests = [
        agent_pb2.ConnectRequest.FromString(e.payload) for e in agent.spool.pending(0, 10_000)
    ]
    return [
        stream_pb2.StreamEventType.Name(r.stream_event.type).removeprefix("STREAM_EVENT_TYPE_")
        for r in requests
        if r.WhichOneof("body") == "stream_event" and r.stream_event.camera_id == CAMERAS[key]
    ]


async def until(check: Callable[[], bool], what: str, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def readings_pass(agent: Agent, count: int) -> None:
    """Wait for `count` more /stat readings."""
    target = poller(agent).readings + count
    await until(lambda: poller(agent).readings >= target, f"{count} /stat readings")


def in_stat(agent: Agent, key: str) -> LivePublish:
    """The accepted publish of `key`, once a reading has found it in /stat."""
    publish = agent.streams.by_key(key)
    assert publish is not None and publish.stat is not None
    return publish


def bytes_in(agent: Agent, key: str) -> int:
    """What the last reading says nginx took in on `key`."""
    stat = in_stat(agent, key).stat
    assert stat is not None
    return stat.bytes_in


async def accepted_and_listed(agent: Agent, key: str) -> None:
    """Wait for the agent to accept `key` and for a /stat reading to list it."""
    await until(lambda: kinds(agent, key) == ["PUBLISH"], f"the publish of {key} accepted")
    await until(
        lambda: (p := agent.streams.by_key(key)) is not None and p.stat is not None,
        f"{key} in /stat",
    )


async def test_ffmpeg_media_is_reported_from_the_readings_its_accept_starts(agent: Agent) -> None:
    async with publishing(f"{agent.config.rtmp_url}/{FFMPEG_KEY}", seconds=60) as ffmpeg:
        await until(lambda: "MEDIA" in kinds(agent, FFMPEG_KEY), "media to be reported")
        assert kinds(agent, FFMPEG_KEY) == ["PUBLISH", "MEDIA"]
        publish = in_stat(agent, FFMPEG_KEY)
        assert publish.media_flowing is True
        assert publish.stat is not None and publish.stat.video_codec == "H264"
        # Media flowing ends the fast readings: nothing else awaits media.
        assert not agent.streams.awaiting_media()
        assert ffmpeg.poll() is None, "ffmpeg stopped publishing early"
    await until(lambda: "UNPUBLISH" in kinds(agent, FFMPEG_KEY), "the publish to end")
    assert kinds(agent, FFMPEG_KEY) == ["PUBLISH", "MEDIA", "UNPUBLISH"]


async def test_media_is_reported_when_a_frame_flows_not_before(agent: Agent) -> None:
    async with bare_publish(f"{agent.config.rtmp_url}/{SLOW_KEY}") as publisher:
        await accepted_and_listed(agent, SLOW_KEY)
        # Published, but no media: CONNECTING, however many readings pass.
        await readings_pass(agent, 10)
        assert kinds(agent, SLOW_KEY) == ["PUBLISH"]
        assert agent.streams.awaiting_media()

        # A sequence header is no picture yet.
        await publisher.send_video(SEQUENCE_HEADER)
        await until(lambda: bytes_in(agent, SLOW_KEY) > 0, "nginx to count it")
        assert kinds(agent, SLOW_KEY) == ["PUBLISH"]
        assert in_stat(agent, SLOW_KEY).media_flowing is False

        await publisher.send_video(KEYFRAME)
        await until(lambda: "MEDIA" in kinds(agent, SLOW_KEY), "media to be reported")
        assert kinds(agent, SLOW_KEY) == ["PUBLISH", "MEDIA"]
        assert in_stat(agent, SLOW_KEY).media_flowing is True
    await until(lambda: "UNPUBLISH" in kinds(agent, SLOW_KEY), "the publish to end")


async def test_a_publish_that_sends_nothing_stays_connecting_and_stops_fast_reads(
    agent: Agent,
) -> None:
    agent.streams.fast_watch_s = 2.0
    try:
        async with bare_publish(f"{agent.config.rtmp_url}/{SILENT_KEY}"):
            await accepted_and_listed(agent, SILENT_KEY)
            await until(lambda: not agent.streams.awaiting_media(), "the fast window to end")
            # Back to the (hour-long) slow interval: at most a reading already under way.
            before = poller(agent).readings
            await asyncio.sleep(1.0)
            assert poller(agent).readings <= before + 1
            assert kinds(agent, SILENT_KEY) == ["PUBLISH"]
            assert in_stat(agent, SILENT_KEY).media_flowing is False
    finally:
        agent.streams.fast_watch_s = FAST_WATCH_S
    await until(lambda: "UNPUBLISH" in kinds(agent, SILENT_KEY), "the publish to end")
    assert kinds(agent, SILENT_KEY) == ["PUBLISH", "UNPUBLISH"]


async def test_publishes_awaiting_media_share_one_fast_reading(agent: Agent) -> None:
    async with AsyncExitStack() as stack:
        publishers = [
            await stack.enter_async_context(bare_publish(f"{agent.config.rtmp_url}/{key}"))
            for key in CROWD_KEYS
        ]
        for key in CROWD_KEYS:
            await accepted_and_listed(agent, key)
        # One reading per fast interval for all of them, not one each.
        start, before = time.monotonic(), poller(agent).readings
        await readings_pass(agent, 10)
        elapsed, taken = time.monotonic() - start, poller(agent).readings - before
        assert taken <= elapsed / poller(agent).fast_interval_s + 2, (taken, elapsed)
        # Each one's media is still seen, from the same readings.
        for publisher in publishers:
            await publisher.send_video(KEYFRAME)
        for key in CROWD_KEYS:
            await until(lambda k=key: "MEDIA" in kinds(agent, k), f"media of {key}")  # type: ignore[misc]
        assert not agent.streams.awaiting_media()
