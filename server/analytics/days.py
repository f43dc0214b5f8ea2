"""Which part of an analytics read comes from the daily rollups (`camera_days`,
`storage_daily`, kept by server/analytics/history/rollups.py) and which from the fine tables.

The rollups hold closed UTC days up to the rollup job's watermark (a cursor in
`history_cursors`: the first day not rolled). A read takes the whole days of its range below the
watermark from them and its edges (the partial first and last day, and the days not rolled yet,
today among them) from the fine tables, each part computed exactly as the whole range would be.
A bucketed read takes from the rollups only the days lying within one bucket; a day a bucket
boundary cuts is read from the fine tables like an edge. Buckets of whole days are aligned on
UTC midnights (server/analytics/ranges.py), so they cut no day: a daily series starting mid-day
reads its first partial day and the days not rolled from the fine tables, every other day from
the rollups. An edge of GetUptime starts from the camera's interval running at its midnight,
which the rollup of the day before keeps (camera_days.midnight_*), so it needs no lookup per
camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.analytics.ranges import Window
from server.db.models.analytics import HistoryCursorRow

DAY = timedelta(days=1)
CURSOR = "analytics_days"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Span = tuple[datetime, datetime]


def floor_day(when: datetime) -> datetime:
    return _EPOCH + ((when - _EPOCH) // DAY) * DAY


def ceil_day(when: datetime) -> datetime:
    floor = floor_day(when)
    return floor if floor == when else floor + DAY


async def rolled_until(session: AsyncSession) -> datetime | None:
    """The first day the rollups do not hold yet (None: none rolled)."""
    value = await session.scalar(
        select(HistoryCursorRow.revision).where(HistoryCursorRow.name == CURSOR)
    )
    return None if value is None else datetime.fromtimestamp(int(value), tz=UTC)


@dataclass(frozen=True)
class Split:
    """[lo, hi): `days` the whole rolled days [d0, d1) within it (None: none); `until` the
    first day not rolled (None: the rollups are not read)."""

    lo: datetime
    hi: datetime
    days: Span | None
    until: datetime | None = None

    @classmethod
    def of(cls, lo: datetime, hi: datetime, until: datetime | None) -> Split:
        if until is None or hi <= lo:
            return cls(lo, hi, None)
        d0, d1 = ceil_day(lo), min(floor_day(hi), floor_day(until))
        return cls(lo, hi, (d0, d1) if d1 > d0 else None, until)

    @property
    def edges(self) -> list[Span]:
        """The parts read from the fine tables."""
        if self.days is None:
            return [(self.lo, self.hi)] if self.hi > self.lo else []
        d0, d1 = self.days
        return [(a, b) for a, b in ((self.lo, d0), (d1, self.hi)) if b > a]


def bucketed(split: Split, window: Window) -> tuple[dict[datetime, int], list[Span]]:
    """({day: its bucket} of the rolled days lying within one bucket, the spans to read from the
    fine tables: the edges and the days a bucket boundary cuts, adjacent ones merged)."""
    inside: dict[datetime, int] = {}
    fine: list[Span] = []
    cut: list[Span] = []
    if split.days is not None:
        day, d1 = split.days
        while day < d1:
            first, last = window.bucket_of(day), window.bucket_of(day + DAY - timedelta(0, 0, 1))
            if first == last:
                inside[day] = first
            else:
                cut.append((day, day + DAY))
            day += DAY
    for lo, hi in sorted([*split.edges, *cut]):
        if fine and fine[-1][1] == lo:
            fine[-1] = (fine[-1][0], hi)
        else:
            fine.append((lo, hi))
    return inside, fine
