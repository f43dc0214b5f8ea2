"""What both event logs share: the outbox table feeds them through a relay, watchers follow a
ring in this process, and events that belong to no transaction are appended through the table."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from sqlalchemy.ext.asyncio import AsyncEngine

from server.common.tasks import cancel_and_wait
from server.db.engine import Sessions, session_factory
from server.eventlog import table
from server.eventlog.log import StoredEvent, _Ring


class TableFedLog(ABC):
    """The relay, the ring and appends; a backend says where relayed events go (`_deliver`)
    and starts the relay (`start`)."""

    def __init__(self, engine: AsyncEngine, sessions: Sessions | None, poll_s: float) -> None:
        self._engine = engine
        # The application's sessions, so event appends take the same turns to write (SQLite).
        self._sessions = sessions or session_factory(engine)
        self._ring: _Ring | None = None
        self._appender = table.Appender(self._sessions)
        self._relay = table.TableRelay(engine, 0, self._deliver, poll_s)
        self._tasks: list[asyncio.Task[None]] = []
        self._committed = 0

    @abstractmethod
    async def _deliver(self, events: list[StoredEvent]) -> int:
        """Pass relayed events on; returns the newest revision delivered."""

    def _started(self) -> _Ring:
        if self._ring is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not called")
        return self._ring

    def committed(self, revision: int) -> None:
        """Events up to `revision` committed here: relay them now."""
        self._committed = max(self._committed, revision)
        self._relay.wake()

    def revision_here(self) -> int:
        """The newest revision this process's watchers can see (in memory, no round trip)."""
        return self._started().revision

    def committed_here(self) -> int:
        """The newest revision a transaction of this process committed (0: none yet): what a
        read after this replica's own write must see (server/cameras/cache.py)."""
        return self._committed

    async def relayed(self, revision: int) -> None:
        """Return once watchers can see `revision` (bounded: the change is committed)."""
        await self._relay.shown(self._started(), revision)

    async def append(self, kind: str, subject: str, payload: bytes) -> int:
        """Store an event in its own transaction; returns its revision once watchers see it."""
        self._started()
        return await self._appender.append(kind, subject, payload)

    async def close(self) -> None:
        """Stop the background work."""
        await cancel_and_wait(self._tasks)
