"""One replica at a time through the seeding a first start does (the `admin` account, the first
signing key).

Replicas started together on an empty database (compose.yaml starts two) each read "nothing
yet" and each create: two `admin` rows, of which the second fails the unique username and
crashes its replica, or two signing keys. Taking this lock before the read makes the second
replica read what the first created. The migrations have their own lock (server/db/migrate.py).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Any constant other than the migration and leadership locks' ("camfleet seed" in ASCII).
_SEED_LOCK_ID = 0x63616D666C656564


async def serialize_first_start(session: AsyncSession) -> None:
    """Make the rest of `session`'s transaction run alone among the replicas seeding.

    PostgreSQL: a transaction-scoped advisory lock, released at commit or rollback. SQLite:
    the database's write lock, taken now (a write that changes nothing) instead of at the
    first insert, after the read that decided to insert; other processes wait in SQLite's
    busy handler. In both, reads after this call see what another replica committed."""
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SEED_LOCK_ID})
    else:
        await session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0"))
