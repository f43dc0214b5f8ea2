"""node_agent.spool: the on-disk queue of events the control plane has not confirmed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import ROOT, stop_by_pid
from node_agent.spool import Spool, SpooledEvent


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "spool.db")
    yield s
    s.close()


def ids(events: list[SpooledEvent]) -> list[str]:
    return [e.event_id for e in events]


async def test_events_survive_reopening_in_order(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "spool.db"  # the directory is created
    first = Spool(path)
    for i in range(5):
        await first.put(f"e{i}", f"payload {i}".encode())
    first.close()

    second = Spool(path)
    try:
        events = second.pending()
        assert ids(events) == [f"e{i}" for i in range(5)]
        assert [e.payload for e in events] == [f"payload {i}".encode() for i in range(5)]
        assert len(second) == 5
        # New events go after the old ones.
        await second.put("e5", b"payload 5")
        assert ids(second.pending())[-1] == "e5"
    finally:
        second.close()


async def test_sequence_numbers_are_never_reused(tmp_path: Path) -> None:
    # A sender pages with pending(after_seq=…): a new event must never sort before one it saw.
    path = tmp_path / "spool.db"
    first = Spool(path)
    await first.put("a", b"1")
    await first.put("b", b"2")
    last_seen = first.pending()[-1].seq
    first.ack(["a", "b"])
    first.close()

    second = Spool(path)
    try:
        await second.put("c", b"3")
        [event] = second.pending(after_seq=last_seen)
        assert event.event_id == "c"
        assert event.seq > last_seen
    finally:
        second.close()


async def test_duplicate_event_id_is_stored_once(spool: Spool) -> None:
    await spool.put("dup", b"first")
    await spool.put("other", b"x")
    await spool.put("dup", b"second")
    assert len(spool) == 2
    events = spool.pending()
    assert ids(events) == ["dup", "other"]
    # The first copy is kept (and keeps its place in the queue).
    assert events[0].payload == b"first"


async def test_ack_removes_exactly_the_named_ids(spool: Spool) -> None:
    for name in "abcde":
        await spool.put(name, name.encode())
    spool.ack(["b", "d", "never-spooled"])
    assert ids(spool.pending()) == ["a", "c", "e"]
    spool.ack([])
    spool.ack(iter(["a"]))  # any iterable
    assert ids(spool.pending()) == ["c", "e"]
    spool.ack(["c", "e", "c"])
    assert spool.pending() == []
    assert len(spool) == 0


async def test_bound_drops_the_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_events=3)
    try:
        for i in range(5):
            await spool.put(f"e{i}", b"")
        assert ids(spool.pending()) == ["e2", "e3", "e4"]
        assert len(spool) == 3
    finally:
        spool.close()


async def test_bound_counts_events_not_sequence_numbers(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_events=3)
    try:
        for name in "abc":
            await spool.put(name, b"")
        spool.ack(["b"])
        # Two events pending, room for a third: nothing is dropped.
        await spool.put("d", b"")
        assert ids(spool.pending()) == ["a", "c", "d"]
        # Now full: the oldest goes.
        await spool.put("e", b"")
        assert ids(spool.pending()) == ["c", "d", "e"]
    finally:
        spool.close()


def test_bound_must_allow_one_event(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_events must be at least 1"):
        Spool(tmp_path / "spool.db", max_events=0)


async def test_pending_pages(spool: Spool) -> None:
    for i in range(10):
        await spool.put(f"e{i}", b"")
    pages: list[list[str]] = []
    after = 0
    while page := spool.pending(after_seq=after, limit=4):
        pages.append(ids(page))
        after = page[-1].seq
    assert pages == [["e0", "e1", "e2", "e3"], ["e4", "e5", "e6", "e7"], ["e8", "e9"]]
    # Paging does not consume anything.
    assert len(spool) == 10


_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from node_agent.spool import Spool

    async def main() -> None:
        spool = Spool(Path(sys.argv[1]))
        i = 0
        while True:
            await spool.put(f"event-{i}", b"x" * 200)
            # Only after put() returned: this event is promised to be on disk.
            print(f"event-{i}", flush=True)
            i += 1

    asyncio.run(main())
    """
)


def test_events_survive_kill_9_of_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    confirmed: list[str] = []
    try:
        assert proc.stdout is not None
        while len(confirmed) < 300:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            confirmed.append(line.strip())
        # Killed mid-stream: it is writing the next events as the signal lands.
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        # Lines it printed between our last read and the kill were confirmed too.
        confirmed += [line.strip() for line in proc.stdout]
    finally:
        stop_by_pid(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    reopened = Spool(path)
    try:
        stored = ids(reopened.pending(limit=1_000_000))
    finally:
        reopened.close()
    # Every confirmed event, in order; at most the one in flight at the kill on top.
    assert stored[: len(confirmed)] == confirmed
    assert len(stored) - len(confirmed) in (0, 1)
