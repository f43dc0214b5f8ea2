"""Storage by camera, node or tier: bytes stored now (the segment index) and bytes written per
bucket over a range (storage_hourly), with growth per hour.

Written bytes are kept per hour, so each hour's bytes fall in the bucket holding the hour's
start; buckets finer than an hour show each hour's bytes in its first bucket. Whole rolled days
come from `storage_daily` (server/analytics/days.py), for the totals and for every bucket that
holds the whole day (all of them with whole-day buckets, aligned on UTC midnights).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics.buckets import Sql, epoch
from server.analytics.days import Split, bucketed, rolled_until
from server.analytics.ranges import Window
from server.common.listing.fields import FieldKind, FieldSpec, FilterSchema
from server.common.listing.filter import compile_filter
from server.common.listing.page_token import decode_page_token, encode_page_token
from server.db.models import CameraRow, NodeRow, RecordingRow
from server.db.models.analytics import StorageDayRow, StorageHourRow
from server.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
TIERS = ("hot", "warm", "cold")
_TIER_VALUES = {t.upper(): t for t in TIERS} | {f"STORAGE_TIER_{t.upper()}": t for t in TIERS}


class Grouping(enum.StrEnum):
    CAMERA = "camera"
    NODE = "node"
    TIER = "tier"


@dataclass(frozen=True)
class StorageUse:
    key: str
    name: str
    stored_bytes: int
    segments: int
    bytes_written: int
    bytes_per_hour: float
    # (bucket start, bytes written in it), one per bucket of the range.
    buckets: list[tuple[datetime, int]] = field(default_factory=list)


@dataclass(frozen=True)
class StorageReport:
    items: list[StorageUse]
    total_stored_bytes: int
    total_bytes_per_hour: float
    next_page_token: str
    total_size: int


def _schema(camera: Any, node: Any, tier: Any) -> FilterSchema:
    return FilterSchema(
        {
            "camera_id": FieldSpec(camera, FieldKind.STRING),
            "node_id": FieldSpec(node, FieldKind.STRING),
            "tier": FieldSpec(tier, FieldKind.ENUM, _TIER_VALUES),
        }
    )


_WRITTEN = _schema(StorageHourRow.camera_id, StorageHourRow.node_id, StorageHourRow.tier)
_STORED = _schema(RecordingRow.camera_id, RecordingRow.node_id, RecordingRow.tier)
_DAILY = _schema(StorageDayRow.camera_id, StorageDayRow.node_id, StorageDayRow.tier)
_KEYS = {Grouping.CAMERA: "camera_id", Grouping.NODE: "node_id", Grouping.TIER: "tier"}


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument.for_field("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _conditions(text: str, schema: FilterSchema) -> list[ColumnElement[bool]]:
    condition = compile_filter(text, schema)
    return [] if condition is None else [condition]


async def storage(
    sessions: async_sessionmaker[AsyncSession],
    window: Window,
    group_by: Grouping,
    *,
    filter_text: str = "",
    size: int = 0,
    page_token: str = "",
    rollups: bool = True,
) -> StorageReport:
    """Every group's stored and written bytes, most stored first (then by key). The written
    totals take the range's whole rolled days from `storage_daily`, the rest from the hours
    (`rollups=False`: the hours alone, the benchmark's baseline; the same answer)."""
    limit = page_size(size)
    fingerprint = hashlib.sha256(
        f"{window.start}|{window.end}|{window.bucket}|{group_by}|{filter_text}".encode()
    ).hexdigest()[:16]
    offset = decode_page_token(page_token, fingerprint)
    stored_key = {
        Grouping.CAMERA: RecordingRow.camera_id,
        Grouping.NODE: RecordingRow.node_id,
        Grouping.TIER: RecordingRow.tier,
    }[group_by]
    async with sessions() as session:
        # One row per group for the order and the totals; the series only for the page.
        split = Split.of(window.start, window.end, await rolled_until(session) if rollups else None)
        written = await _written(session, split, group_by, filter_text)
        stored = (
            await session.execute(
                select(stored_key, func.sum(RecordingRow.size_bytes), func.count())
                .where(*_conditions(filter_text, _STORED))
                .group_by(stored_key)
            )
        ).all()
        kept = {key: (int(total or 0), int(count)) for key, total, count in stored}
        keys = sorted(set(written) | set(kept), key=lambda k: (-kept.get(k, (0, 0))[0], k))
        page = keys[offset : offset + limit]
        series = await _series(session, window, split, group_by, filter_text, page)
        names = await _names(session, group_by, page)
    hours = window.seconds / 3600.0
    starts = window.bucket_starts()
    items = []
    for key in page:
        stored_bytes, segments = kept.get(key, (0, 0))
        total = int(written.get(key) or 0)
        items.append(
            StorageUse(
                key.upper() if group_by is Grouping.TIER else key,
                names.get(key, ""),
                stored_bytes,
                segments,
                total,
                total / hours,
                list(zip(starts, series.get(key, [0] * window.count), strict=True)),
            )
        )
    more = offset + limit < len(keys)
    return StorageReport(
        items,
        sum(v[0] for v in kept.values()),
        sum(int(v or 0) for v in written.values()) / hours,
        encode_page_token(offset + limit, fingerprint) if more else "",
        len(keys),
    )


async def _written(
    session: AsyncSession, split: Split, group_by: Grouping, filter_text: str
) -> dict[str, int]:
    """Bytes written per group over the split's range: its whole rolled days' rows, and the
    hours of its edges."""
    out: dict[str, int] = {}
    parts: list[tuple[Any, Any, Any, datetime, datetime]] = [
        (StorageHourRow, StorageHourRow.hour, _WRITTEN, lo, hi) for lo, hi in split.edges
    ]
    if split.days is not None:
        parts.append((StorageDayRow, StorageDayRow.day, _DAILY, *split.days))
    for table, at, schema, lo, hi in parts:
        key = getattr(table, _KEYS[group_by])
        rows = await session.execute(
            select(key, func.sum(table.bytes_written))
            .where(at >= lo, at < hi, *_conditions(filter_text, schema))
            .group_by(key)
        )
        for k, total in rows.all():
            out[k] = out.get(k, 0) + int(total or 0)
    return out


async def _series(  # noqa: PLR0917 (the read's parts, spelled out)
    session: AsyncSession,
    window: Window,
    split: Split,
    group_by: Grouping,
    filter_text: str,
    keys: list[str],
) -> dict[str, list[int]]:
    """Bytes written per bucket of each of `keys`, bucketed by the database (a month of hours
    of 10,000 cameras is 7.2 million rows, their buckets a page's worth): the rolled days
    within one bucket from their daily rows, the other hours from the hourly rows."""
    out: dict[str, list[int]] = {k: [0] * window.count for k in keys}
    if not keys:
        return out
    inside, fine = bucketed(split, window)
    sql = Sql(session.get_bind().dialect.name)
    h, d = StorageHourRow, StorageDayRow
    key = getattr(h, _KEYS[group_by])
    if fine:
        # A millisecond's nudge: SQLite's julianday leaves an hour's start microseconds short.
        offset = sql.epoch(h.hour) - epoch(window.origin) + 0.001
        index = sql.floor(offset / window.bucket_seconds).label("bucket")
        # A SELECT per stretch (an OR of stretches is no index condition: coverage_parts).
        for lo, hi in fine:
            rows = await session.execute(
                select(key, index, func.sum(h.bytes_written))
                .where(
                    h.hour >= lo, h.hour < hi, key.in_(keys), *_conditions(filter_text, _WRITTEN)
                )
                .group_by(key, index)
            )
            for k, bucket, total in rows:
                out[k][min(max(int(bucket), 0), window.count - 1)] += int(total or 0)
    if inside and split.days is not None:
        day_key = getattr(d, _KEYS[group_by])
        rows = await session.execute(
            select(day_key, d.day, func.sum(d.bytes_written))
            .where(
                d.day >= split.days[0],
                d.day < split.days[1],
                day_key.in_(keys),
                *_conditions(filter_text, _DAILY),
            )
            .group_by(day_key, d.day)
        )
        for k, day, total in rows:
            at = inside.get(day)
            if at is not None:
                out[k][at] += int(total or 0)
    return out


async def _names(session: AsyncSession, group_by: Grouping, keys: list[str]) -> dict[str, str]:
    if group_by is Grouping.TIER:
        return {k: k.upper() for k in keys}
    table: Any = CameraRow if group_by is Grouping.CAMERA else NodeRow
    rows = await session.execute(select(table.id, table.name).where(table.id.in_(keys)))
    return {str(key): str(name) for key, name in rows.all()}
