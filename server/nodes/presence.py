"""Presence: which nodes are heartbeating and what their live streams look like right now.

Written on every heartbeat, so it never touches the database. In process for the embedded
default; Redis hashes when replicas share the work, so any replica can answer GetStream and the
lost-node sweeper sees heartbeats that reached another replica.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from server.cameras.model import CameraStatus
from server.nodes.live import HostMetrics, LiveStream, NodeLive, StreamMetrics

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)
T = TypeVar("T")


class Presence(Protocol):
    """Live node and stream facts."""

    async def heartbeat(
        self,
        node_id: str,
        at: float,
        host: HostMetrics,
        streams: Sequence[LiveStream],
    ) -> None:
        """Record a heartbeat (unix seconds) with host metrics and the node's live streams."""
        ...

    async def last_heartbeats(self) -> dict[str, float]:
        """node id -> time of its last heartbeat."""
        ...

    async def last_heartbeat(self, node_id: str) -> float | None:
        """The time of one node's last heartbeat; None if none is known."""
        ...

    async def host(self, node_id: str) -> NodeLive | None:
        """Host metrics and live stream count of a node's last heartbeat."""
        ...

    async def drop_streams(self, camera_ids: Iterable[str]) -> None:
        """Forget streams that ended."""
        ...

    async def streams(self, camera_ids: Sequence[str] | None = None) -> list[LiveStream]:
        """Live streams (all, or these cameras')."""
        ...

    async def forget_node(self, node_id: str) -> None:
        """Drop a node's heartbeat and host metrics."""
        ...


class MemoryPresence:
    """Presence in this process."""

    def __init__(self) -> None:
        self._beats: dict[str, float] = {}
        self._hosts: dict[str, NodeLive] = {}
        self._streams: dict[str, LiveStream] = {}

    async def heartbeat(
        self,
        node_id: str,
        at: float,
        host: HostMetrics,
        streams: Sequence[LiveStream],
    ) -> None:
        self._beats[node_id] = at
        self._hosts[node_id] = NodeLive(host, len(streams))
        for stream in streams:
            self._streams[stream.camera_id] = stream

    async def last_heartbeats(self) -> dict[str, float]:
        return dict(self._beats)

    async def last_heartbeat(self, node_id: str) -> float | None:
        return self._beats.get(node_id)

    async def host(self, node_id: str) -> NodeLive | None:
        return self._hosts.get(node_id)

    async def drop_streams(self, camera_ids: Iterable[str]) -> None:
        for camera_id in camera_ids:
            self._streams.pop(camera_id, None)

    async def streams(self, camera_ids: Sequence[str] | None = None) -> list[LiveStream]:
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
        host: HostMetrics,
        streams: Sequence[LiveStream],
    ) -> None:
        # One round trip per heartbeat, whatever the number of streams.
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(self._beats, node_id, repr(at))
        pipe.hset(self._hosts, node_id, _encode_node(NodeLive(host, len(streams))))
        if streams:
            pipe.hset(self._streams, mapping={s.camera_id: _encode_stream(s) for s in streams})
        await pipe.execute()

    async def last_heartbeats(self) -> dict[str, float]:
        raw = await self._redis.hgetall(self._beats)
        return {_text(k): float(v) for k, v in raw.items()}

    async def last_heartbeat(self, node_id: str) -> float | None:
        raw = await self._redis.hget(self._beats, node_id)
        return None if raw is None else float(raw)

    async def host(self, node_id: str) -> NodeLive | None:
        raw = await self._redis.hget(self._hosts, node_id)
        return None if raw is None else _decoded(_decode_node, raw)

    async def drop_streams(self, camera_ids: Iterable[str]) -> None:
        ids = list(camera_ids)
        if ids:
            await self._redis.hdel(self._streams, *ids)

    async def streams(self, camera_ids: Sequence[str] | None = None) -> list[LiveStream]:
        if camera_ids is None:
            values = list((await self._redis.hgetall(self._streams)).values())
        elif camera_ids:
            values = [v for v in await self._redis.hmget(self._streams, list(camera_ids)) if v]
        else:
            values = []
        return [s for v in values if (s := _decoded(_decode_stream, v)) is not None]

    async def forget_node(self, node_id: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hdel(self._beats, node_id)
        pipe.hdel(self._hosts, node_id)
        await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# Presence's own format in Redis: JSON of the domain types, so replicas read what any of them
# wrote without going through API messages. Times are ISO 8601 strings.


def _encode_node(live: NodeLive) -> str:
    return json.dumps({"host": vars(live.host), "stream_count": live.stream_count})


def _decode_node(raw: dict[str, Any]) -> NodeLive:
    return NodeLive(HostMetrics(**raw["host"]), int(raw["stream_count"]))


def _encode_stream(stream: LiveStream) -> str:
    metrics = dict(vars(stream.metrics), publish_start=_stamp(stream.metrics.publish_start))
    return json.dumps(
        {
            "camera_id": stream.camera_id,
            "status": stream.status.value,
            "node_id": stream.node_id,
            "updated": _stamp(stream.updated),
            "status_reason": stream.status_reason,
            "metrics": metrics,
        }
    )


def _decode_stream(raw: dict[str, Any]) -> LiveStream:
    metrics = raw["metrics"]
    return LiveStream(
        camera_id=raw["camera_id"],
        status=CameraStatus(raw["status"]),
        node_id=raw["node_id"],
        updated=_time(raw["updated"]),
        status_reason=raw["status_reason"],
        metrics=StreamMetrics(**dict(metrics, publish_start=_time(metrics["publish_start"]))),
    )


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _decoded(decode: Callable[[dict[str, Any]], T], raw: bytes | str) -> T | None:
    """A stored value, or None when it cannot be read (written by another version: the next
    heartbeat replaces it)."""
    try:
        return decode(json.loads(raw))
    except (ValueError, TypeError, KeyError) as why:
        log.warning("unreadable presence entry skipped: %s", why)
        return None
