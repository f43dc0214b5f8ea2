"""The leader row (LeaderRow "fleet"): claimed with a new epoch by each new leader, read by
GetLeader, and read again inside every leader-only write (the fence).

Why a row next to the advisory lock: the lock says who may lead now, but a write started by a
leader that has just lost its lock (its connection dropped, it stalled) may still reach the
database. The epoch in the row, re-read in the write's own transaction, makes such a write fail:
the new leader bumped it before doing anything.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import LeaderRow, utcnow
from server.leader.model import FLEET, LeaderInfo


async def claim(sessions: async_sessionmaker[AsyncSession], replica_id: str) -> LeaderInfo:
    """Make `replica_id` the leader under a new epoch (the old one + 1; 1 for the first).
    Only the holder of the leadership lock calls this, so no two claims race. The row lock
    taken here waits for every fenced write still open under the old epoch (they read the row
    FOR SHARE): once this commits, no write of an earlier epoch can commit."""
    async with sessions.begin() as session:
        row = await session.get(LeaderRow, FLEET, with_for_update=True)
        if row is None:
            row = LeaderRow(name=FLEET, epoch=0)
            session.add(row)
        row.epoch = (row.epoch or 0) + 1
        row.holder = replica_id
        row.since = utcnow()
        return LeaderInfo(row.holder, row.epoch, row.since)


async def release(sessions: async_sessionmaker[AsyncSession], replica_id: str, epoch: int) -> None:
    """Record that nobody leads, unless a successor has already claimed the row."""
    async with sessions.begin() as session:
        await session.execute(
            update(LeaderRow)
            .where(
                LeaderRow.name == FLEET,
                LeaderRow.epoch == epoch,
                LeaderRow.holder == replica_id,
            )
            .values(holder="", since=utcnow())
        )


async def read_leader(sessions: async_sessionmaker[AsyncSession]) -> LeaderInfo:
    """The stored leader row; no row yet reads as nobody leading, epoch 0."""
    async with sessions() as session:
        row = await session.get(LeaderRow, FLEET)
    if row is None:
        return LeaderInfo("", 0, None)
    return LeaderInfo(row.holder, row.epoch, row.since)


async def current_epoch(session: AsyncSession) -> int | None:
    """The stored epoch, read FOR SHARE in the caller's transaction (None: no row yet).

    FOR SHARE, not FOR UPDATE: the leader's own fenced writes run side by side, while a new
    leader's claim (an UPDATE) waits for all of them and they, started after it, wait for it and
    then see its epoch. SQLite ignores the clause; it has one writer at a time anyway."""
    result = await session.execute(
        select(LeaderRow.epoch).where(LeaderRow.name == FLEET).with_for_update(read=True)
    )
    return result.scalar_one_or_none()
