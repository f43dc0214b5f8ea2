"""A report as a stream of chunks of at most 64 KiB, rendered in a worker thread while the
event loop sends: the writer pushes bytes into a bounded queue (it waits when the client reads
slowly), and table rows may come from async sources (`rows_from`), fetched page by page as the
writer reaches them. So neither the rows nor the file are held whole in memory."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Sequence
from typing import IO, Final, TypeVar

from server.analytics.reports.rows import Report, ReportFormat

CHUNK: Final = 64 * 1024
# Chunks waiting for the client: at most this many (memory bound, back-pressure).
QUEUED: Final = 8

Writer = Callable[[Report, IO[bytes]], None]
T = TypeVar("T")


def writer_for(fmt: ReportFormat) -> Writer:
    """The writer of `fmt`, imported when a report is first rendered: reportlab and openpyxl
    cost ~0.3 s of CPU that a control plane would otherwise pay at every start."""
    if fmt is ReportFormat.PDF:
        from server.analytics.reports.pdf import write_pdf

        return write_pdf
    from server.analytics.reports.tabular import write_csv, write_xlsx

    return write_xlsx if fmt is ReportFormat.XLSX else write_csv


class _Stop(Exception):
    """The reader went away: the writer thread stops at its next write."""


class _Sink:
    """A write-only file object cutting what it is given into chunks for the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]):
        self._loop = loop
        self._queue = queue
        self._pending = bytearray()
        self.closed_by_reader = False

    def write(self, data: bytes) -> int:
        self._pending += data
        while len(self._pending) >= CHUNK:
            self._send(bytes(self._pending[:CHUNK]))
            del self._pending[:CHUNK]
        return len(data)

    def flush(self) -> None:
        """Nothing: chunks leave when full, the rest when the writer ends."""

    def end(self) -> None:
        if self._pending:
            self._send(bytes(self._pending))
            self._pending.clear()

    def _send(self, chunk: bytes) -> None:
        if self.closed_by_reader:
            raise _Stop
        asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop).result()


def rows_from(
    pages: AsyncIterable[Sequence[T]],
    loop: asyncio.AbstractEventLoop,
    abandoned: threading.Event | None = None,
) -> Iterator[T]:
    """The items of an async source of pages, for a writer in a worker thread: each next page
    is awaited on the event loop (one hop between threads per page, not per row). Once
    `abandoned` is set (the client went away) it stops the writer before the next page."""
    iterator = aiter(pages)

    async def step() -> Sequence[T]:
        return await anext(iterator)

    while True:
        if abandoned is not None and abandoned.is_set():
            raise _Stop
        try:
            page = asyncio.run_coroutine_threadsafe(step(), loop).result()
        except StopAsyncIteration:
            return
        yield from page


async def report_chunks(report: Report, fmt: ReportFormat) -> AsyncIterator[bytes]:
    """The file's bytes in chunks of at most CHUNK. A writer's error is raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUED)
    sink = _Sink(loop, queue)
    writer = writer_for(fmt)

    def render() -> None:
        try:
            writer(report, sink)  # type: ignore[arg-type]
            sink.end()
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed with the reader gone
                asyncio.run_coroutine_threadsafe(queue.put(None), loop)

    task = asyncio.create_task(asyncio.to_thread(render))
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task
    finally:
        if not task.done():
            sink.closed_by_reader = True
            report.abandoned.set()
            # Let a blocked put finish so the thread sees the flag and stops.
            while not task.done():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                await asyncio.sleep(0.01)
            with contextlib.suppress(_Stop):
                await task


async def report_bytes(report: Report, fmt: ReportFormat) -> bytes:
    """The whole file (a mailed report is one attachment)."""
    return b"".join([chunk async for chunk in report_chunks(report, fmt)])
