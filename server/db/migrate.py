"""Apply Alembic migrations: on server start, by `python -m server migrate`, and in tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

_HERE = Path(__file__).resolve().parent
# Any constant: replicas starting together take this PostgreSQL lock so one migrates at a time.
_MIGRATION_LOCK_ID = 0x63616D66


def alembic_config() -> Config:
    """Config pointing at this package's migrations, independent of the working directory."""
    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (no-op when it already is)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
