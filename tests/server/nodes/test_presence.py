"""Presence keeps the domain's live facts in its own format, in process and in Redis."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from harness.databases import REDIS_URL
from server.cameras.model import CameraStatus
from server.nodes.live import HostMetrics, LiveStream, NodeLive, StreamMetrics
from server.nodes.presence import MemoryPresence, Presence, RedisPresence

HOST = HostMetrics(cpu_percent=12.5, memory_used_bytes=1 << 30, memory_total_bytes=8 << 30)
STREAM = LiveStream(
    camera_id="cam-1",
    status=CameraStatus.ONLINE,
    node_id="node-1",
    updated=datetime(2026, 12, 5, 12, 0, 1, 250000, tzinfo=UTC),
    metrics=StreamMetrics(
        bitrate_bps=2_000_000,
        fps=25.0,
        width=1280,
        height=720,
        video_codec="H264",
        audio_codec="AAC",
        clients=2,
        publish_start=datetime(2026, 12, 5, 11, 59, tzinfo=UTC),
    ),
)


@contextlib.asynccontextmanager
async def redis_presence() -> AsyncIterator[tuple[RedisPresence, Redis, str]]:
    """Presence under a throwaway key prefix in the local Redis, removed afterwards."""
    redis = Redis.from_url(REDIS_URL)
    prefix = f"test-presence-{uuid.uuid4().hex}:"
    try:
        yield RedisPresence(redis, prefix), redis, prefix
    finally:
        keys = [k async for k in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


@pytest.fixture(params=["memory", "redis"])
async def presence(request: pytest.FixtureRequest) -> AsyncIterator[Presence]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    async with redis_presence() as (stored, _, _):
        yield stored


async def test_a_heartbeat_keeps_host_streams_and_time(presence: Presence) -> None:
    await presence.heartbeat("node-1", 1234.5, HOST, [STREAM])
    assert await presence.last_heartbeats() == {"node-1": 1234.5}
    assert await presence.host("node-1") == NodeLive(HOST, 1)
    assert await presence.streams() == [STREAM]
    assert await presence.streams(["cam-1", "cam-2"]) == [STREAM]
    assert await presence.streams([]) == []


async def test_ended_streams_and_forgotten_nodes_are_gone(presence: Presence) -> None:
    other = LiveStream("cam-2", CameraStatus.CONNECTING, "node-1", updated=None)
    await presence.heartbeat("node-1", 1.0, HostMetrics(), [STREAM, other])
    await presence.drop_streams(["cam-1"])
    assert await presence.streams() == [other]
    await presence.forget_node("node-1")
    assert await presence.host("node-1") is None
    assert await presence.last_heartbeats() == {}


async def test_an_unreadable_redis_entry_is_skipped() -> None:
    """Written by another version of the control plane: the next heartbeat replaces it."""
    async with redis_presence() as (presence, redis, prefix):
        await presence.heartbeat("node-1", 1.0, HOST, [STREAM])
        # What an older control plane stored: serialized API messages.
        await redis.hset(f"{prefix}presence:streams", "cam-9", b"\x0a\x05cam-9")
        await redis.hset(f"{prefix}presence:hosts", "node-1", b"\x52\x02")
        assert await presence.streams() == [STREAM]
        assert await presence.host("node-1") is None
