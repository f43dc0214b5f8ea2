"""On-disk spool of events the control plane has not confirmed yet.

Every event is written here before it is sent and deleted only when the control plane's
EventAck names it, so a control plane (or agent) that dies mid-flight loses nothing; the
control plane stores events by id, so a replay never duplicates. SQLite in WAL mode: a crash
of the agent cannot leave a half-written record.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class SpooledEvent:
    """One undelivered event: its id and serialized message."""

    seq: int
    event_id: str
    payload: bytes


class Spool:
    """A durable FIFO of serialized events keyed by event id."""

    def __init__(self, path: Path, max_events: int = 1_000_000) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self._max = max_events

    def _put(self, event_id: str, payload: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO events(event_id, payload, created) VALUES (?, ?, ?)",
                (event_id, payload, time.time()),
            )
            # Bounded: a node cut off for weeks drops its oldest events rather than its disk.
            # Counted in rows, not seq numbers: acks leave gaps in seq.
            self._db.execute(
                "DELETE FROM events WHERE seq <= "
                "(SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (self._max,),
            )

    async def put(self, event_id: str, payload: bytes) -> None:
        """Keep an event until it is acknowledged (a second put of the same id is ignored)."""
        await asyncio.to_thread(self._put, event_id, payload)

    def pending(self, after_seq: int = 0, limit: int = 500) -> list[SpooledEvent]:
        """Unacknowledged events, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [SpooledEvent(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def ack(self, event_ids: Iterable[str]) -> None:
        """Forget events the control plane has stored."""
        ids = list(event_ids)
        if not ids:
            return
        with self._lock:
            self._db.executemany("DELETE FROM events WHERE event_id = ?", [(i,) for i in ids])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def close(self) -> None:
        """Close the database (everything is already on disk)."""
        with self._lock:
            self._db.close()
