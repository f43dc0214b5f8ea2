"""Clients at other loopback addresses: a TCP forwarder whose upstream connections start from
127.0.0.N, so a gRPC channel through it reaches Envoy (or a control plane) as a different
client host. (grpc's channels cannot choose their source address.)

    async with from_address("127.0.0.2", envoy_port) as target:
        channel = grpc.aio.insecure_channel(target)  # Envoy sees peer 127.0.0.2
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def from_address(source: str, port: int, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """A loopback target ("127.0.0.1:PORT") whose connections reach `host:port` from `source`."""
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            writer.close()
            return
        for task in (
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def channel_from(
    source: str, port: int, credentials: grpc.ChannelCredentials | None = None
) -> AsyncIterator[grpc.aio.Channel]:
    """A gRPC channel to 127.0.0.1:`port` whose connection starts from `source`; over TLS with
    `credentials` (the forwarder passes the bytes: the client still checks the server's
    certificate for 127.0.0.1)."""
    async with from_address(source, port) as target:
        channel = (
            grpc.aio.secure_channel(target, credentials)
            if credentials
            else grpc.aio.insecure_channel(target)
        )
        async with channel:
            yield channel
