"""The loop every history job runs on the leader: a step, a pause, until cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.common.tasks import raise_if_cancelling
from server.db.models.analytics import HistoryCursorRow
from server.leader.model import NotLeader

log = logging.getLogger(__name__)

Fence = Callable[[AsyncSession], Awaitable[int]]
Clock = Callable[[], datetime]
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


async def every(interval_s: float, step: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `step` every `interval_s` until cancelled (leadership lost). A failed step is logged
    and tried again next time: a database hiccup must not end the history for good."""
    while True:
        raise_if_cancelling()
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except NotLeader as exc:  # deposed: this job is about to be cancelled
            log.info("%s stopped: %s", name, exc)
        except Exception:
            raise_if_cancelling()
            log.exception("%s failed", name)
        await asyncio.sleep(interval_s)


def floor_to(when: datetime, step: timedelta) -> datetime:
    """The start of the `step`-long bucket (UTC, from the epoch) holding `when`."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((when - epoch) // step) * step


async def cursor(session: AsyncSession, name: str) -> HistoryCursorRow | None:
    """A writer's cursor, locked for this transaction where the database can (PostgreSQL)."""
    return await session.scalar(
        select(HistoryCursorRow).where(HistoryCursorRow.name == name).with_for_update()
    )


async def peek_cursor(session: AsyncSession, name: str) -> int | None:
    """A writer's cursor as committed, without a lock (to skip a write turn when idle)."""
    value = await session.scalar(
        select(HistoryCursorRow.revision).where(HistoryCursorRow.name == name)
    )
    return None if value is None else int(value)


def set_cursor(
    session: AsyncSession, row: HistoryCursorRow | None, name: str, value: int, now: datetime
) -> None:
    """Move (or create) the cursor in the caller's transaction."""
    if row is None:
        session.add(HistoryCursorRow(name=name, revision=value, update_time=now))
    else:
        row.revision = value
        row.update_time = now


def to_epoch_s(when: datetime) -> int:
    return int(when.timestamp())


def from_epoch_s(value: int) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def hour_of(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC hour a time column falls in, computed by the database (text on SQLite, a naive
    UTC timestamp on PostgreSQL, whatever the session's time zone)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", column)
    return func.date_trunc("hour", func.timezone("UTC", column))


def as_hour(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
