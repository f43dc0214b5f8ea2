"""A node agent's Connect stream driven message by message from a test: a real gRPC client of
the real control plane, so the server's side of the protocol is tested without nginx."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
from camfleet.v1 import agent_pb2, agent_pb2_grpc, node_pb2
from google.protobuf import timestamp_pb2

from tests.support.platform import Metadata

_END = object()


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(datetime.now(UTC))
    return ts


def message(**body: object) -> agent_pb2.ConnectRequest:
    """A ConnectRequest with a fresh event id and the current time."""
    return agent_pb2.ConnectRequest(event_id=uuid.uuid4().hex, time=_now(), **body)  # type: ignore[arg-type]


def stream_event(
    kind: int, camera_id: str = "", event_id: str = "", **fields: object
) -> agent_pb2.ConnectRequest:
    """A StreamEvent message (`event_id` to resend one)."""
    msg = message(stream_event=agent_pb2.StreamEvent(type=kind, camera_id=camera_id, **fields))  # type: ignore[arg-type]
    if event_id:
        msg.event_id = event_id
    return msg


def report(camera_id: str, media: bool = True, **fields: object) -> agent_pb2.StreamReport:
    """A StreamReport of a 720p H264 stream."""
    values: dict[str, object] = {
        "bitrate_bps": 2_000_000,
        "fps": 25.0,
        "width": 1280,
        "height": 720,
        "video_codec": "H264",
        "audio_codec": "AAC",
        "publish_start_time": _now(),
    }
    values.update(fields)
    return agent_pb2.StreamReport(camera_id=camera_id, media_flowing=media, **values)  # type: ignore[arg-type]


def heartbeat(*streams: agent_pb2.StreamReport) -> agent_pb2.ConnectRequest:
    """A heartbeat with plausible host metrics."""
    return message(
        heartbeat=agent_pb2.Heartbeat(
            host=node_pb2.HostMetrics(
                cpu_percent=12.5,
                memory_used_bytes=1 << 30,
                memory_total_bytes=8 << 30,
                disk_used_bytes=10 << 30,
                disk_total_bytes=100 << 30,
            ),
            streams=list(streams),
        )
    )


@dataclass
class AgentStream:
    """An open Connect call: `send` messages, `receive` responses."""

    call: grpc.aio.StreamStreamCall[agent_pb2.ConnectRequest, agent_pb2.ConnectResponse]
    outgoing: asyncio.Queue[object] = field(default_factory=asyncio.Queue)

    async def send(self, *messages: agent_pb2.ConnectRequest) -> None:
        for msg in messages:
            await self.outgoing.put(msg)

    async def receive(self, within_s: float = 10.0) -> agent_pb2.ConnectResponse:
        async with asyncio.timeout(within_s):
            response = await self.call.read()
        assert response is not grpc.aio.EOF, "the control plane ended the stream"
        assert isinstance(response, agent_pb2.ConnectResponse)
        return response

    async def receive_kind(self, kind: str, within_s: float = 10.0) -> agent_pb2.ConnectResponse:
        """The next response with body `kind`, skipping others."""
        async with asyncio.timeout(within_s):
            while True:
                response = await self.receive(within_s)
                if response.WhichOneof("body") == kind:
                    return response

    async def acked(self, event: agent_pb2.ConnectRequest, within_s: float = 10.0) -> None:
        """Wait until the control plane acknowledges `event` (skipping other responses)."""
        async with asyncio.timeout(within_s):
            while event.event_id not in (await self.receive_kind("event_ack")).event_ack.event_ids:
                pass

    async def finish(self) -> None:
        """End the request stream cleanly (an agent shutting down)."""
        await self.outgoing.put(_END)

    async def status(self, within_s: float = 10.0) -> grpc.StatusCode:
        """The status the control plane ended the stream with (unread responses are skipped:
        gRPC delivers the status only after them)."""
        async with asyncio.timeout(within_s):
            with contextlib.suppress(grpc.aio.AioRpcError):
                while await self.call.read() is not grpc.aio.EOF:
                    pass
            return await self.call.code()


async def _requests(queue: asyncio.Queue[object]) -> AsyncIterator[agent_pb2.ConnectRequest]:
    while True:
        item = await queue.get()
        if item is _END:
            return
        assert isinstance(item, agent_pb2.ConnectRequest)
        yield item


@contextlib.asynccontextmanager
async def connect(
    channel: grpc.aio.Channel, credential: str, hello: agent_pb2.Hello | None = None
) -> AsyncIterator[AgentStream]:
    """Open Connect as the node with `credential` and send its Hello (unless `hello` is None and
    the test wants to send something else first: pass `agent_pb2.Hello()` for an empty one)."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    metadata: Metadata = (("authorization", f"Bearer {credential}"),)
    stub = agent_pb2_grpc.AgentServiceStub(channel)
    call = stub.Connect(_requests(queue), metadata=metadata)
    stream = AgentStream(call, queue)
    if hello is not None:
        await stream.send(message(hello=hello))
    try:
        yield stream
    finally:
        call.cancel()


@contextlib.asynccontextmanager
async def beating(
    stream: AgentStream, *streams: agent_pb2.StreamReport, every_s: float = 0.2
) -> AsyncIterator[None]:
    """Heartbeats from the node (reporting `streams`) every `every_s` while inside, as a real
    agent sends them: a loaded machine must not make the node LOST (3 s without one on the
    tests' planes) before the test means it to be. CI lost test nodes that sent none, or only
    one at the start, whenever the event loop they share with the plane stalled."""

    async def beat() -> None:
        while True:
            await stream.send(heartbeat(*streams))
            await asyncio.sleep(every_s)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def hello(*streams: agent_pb2.StreamReport, version: int = 0) -> agent_pb2.Hello:
    """A Hello of a test node on loopback."""
    return agent_pb2.Hello(
        version="test-agent",
        capacity=16,
        rtmp_url="rtmp://127.0.0.1:19350/live",
        http_url="http://127.0.0.1:18080",
        streams=list(streams),
        assignment_version=version,
    )
