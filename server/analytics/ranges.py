"""The time range and bucket of every AnalyticsService read, checked once for all of them.

The rules are the service's (protos/camfleet/v1/analytics.proto): end after start, at most 400
days apart; a bucket of at least 1 minute, at least 1 hour when the range is longer than 30 days
(1-minute health buckets are kept 30 days), at most 10,000 buckets. Every problem is an
InvalidArgument naming the request field, all of them at once.

Buckets of a whole number of days are aligned on UTC midnights, as Grafana and Prometheus align
theirs: their boundaries fall at the Unix epoch plus a multiple of the bucket (every boundary a
UTC midnight), so a daily series holds calendar days whatever hour the range starts at, two
ranges share their buckets, and a whole day is always within one bucket (read from the daily
rollups: server/analytics/days.py). The first bucket then starts at the range's start and ends
at the first boundary after it, the last ends at the range's end: either may be partial (it
reports the seconds of its part only; its start is the range's start). Shorter buckets start at
the range's start and are `bucket` long; the last one ends at the range's end (it may be
shorter). A request without a bucket gets one bucket for the whole range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from server.errors import FieldViolation, InvalidArgument

MAX_RANGE: Final = timedelta(days=400)
MIN_BUCKET: Final = timedelta(minutes=1)
# Beyond this range only hourly data is kept for health, so no read may ask finer.
FINE_RANGE: Final = timedelta(days=30)
MIN_COARSE_BUCKET: Final = timedelta(hours=1)
MAX_BUCKETS: Final = 10_000
DAY: Final = timedelta(days=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """A checked range [start, end) cut into buckets of `bucket`: from `origin` (the range's
    start, or when `aligned` the boundary at or before it), each clipped to the range."""

    start: datetime
    end: datetime
    bucket: timedelta
    # Boundaries on the bucket's multiples since the epoch (whole-day buckets: UTC midnights).
    aligned: bool = False

    @property
    def origin(self) -> datetime:
        """Where bucket 0 would start unclipped (<= start)."""
        if not self.aligned:
            return self.start
        return _EPOCH + ((self.start - _EPOCH) // self.bucket) * self.bucket

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def bucket_seconds(self) -> float:
        return self.bucket.total_seconds()

    @property
    def count(self) -> int:
        """How many buckets."""
        return max(1, math.ceil((self.end - self.origin) / self.bucket))

    def bucket_start(self, index: int) -> datetime:
        """Where bucket `index` starts within the range (the first: the range's start)."""
        return max(self.origin + index * self.bucket, self.start)

    def bucket_starts(self) -> list[datetime]:
        return [self.bucket_start(i) for i in range(self.count)]

    def bucket_of(self, when: datetime) -> int:
        """Index of the bucket holding `when` (clamped to the window)."""
        index = (when - self.origin) // self.bucket
        return min(max(index, 0), self.count - 1)

    def bucket_end(self, index: int) -> datetime:
        return min(self.origin + (index + 1) * self.bucket, self.end)


def _describe(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds >= 86_400:
        return f"{seconds / 86_400:g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours"
    return f"{seconds:g} s"


def check_window(
    start: datetime | None,
    end: datetime | None,
    bucket: timedelta | None,
    *,
    range_field: str = "range",
    bucket_field: str = "bucket",
) -> Window:
    """The Window of a request's range and bucket (None: unset), or InvalidArgument listing every
    field to fix. A bucket longer than the range is one bucket of the range, unless it is a
    whole number of days (aligned: the range may then fall in two of them)."""
    violations: list[FieldViolation] = []
    start_field, end_field = f"{range_field}.start_time", f"{range_field}.end_time"
    if start is None:
        violations.append(FieldViolation(start_field, "is required"))
    if end is None:
        violations.append(FieldViolation(end_field, "is required"))
    span: timedelta | None = None
    if start is not None and end is not None:
        span = end - start
        if span <= timedelta(0):
            violations.append(
                FieldViolation(end_field, f"must be after {start_field} ({start.isoformat()})")
            )
            span = None
        elif span > MAX_RANGE:
            violations.append(
                FieldViolation(
                    end_field,
                    f"is {_describe(span)} after {start_field}; a range may span at most "
                    f"{MAX_RANGE.days} days",
                )
            )
            span = None
    if bucket is not None:
        problem = _bucket_problem(bucket, span)
        if problem:
            violations.append(FieldViolation(bucket_field, problem))
    if violations:
        message = "; ".join(f"{v.field} {v.description}" for v in violations)
        raise InvalidArgument(message, violations=violations)
    assert start is not None and end is not None and span is not None
    if bucket is not None and bucket % DAY == timedelta(0):
        return Window(start, end, bucket, aligned=True)
    if bucket is None or bucket > span:
        bucket = span
    return Window(start, end, bucket)


def _bucket_problem(bucket: timedelta, span: timedelta | None) -> str:
    if bucket < MIN_BUCKET:
        return f"is {_describe(bucket)}; a bucket must be at least 1 minute (or unset: one bucket)"
    if bucket.microseconds:
        return "must be a whole number of seconds"
    if span is None:
        return ""
    if span > FINE_RANGE and bucket < MIN_COARSE_BUCKET:
        return (
            f"is {_describe(bucket)}; over a range longer than {FINE_RANGE.days} days a bucket "
            f"must be at least 1 hour (finer data is kept {FINE_RANGE.days} days)"
        )
    # +1: aligned (whole-day) buckets may add a partial one at the start.
    count = math.ceil(span / bucket) + (bucket % DAY == timedelta(0))
    if count > MAX_BUCKETS:
        shortest = _describe(timedelta(seconds=math.ceil(span.total_seconds() / MAX_BUCKETS)))
        return (
            f"makes {count:,} buckets of the range; at most {MAX_BUCKETS:,}: "
            f"use a bucket of at least {shortest}"
        )
    return ""
