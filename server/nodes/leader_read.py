"""GetLeader's read: the leader row as stored (server/leader/ writes it).

Read straight from the table rather than from this process's own Leadership object, so every
replica answers alike: the row is what the fencing checks, whoever asks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import LeaderRow

# The one leader row of the fleet (the name server/leader/ writes under).
FLEET = "fleet"


@dataclass(frozen=True)
class LeaderInfo:
    """Who leads the fleet: replica id (empty while none leads), epoch and since when."""

    replica_id: str
    epoch: int
    since: datetime | None


LeaderReader = Callable[[], Awaitable[LeaderInfo]]


def stored_leader(sessions: async_sessionmaker[AsyncSession]) -> LeaderReader:
    """A reader of the stored leader row; no row yet reads as nobody leading, epoch 0."""

    async def read() -> LeaderInfo:
        async with sessions() as session:
            row = await session.get(LeaderRow, FLEET)
        if row is None:
            return LeaderInfo("", 0, None)
        return LeaderInfo(row.holder, row.epoch, row.since)

    return read
