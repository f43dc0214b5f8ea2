"""Alembic migrations produce exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from harness.databases import throwaway_postgres
from server.config import sqlite_url
from server.db.engine import create_engine
from server.db.migrate import alembic_config, script_heads, upgrade_to_head
from server.db.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _check(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        await upgrade_to_head(engine)  # a second run (a restart) is a no-op
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"users", "cameras", "audit_logs", "api_tokens", "refresh_tokens"} <= tables
    finally:
        await engine.dispose()


async def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    await _check(sqlite_url(tmp_path))


async def test_migrations_match_models_on_postgres() -> None:
    with throwaway_postgres() as url:
        await _check(url)


def test_heads_read_from_the_scripts_are_alembics() -> None:
    # A start skips Alembic when the database is at these heads: they must be Alembic's own.
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert script_heads() == frozenset(heads)
    assert heads


def _downgrade_one(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, "-1")


async def test_a_database_one_revision_behind_is_upgraded(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_one)
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            assert await conn.run_sync(_diff) == []
        assert {row[0] for row in stored} == script_heads()
    finally:
        await engine.dispose()
