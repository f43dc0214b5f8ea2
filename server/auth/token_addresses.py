"""Which addresses each API token was used from (api_token_addresses), for the alert rule
"an API token used from a new address" (server/alerts/conditions/security.py).

A pair is written once (INSERT that ignores an existing row) the first time this process sees
it, in the background so the call is not delayed; the set of pairs seen is bounded.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import TokenAddressRow, utcnow

log = logging.getLogger(__name__)

# Pairs remembered per process before the memory starts over (a re-insert is harmless).
MAX_SEEN = 100_000


class TokenAddresses:
    """Records (token, address) pairs as tokens authenticate."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._seen: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def note(self, token_id: str, address: str) -> None:
        """A use of `token_id` from `address` (no-op when already recorded here)."""
        pair = (token_id, address[:64])
        if not address or pair in self._seen:
            return
        if len(self._seen) >= MAX_SEEN:
            self._seen.clear()
        self._seen.add(pair)
        task = asyncio.create_task(self._record(*pair))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, token_id: str, address: str) -> None:
        try:
            async with self._sessions.begin() as session:
                dialect = session.get_bind().dialect.name
                insert = pg_insert if dialect == "postgresql" else sqlite_insert
                now = utcnow()
                await session.execute(
                    insert(TokenAddressRow)
                    .values(token_id=token_id, address=address, first_time=now, last_time=now)
                    .on_conflict_do_nothing()
                )
        except Exception:  # the database away: seen again later, recorded then
            self._seen.discard((token_id, address))
            log.warning("could not record API token %s's address", token_id, exc_info=True)

    async def close(self) -> None:
        """Wait for pending writes."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
