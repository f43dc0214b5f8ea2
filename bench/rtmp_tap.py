"""A loopback relay in front of nginx's RTMP port that notes when a publisher's first video frame
passes through it: the start line of "ONLINE within N ms of the first video packet reaching
nginx". It reads the publisher's side of the RTMP chunk stream just far enough to find message
types (handshake, chunk headers, Set Chunk Size); bytes are forwarded as soon as they are read,
before they are parsed, so the relay adds a loopback hop and nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

# C0 + C1 + C2: what a client sends before its first chunk.
HANDSHAKE_BYTES = 1 + 1536 + 1536
SET_CHUNK_SIZE = 1
VIDEO = 9
# Message header length by chunk format (0: full, 1: same stream, 2: timestamp only, 3: none).
HEADER_BYTES = (11, 7, 3, 0)


@dataclass
class _Chunks:
    """The state of one chunk stream (csid): its last header and how much of its message is
    still to come."""

    length: int = 0
    type_id: int = 0
    extended: bool = False
    remaining: int = 0


@dataclass
class VideoWatch:
    """Reads a client's bytes; `first_frame` is the monotonic time the bytes that start its first
    video frame (not the AVC sequence header, which ffmpeg sends before it encodes anything) were
    read."""

    first_frame: float | None = None
    _skip: int = HANDSHAKE_BYTES
    _buffer: bytearray = field(default_factory=bytearray)
    _chunk_size: int = 128
    _streams: dict[int, _Chunks] = field(default_factory=dict)

    def feed(self, data: bytes, at: float) -> None:
        """Take the next bytes from the client, read at monotonic time `at`."""
        if self.first_frame is not None:
            return
        if self._skip:
            taken = min(self._skip, len(data))
            self._skip -= taken
            data = data[taken:]
        self._buffer += data
        while self.first_frame is None and self._one_chunk(at):
            pass

    def _one_chunk(self, at: float) -> bool:
        """Consume one whole chunk from the buffer; False when it does not hold one yet."""
        buf = self._buffer
        if not buf:
            return False
        fmt, csid, pos = buf[0] >> 6, buf[0] & 0x3F, 1
        if csid in (0, 1):
            width = 1 if csid == 0 else 2
            if len(buf) < 1 + width:
                return False
            csid = 64 + buf[1] + (buf[2] << 8 if csid == 1 else 0)
            pos += width
        state = self._streams.setdefault(csid, _Chunks())
        header = HEADER_BYTES[fmt]
        if len(buf) < pos + header:
            return False
        extended = state.extended
        if fmt < 3:
            extended = int.from_bytes(buf[pos : pos + 3], "big") == 0xFFFFFF
        length, type_id = state.length, state.type_id
        if fmt < 2:
            length = int.from_bytes(buf[pos + 3 : pos + 6], "big")
            type_id = buf[pos + 6]
        pos += header + (4 if extended else 0)
        starts = state.remaining == 0
        remaining = length if starts else state.remaining
        size = min(self._chunk_size, remaining)
        if len(buf) < pos + size:
            return False
        payload = bytes(buf[pos : pos + size])
        del buf[: pos + size]
        state.length, state.type_id, state.extended = length, type_id, extended
        state.remaining = remaining - size
        if starts and type_id == SET_CHUNK_SIZE and size >= 4:
            self._chunk_size = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        # FLV video tag: byte 0 frame type and codec; for AVC byte 1 is 0 for the sequence
        # header and 1 for a coded frame. Other codecs have no sequence header byte.
        if starts and type_id == VIDEO and payload and not _sequence_header(payload):
            self.first_frame = at
        return True


def _sequence_header(payload: bytes) -> bool:
    codec = payload[0] & 0x0F
    return codec == 7 and len(payload) > 1 and payload[1] == 0


class RtmpTap:
    """Listens on 127.0.0.1:`port` and relays each connection to `target`; `watches` holds one
    VideoWatch per connection, newest last."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.watches: list[VideoWatch] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        watch = VideoWatch()
        self.watches.append(watch)
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        tasks = [
            asyncio.create_task(_pipe(reader, up_writer, watch)),
            asyncio.create_task(_pipe(up_reader, writer, None)),
        ]
        self._tasks.update(tasks)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                self._tasks.discard(task)
            for w in (writer, up_writer):
                w.close()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watch: VideoWatch | None
) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            if watch is not None:
                watch.feed(data, time.monotonic())
            await writer.drain()
