"""Apply Alembic migrations: on server start, by `python -m server migrate`, and in tests."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

_HERE = Path(__file__).resolve().parent
# Any constant: replicas starting together take this PostgreSQL lock so one migrates at a time.
_MIGRATION_LOCK_ID = 0x63616D66
_REVISION = re.compile(r"^revision(?:: *[\w |]+)? *= *[\"'](\w+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:: *[\w |\[\],]+)? *= *(.+)$", re.MULTILINE)


def alembic_config() -> Config:
    """Config pointing at this package's migrations, independent of the working directory."""
    from alembic.config import Config

    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


@functools.cache
def script_heads() -> frozenset[str]:
    """The head revisions of the migration scripts, read from their `revision` and
    `down_revision` lines (empty when a script does not say them plainly)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (_HERE / "migrations" / "versions").glob("*.py"):
        source = script.read_text()
        if (revision := _REVISION.search(source)) is None:
            continue
        down = _DOWN_REVISION.search(source)
        if down is None:
            return frozenset()
        revisions.add(revision.group(1))
        parents.update(re.findall(r"[\"'](\w+)[\"']", down.group(1)))
    return frozenset(revisions - parents)


async def _stored_heads(engine: AsyncEngine) -> frozenset[str] | None:
    """The revisions the database is at; None when it has no version table yet."""
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(str(row[0]) for row in rows)
    except DBAPIError:
        return None


def _upgrade(connection: Connection) -> None:
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (no-op when it already is)."""
    # A database already at head (every start but the first after an upgrade) is told by one
    # query: Alembic's machinery costs ~0.5 s of CPU to import and to read the scripts.
    heads = script_heads()
    if heads and await _stored_heads(engine) == heads:
        return
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
