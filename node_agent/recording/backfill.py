"""Indexing, in the background, the segment files a stopped agent left unindexed.

A restarted agent may find hundreds of files no index row names (it was killed while its
recorders ran, or its index could not be written). Measuring each takes an ffprobe; one at a
time before connecting, 394 of them kept a node away for 3-4 minutes. So the start-up rescan
only lists them (SegmentStore.reconcile) and the agent connects, streams and records at once,
while this indexes them: a few at a time, ffprobe at the lowest CPU priority, each reported
through the outbox as soon as it is indexed.

Crash-safe as the rescan it replaces: a file is indexed only once measured, the index is unique
by path (a file is never indexed twice), and what a kill interrupts is still unindexed at the
next start, which lists it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from node_agent.recording.store import SegmentStore, Unindexed

log = logging.getLogger(__name__)

# ffprobe's niceness for these files: live recording, streaming and the agent itself come first.
LOWEST_PRIORITY = 19


@dataclass(frozen=True)
class Backfilled:
    """What a backfill did."""

    finalized: int = 0
    discarded: int = 0


class Backfill:
    """Indexes a list of unindexed files with at most `workers` ffprobes at once."""

    def __init__(self, store: SegmentStore, workers: int = 2, nice: int = LOWEST_PRIORITY):
        if workers < 1:
            raise ValueError(f"a backfill needs at least one worker, not {workers}")
        self._store = store
        self._workers = workers
        self._nice = nice
        # Files not indexed yet (those being measured included): the agent's /metrics say it.
        self.remaining = 0

    async def run(self, files: list[Unindexed]) -> Backfilled:
        """Index `files`, oldest first per camera (their order); returns when all are done."""
        if not files:
            return Backfilled()
        started = time.monotonic()
        log.info("indexing %d segment files left unindexed, in the background", len(files))
        queue: asyncio.Queue[Unindexed] = asyncio.Queue()
        for file in files:
            queue.put_nowait(file)
        self.remaining = len(files)
        counts = [0, 0]  # finalized, discarded
        workers = [
            asyncio.create_task(self._work(queue, counts), name=f"backfill-{n}")
            for n in range(min(self._workers, len(files)))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        done = Backfilled(*counts)
        log.info(
            "indexed %d segment files left unindexed in %.1f s (%d without media)",
            done.finalized,
            time.monotonic() - started,
            done.discarded,
        )
        return done

    async def _work(self, queue: asyncio.Queue[Unindexed], counts: list[int]) -> None:
        while not queue.empty():
            file = queue.get_nowait()
            try:
                indexed = await self._store.finalize(file, nice=self._nice)
            except Exception:
                # One unreadable file must not stop the rest; it is listed again at the next
                # start.
                log.exception("cannot index %s", file.relative_path)
                indexed = False
            counts[0 if indexed else 1] += 1
            self.remaining -= 1
