"""GetSecurityStats: failed logins and refused calls over a range, from the audit log
(server/audit/), by user, by address and per bucket, counted by the database.

- A failed login is an `auth.login_failed` record; a denied call is a call the guard refused
  (`authn.failed`: no valid credential, `authz.denied`: not allowed) or an API token used from
  an address it may not be used from.
- The audit log coalesces floods (server/audit/log.py): a record carries in
  details["suppressed_before"] how many of its kind from that address were not written one by
  one; they are counted here, so a flood is not undercounted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics.buckets import Sql, epoch
from server.analytics.ranges import Window
from server.db.models import AuditLogRow

FAILED_LOGIN: Final = ("auth.login_failed",)
DENIED_CALL: Final = ("authn.failed", "authz.denied", "api_token.address_refused")
TOP: Final = 50


@dataclass(frozen=True)
class SecurityCount:
    key: str
    failed_logins: int
    denied_calls: int


@dataclass(frozen=True)
class SecurityBucket:
    start: datetime
    failed_logins: int
    denied_calls: int


@dataclass(frozen=True)
class SecurityStats:
    failed_logins: int
    denied_calls: int
    by_user: list[SecurityCount]
    by_address: list[SecurityCount]
    buckets: list[SecurityBucket]


def _records(sql: Sql, window: Window) -> Any:
    """(actor, address, k, failed, denied) of each record in the range, weighted by the
    records a flood suppressed before it."""
    row = AuditLogRow
    suppressed = func.coalesce(cast(row.details["suppressed_before"].as_string(), Integer), 0)
    weight = 1 + suppressed
    k = sql.floor((sql.epoch(row.time) - epoch(window.origin)) / window.bucket_seconds)
    return (
        select(
            row.actor.label("actor"),
            row.source_address.label("address"),
            k.label("k"),
            case((row.action.in_(FAILED_LOGIN), weight), else_=0).label("failed"),
            case((row.action.in_(DENIED_CALL), weight), else_=0).label("denied"),
        )
        .where(
            row.time >= window.start,
            row.time < window.end,
            row.action.in_(FAILED_LOGIN + DENIED_CALL),
        )
        .subquery("r")
    )


async def _top(session: AsyncSession, records: Any, key: Any) -> list[SecurityCount]:
    failed, denied = func.sum(records.c.failed), func.sum(records.c.denied)
    rows = await session.execute(
        select(key, failed, denied).group_by(key).order_by((failed + denied).desc(), key).limit(TOP)
    )
    return [SecurityCount(str(k or ""), int(f or 0), int(d or 0)) for k, f, d in rows.all()]


async def get_security_stats(
    sessions: async_sessionmaker[AsyncSession], window: Window
) -> SecurityStats:
    async with sessions() as session:
        records = _records(Sql(session.get_bind().dialect.name), window)
        by_bucket = await session.execute(
            select(records.c.k, func.sum(records.c.failed), func.sum(records.c.denied)).group_by(
                records.c.k
            )
        )
        failed = [0] * window.count
        denied = [0] * window.count
        for k, f, d in by_bucket.all():
            index = min(max(int(k), 0), window.count - 1)
            failed[index] += int(f or 0)
            denied[index] += int(d or 0)
        by_user = await _top(session, records, records.c.actor)
        by_address = await _top(session, records, records.c.address)
    return SecurityStats(
        sum(failed),
        sum(denied),
        by_user,
        by_address,
        [
            SecurityBucket(start, failed[i], denied[i])
            for i, start in enumerate(window.bucket_starts())
        ],
    )
