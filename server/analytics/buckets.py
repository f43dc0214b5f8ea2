"""Time arithmetic in SQL, alike on SQLite and PostgreSQL, and the set-based spread of
intervals over buckets that every bucketed analytics read uses.

Times become seconds since the Unix epoch in SQL (SQLite keeps them as text: julianday), and
then offsets from the range's start, so clipping is least/greatest of plain numbers.

`spread` sums per-second values of intervals per bucket without joining a table of buckets
(intervals x buckets is 1.2 M x 720 comparisons for a month of hourly buckets): grouped by their
first and last bucket, the intervals' counts and sums of start and end give each bucket's
seconds exactly (`totals`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    cast,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.sql.expression import FromClause

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIX_JULIAN_DAY = 2440587.5


def epoch(when: datetime) -> float:
    """Seconds since the Unix epoch of an aware datetime."""
    return (when - _EPOCH).total_seconds()


@dataclass(frozen=True)
class Sql:
    """The few expressions that differ between the two backends."""

    dialect: str

    def epoch(self, column: Any) -> ColumnElement[float]:
        """Seconds since the Unix epoch of a time column."""
        if self.dialect == "sqlite":
            return (func.julianday(column) - _UNIX_JULIAN_DAY) * 86_400.0
        return cast(extract("epoch", column), Float)

    def greatest(self, *values: Any) -> ColumnElement[float]:
        return (func.max if self.dialect == "sqlite" else func.greatest)(*values)

    def least(self, *values: Any) -> ColumnElement[float]:
        return (func.min if self.dialect == "sqlite" else func.least)(*values)

    def floor(self, value: Any) -> ColumnElement[int]:
        """floor() of a non-negative number (SQLite's CAST truncates, which is floor there)."""
        if self.dialect == "sqlite":
            return cast(value, Integer)
        return cast(func.floor(value), Integer)


def spread(
    sql: Sql,
    intervals: FromClause,
    keys: Sequence[str],
    values: Sequence[str],
    bucket_s: float,
) -> Select[Any]:
    """Per (keys..., first bucket ks, last bucket ke) of the intervals of `intervals` (columns
    `s` < `e`: offsets in seconds from the range's start, clipped to it; value columns: a
    weight per second): for each value v, n_v = SUM(v), s_v = SUM(s*v), e_v = SUM(e*v). An
    interval's seconds in each bucket are linear in s and e, so these sums are all `totals`
    needs: one pass, and as many rows as there are distinct (ks, ke), not intervals."""
    c = intervals.c
    b = literal(float(bucket_s), Float)
    ks = sql.floor(c.s / b)
    ke = sql.floor(c.e / b)
    columns: list[Any] = [c[name] for name in keys]
    columns += [ks.label("ks"), ke.label("ke")]
    for name in values:
        v = c[name]
        columns += [
            func.sum(v).label(f"n_{name}"),
            func.sum(c.s * v).label(f"s_{name}"),
            func.sum(c.e * v).label(f"e_{name}"),
        ]
    return select(*columns).group_by(*(c[name] for name in keys), ks, ke)


def totals(
    rows: Iterable[Any], keys: Sequence[str], values: Sequence[str], count: int, bucket_s: float
) -> dict[tuple[Any, ...], dict[str, list[float]]]:
    """{(keys...): {value: [sum per bucket]}} from the rows of `spread`."""
    b = bucket_s
    out: dict[tuple[Any, ...], dict[str, list[float]]] = {}
    for row in rows:
        key = tuple(getattr(row, name) for name in keys)
        ks, ke = int(row.ks), int(row.ke)
        for name in values:
            series = out.setdefault(key, {}).setdefault(name, [0.0] * count)
            n = float(getattr(row, f"n_{name}") or 0.0)
            s_sum = float(getattr(row, f"s_{name}") or 0.0)
            e_sum = float(getattr(row, f"e_{name}") or 0.0)
            if ks == ke:
                if ks < count:
                    series[ks] += e_sum - s_sum
                continue
            if ks < count:
                series[ks] += (ks + 1) * b * n - s_sum
            if ke < count:  # an interval ending exactly at the range's end has nothing after
                series[ke] += e_sum - ke * b * n
            for k in range(ks + 1, min(ke, count)):
                series[k] += b * n
    return out
