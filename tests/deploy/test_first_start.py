"""Replicas starting together on an empty database (compose.yaml starts two): the first-start
seeding creates exactly one `admin` and one signing key, and no replica fails doing it.

Each replica here has its own engine (its own connections), as separate processes would, and
they run the seeding at the same moment on PostgreSQL and on one SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from harness.databases import throwaway_postgres
from server.auth.access_tokens import SigningKeys
from server.auth.cache import AuthCache
from server.auth.passwords import verify_password
from server.auth.users import UserService
from server.config import sqlite_url
from server.db.engine import create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import AuditLogRow, SigningKeyRow, UserRow

REPLICAS = 4


@pytest.fixture(params=["postgres", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        with throwaway_postgres("first_start") as url:
            yield url
    else:
        yield sqlite_url(tmp_path)


@pytest.fixture
async def engines(empty_database: str) -> AsyncIterator[list[AsyncEngine]]:
    made = [create_engine(empty_database, pool_size=2) for _ in range(REPLICAS)]
    try:
        await upgrade_to_head(made[0])
        yield made
    finally:
        for engine in made:
            await engine.dispose()


async def _count(engine: AsyncEngine, model: type, *where: ColumnElement[bool]) -> int:
    async with session_factory(engine)() as session:
        counted = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(counted or 0)


async def test_replicas_starting_together_create_one_admin(engines: list[AsyncEngine]) -> None:
    services = [UserService(session_factory(e), AuthCache()) for e in engines]
    # An empty password: each replica would generate one, and only the creator may print it.
    generated = await asyncio.gather(*(s.ensure_admin("") for s in services))
    made = [g for g in generated if g is not None]
    assert len(made) == 1, generated
    assert await _count(engines[0], UserRow) == 1
    assert await _count(engines[0], UserRow, UserRow.username == "admin") == 1
    assert await _count(engines[0], AuditLogRow, AuditLogRow.action == "user.create") == 1
    # The password printed is the one stored.
    async with session_factory(engines[0])() as session:
        admin = await session.scalar(select(UserRow))
    assert admin is not None
    assert await verify_password(admin.password_hash, made[0])


async def test_replicas_starting_together_share_one_signing_key(
    engines: list[AsyncEngine],
) -> None:
    keys = [SigningKeys(session_factory(e)) for e in engines]
    await asyncio.gather(*(k.load() for k in keys))
    assert await _count(engines[0], SigningKeyRow) == 1
    # Every replica signs with that key, and verifies the others' tokens.
    tokens = [(await k.issue("u1", "s1", timedelta(minutes=5)))[0] for k in keys]
    assert len({jwt.get_unverified_header(t)["kid"] for t in tokens}) == 1
    for verifier in keys:
        for token in tokens:
            assert (await verifier.verify(token)).user_id == "u1"
