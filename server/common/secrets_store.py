"""Named server-wide secrets kept in the database, so every replica signs with the same key."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import SecretRow


async def load_or_create_secret(sessions: async_sessionmaker[AsyncSession], name: str) -> bytes:
    """The secret called `name`, created (256 random bits) the first time any replica asks."""
    for _ in range(2):  # a second replica may insert between our read and our insert
        async with sessions() as session:
            row = await session.get(SecretRow, name)
        if row is not None:
            return bytes.fromhex(row.value)
        try:
            async with sessions.begin() as session:
                session.add(SecretRow(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            continue
    async with sessions() as session:
        row = await session.get(SecretRow, name)
    if row is None:
        raise RuntimeError(f"secret {name} could not be created")
    return bytes.fromhex(row.value)


async def rotate_secret(sessions: async_sessionmaker[AsyncSession], name: str) -> None:
    """Replace the secret called `name` with 256 new random bits (creating it if missing).
    Processes that loaded the old one keep it until they restart."""
    async with sessions.begin() as session:
        row = await session.get(SecretRow, name, with_for_update=True)
        if row is None:
            session.add(SecretRow(name=name, value=secrets.token_hex(32)))
        else:
            row.value = secrets.token_hex(32)
