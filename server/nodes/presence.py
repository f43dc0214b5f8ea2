"""Presence: which nodes are heartbeating and what their live streams look like right now.

Written on every heartbeat, so it never touches the database. In process for the embedded
default; Redis hashes when replicas share the work, so any replica can answer GetStream and the
lost-node sweeper sees heartbeats that reached another replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from camfleet.v1 import node_pb2, stream_pb2
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT


class Presence(Protocol):
    """Live node and stream facts."""

    async def heartbeat(
        self,
        node_id: str,
        at: float,
        host: node_pb2.HostMetrics,
        streams: Sequence[stream_pb2.StreamStatus],
    ) -> None:
        """Record a heartbeat (unix seconds) with host metrics and the node's live streams."""
        ...

    async def last_heartbeats(self) -> dict[str, float]:
        """node id -> time of its last heartbeat."""
        ...

    async def host(self, node_id: str) -> tuple[node_pb2.HostMetrics, int] | None:
        """(host metrics, live stream count) of a node's last heartbeat."""
        ...

    async def set_streams(self, streams: Iterable[stream_pb2.StreamStatus]) -> None:
        """Store the status of these streams."""
        ...

    async def drop_streams(self, camera_ids: Iterable[str]) -> None:
        """Forget streams that ended."""
        ...

    async def streams(
        self, camera_ids: Sequence[str] | None = None
    ) -> list[stream_pb2.StreamStatus]:
        """Live streams (all, or these cameras')."""
        ...

    async def forget_node(self, node_id: str) -> None:
        """Drop a node's heartbeat and host metrics."""
        ...


class MemoryPresence:
    """Presence in this process."""

    def __init__(self) -> None:
        self._beats: dict[str, float] = {}
        self._hosts: dict[str, tuple[node_pb2.HostMetrics, int]] = {}
        self._streams: dict[str, stream_pb2.StreamStatus] = {}

    async def heartbeat(
        self,
        node_id: str,
        at: float,
        host: node_pb2.HostMetrics,
        streams: Sequence[stream_pb2.StreamStatus],
    ) -> None:
        self._beats[node_id] = at
        self._hosts[node_id] = (host, len(streams))
        for stream in streams:
            self._streams[stream.camera_id] = stream

    async def last_heartbeats(self) -> dict[str, float]:
        return dict(self._beats)

    async def host(self, node_id: str) -> tuple[node_pb2.HostMetrics, int] | None:
        return self._hosts.get(node_id)

    async def set_streams(self, streams: Iterable[stream_pb2.StreamStatus]) -> None:
        for stream in streams:
            self._streams[stream.camera_id] = stream

    async def drop_streams(self, camera_ids: Iterable[str]) -> None:
        for camera_id in camera_ids:
            self._streams.pop(camera_id, None)

    async def streams(
        self, camera_ids: Sequence[str] | None = None
    ) -> list[stream_pb2.StreamStatus]:
        if camera_ids is None:
            return list(self._streams.values())
        return [s for c in camera_ids if (s := self._streams.get(c)) is not None]

    async def forget_node(self, node_id: str) -> None:
        self._beats.pop(node_id, None)
        self._hosts.pop(node_id, None)


class RedisPresence:
    """Presence in three Redis hashes: heartbeats, host metrics, streams."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._beats = f"{prefix}presence:beats"
        self._hosts = f"{prefix}presence:hosts"
        self._streams = f"{prefix}presence:streams"

    async def heartbeat(
        self,
        node_id: str,
        at: float,
        host: node_pb2.HostMetrics,
        streams: Sequence[stream_pb2.StreamStatus],
    ) -> None:
        # One round trip per heartbeat, whatever the number of streams.
        node = node_pb2.Node(host=host, stream_count=len(streams))
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(self._beats, node_id, repr(at))
        pipe.hset(self._hosts, node_id, node.SerializeToString())
        if streams:
            pipe.hset(self._streams, mapping={s.camera_id: s.SerializeToString() for s in streams})
        await pipe.execute()

    async def last_heartbeats(self) -> dict[str, float]:
        raw = await self._redis.hgetall(self._beats)
        return {_text(k): float(v) for k, v in raw.items()}

    async def host(self, node_id: str) -> tuple[node_pb2.HostMetrics, int] | None:
        raw = await self._redis.hget(self._hosts, node_id)
        if raw is None:
            return None
        node = node_pb2.Node.FromString(_bytes(raw))
        return node.host, node.stream_count

    async def set_streams(self, streams: Iterable[stream_pb2.StreamStatus]) -> None:
        mapping: dict[FieldT, EncodableT] = {s.camera_id: s.SerializeToString() for s in streams}
        if mapping:
            await self._redis.hset(self._streams, mapping=mapping)

    async def drop_streams(self, camera_ids: Iterable[str]) -> None:
        ids = list(camera_ids)
        if ids:
            await self._redis.hdel(self._streams, *ids)

    async def streams(
        self, camera_ids: Sequence[str] | None = None
    ) -> list[stream_pb2.StreamStatus]:
        if camera_ids is None:
            values = list((await self._redis.hgetall(self._streams)).values())
        elif camera_ids:
            values = [v for v in await self._redis.hmget(self._streams, list(camera_ids)) if v]
        else:
            values = []
        return [stream_pb2.StreamStatus.FromString(_bytes(v)) for v in values]

    async def forget_node(self, node_id: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hdel(self._beats, node_id)
        pipe.hdel(self._hosts, node_id)
        await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()
