"""A bare RTMP publisher for tests that must decide what media reaches nginx, and when: ffmpeg
sends its first frames as soon as its encoder has them, this one sends nothing until told.

It does what an encoder does up to `publish` (handshake, connect, createStream, publish: nginx
then asks on_publish) and afterwards only the video messages a test hands it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

CHUNK_SIZE = 128  # RTMP's default; this client never changes it
COMMAND, VIDEO = 20, 9
STREAM_ID = 1  # nginx-rtmp's answer to a connection's first createStream


def _amf(value: object) -> bytes:
    """AMF0 of a number, string, None or dict of those."""
    if value is None:
        return b"\x05"
    if isinstance(value, float):
        return b"\x00" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode()
        return b"\x02" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        body = b"".join(
            struct.pack(">H", len(k.encode())) + k.encode() + _amf(v) for k, v in value.items()
        )
        return b"\x03" + body + b"\x00\x00\x09"
    raise TypeError(value)


def _message(csid: int, type_id: int, stream_id: int, payload: bytes) -> bytes:
    """One message as chunks: a full header, then continuation chunks every CHUNK_SIZE bytes."""
    header = (
        bytes([csid])
        + (0).to_bytes(3, "big")
        + len(payload).to_bytes(3, "big")
        + bytes([type_id])
        + stream_id.to_bytes(4, "little")
    )
    pieces = [payload[i : i + CHUNK_SIZE] for i in range(0, len(payload), CHUNK_SIZE)] or [b""]
    return header + b"".join(
        (b"" if i == 0 else bytes([0xC0 | csid])) + piece for i, piece in enumerate(pieces)
    )


class BarePublisher:
    """A publishing RTMP connection; send_video() is the only media it ever sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._drain = asyncio.create_task(self._discard())

    async def _discard(self) -> None:
        """Read (and ignore) nginx's answers, so that its writes never block."""
        with contextlib.suppress(ConnectionError):
            while await self._reader.read(65536):
                pass

    async def send_video(self, payload: bytes) -> None:
        """One video message (an FLV video tag's body, e.g. b"\\x17\\x01..." for an H.264
        keyframe) on the published stream."""
        self._writer.write(_message(6, VIDEO, STREAM_ID, payload))
        await self._writer.drain()

    async def close(self) -> None:
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


@asynccontextmanager
async def bare_publish(url: str) -> AsyncIterator[BarePublisher]:
    """Publish `url` (rtmp://host:port/app/key) without media; the connection closes on exit."""
    parts = urlsplit(url)
    app, _, key = parts.path.lstrip("/").partition("/")
    assert parts.hostname and parts.port and app and key, url
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        # Handshake: C0 C1, S0 S1 S2 back, C2 echoing S1.
        writer.write(b"\x03" + bytes(8) + os.urandom(1528))
        answer = await reader.readexactly(1 + 1536 + 1536)
        writer.write(answer[1:1537])
        tc_url = f"rtmp://{parts.hostname}:{parts.port}/{app}"
        connect = {"app": app, "type": "nonprivate", "flashVer": "FMLE/3.0", "tcUrl": tc_url}
        for payload, stream_id in (
            (_amf("connect") + _amf(1.0) + _amf(connect), 0),
            (_amf("createStream") + _amf(2.0) + _amf(None), 0),
            (_amf("publish") + _amf(3.0) + _amf(None) + _amf(key) + _amf("live"), STREAM_ID),
        ):
            writer.write(_message(3, COMMAND, stream_id, payload))
        await writer.drain()
    except BaseException:
        writer.close()
        raise
    publisher = BarePublisher(reader, writer)
    try:
        yield publisher
    finally:
        await publisher.close()
