"""The retention-aware forecast of each node's disk.

Each camera writing to the disk grows at its rate r (bytes per hour written over the window,
storage_hourly) until its retention deletes as fast as it writes: its steady size is
r * max age, or its byte cap, whichever is smaller (no retention: it grows until the disk is
full). The recordings may use the disk's recordings plus its free space less the free-space
floor (the agent deletes the oldest segments below it).

- RETENTION_MET: every camera has a steady size and their sum fits: usage levels off there.
- FILLS_UP: otherwise. Days until full: the time until the growth of every camera, each capped
  at its steady size (from what it stores now), uses the free space above the floor, solved
  exactly on the piecewise-linear sum. Achievable retention: the space ÷ the total rate.
- UNKNOWN: less than an hour of writes measured, or no disk reading yet.

The floor is the storage settings' free-space floor, which every agent applies (its
--min-free-bytes is only the first-start default): `floor_in_force`. A camera's retention is its
own (max age, max bytes); the recording settings' default retention is what a new camera is
given, so a camera without one has none, as its agent keeps it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics.history.loop import HOUR, floor_to
from server.db.engine import Sessions
from server.db.models import CameraRow, NodeRow, RecordingRow
from server.db.models.analytics import DiskSampleRow, StorageHourRow
from server.errors import InvalidArgument, NotFound
from server.settings.store import SettingsStore

DEFAULT_FLOOR_BYTES = 1 << 30
DEFAULT_WINDOW = timedelta(hours=24)
MIN_WINDOW = timedelta(hours=1)
MAX_WINDOW = timedelta(days=30)


class Verdict(enum.StrEnum):
    RETENTION_MET = "retention_met"
    FILLS_UP = "fills_up"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CameraForecast:
    camera_id: str
    camera_name: str
    bytes_per_hour: float
    retention_s: float | None  # None: no retention
    steady_bytes: int | None  # None: grows until the disk is full


@dataclass(frozen=True)
class NodeForecast:
    node_id: str
    node_name: str
    tier: str
    total_bytes: int
    free_bytes: int
    floor_bytes: int
    recordings_bytes: int
    bytes_per_hour: float
    verdict: Verdict
    plateau_bytes: int = 0
    days_until_full: float = 0.0
    achievable_retention_s: float = 0.0
    summary: str = ""
    cameras: list[CameraForecast] = field(default_factory=list)


@dataclass(frozen=True)
class _Span:
    """The whole hours the rates are measured over, and the disk's floor."""

    start: datetime
    end: datetime
    floor: int


@dataclass(frozen=True)
class Growth:
    """One camera on the disk: rate (bytes/h), bytes stored now, steady size (None: none)."""

    rate: float
    stored: int
    steady: float | None


async def floor_in_force(sessions: async_sessionmaker[AsyncSession]) -> int:
    """The free space the agents keep on each recordings disk, as the settings say now."""
    if not isinstance(sessions, Sessions):
        return DEFAULT_FLOOR_BYTES
    return (await SettingsStore(sessions).load()).storage.free_space_floor_bytes


def _utc(value: datetime) -> datetime:
    # An aggregate's value skips the column type: SQLite gives back its naive UTC text form.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def check_window(window: timedelta | None) -> timedelta:
    if window is None:
        return DEFAULT_WINDOW
    if window < MIN_WINDOW or window > MAX_WINDOW:
        raise InvalidArgument.for_field(
            "window", "must be at least 1 hour and at most 30 days (unset: 24 hours)"
        )
    return window


def hours_until_full(growths: list[Growth], room: float) -> float:
    """Hours until the cameras' summed growth (each stopping at its steady size) reaches `room`
    bytes; math.inf if it never does."""
    if room <= 0:
        return 0.0
    # Each camera grows at its rate until it plateaus at hour t_c.
    stops = []
    rate = 0.0
    for g in growths:
        if g.rate <= 0:
            continue
        rate += g.rate
        if g.steady is not None:
            stops.append((max(0.0, (g.steady - g.stored) / g.rate), g.rate))
    stops.sort()
    t, used = 0.0, 0.0
    for stop, r in stops:
        if rate > 0 and used + rate * (stop - t) >= room:
            return t + (room - used) / rate
        used += rate * (stop - t)
        t = stop
        rate -= r
    if rate <= 1e-12:
        return math.inf
    return t + (room - used) / rate


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _duration(seconds: float) -> str:
    days = seconds / 86_400
    return f"{days:.1f} days" if days >= 1 else f"{seconds / 3600:.1f} hours"


def judge(
    growths: list[Growth], total: int, free: int, floor: int, recordings: int
) -> tuple[Verdict, int, float, float, str]:
    """(verdict, plateau bytes, days until full, achievable retention s, summary)."""
    rate = sum(g.rate for g in growths)
    space = recordings + free - floor
    steadies = [g.steady for g in growths if g.rate > 0]
    if all(s is not None for s in steadies):
        plateau = int(sum(s for s in steadies if s is not None))
        if plateau <= space:
            summary = (
                f"Retention met: usage levels off at {_size(plateau)} of {_size(total)}."
                if rate > 0
                else f"Retention met: nothing is being written; {_size(recordings)} stored."
            )
            return Verdict.RETENTION_MET, plateau, 0.0, 0.0, summary
    hours = hours_until_full(growths, free - floor)
    days = hours / 24 if math.isfinite(hours) else 0.0
    achievable = max(0.0, space) / rate * 3600 if rate > 0 else 0.0
    when = (
        f"Fills up in {days:.1f} days"
        if free > floor
        else "Full: free space is down to the floor, the oldest recordings are being deleted"
    )
    summary = (
        f"{when} at {_size(rate)}/h; the disk holds {_duration(achievable)} of recordings at "
        "this rate."
    )
    return Verdict.FILLS_UP, 0, days, achievable, summary


async def forecast(
    sessions: async_sessionmaker[AsyncSession],
    node_id: str,
    window: timedelta,
    now: datetime,
    *,
    floor_bytes: int = DEFAULT_FLOOR_BYTES,
) -> list[NodeForecast]:
    """The forecast of every node's disks (or `node_id`'s: NotFound if there is none)."""
    end = floor_to(now, HOUR)  # whole hours only: the current one is still being written
    start = end - window
    async with sessions() as session:
        nodes_q = select(NodeRow.id, NodeRow.name).order_by(NodeRow.name)
        if node_id:
            nodes_q = nodes_q.where(NodeRow.id == node_id)
        nodes = (await session.execute(nodes_q)).all()
        if node_id and not nodes:
            raise NotFound(f"node {node_id} does not exist")
        return [
            f
            for nid, name in nodes
            for f in await _node(session, nid, name, _Span(start, end, floor_bytes))
        ]


async def _node(session: AsyncSession, node_id: str, name: str, span: _Span) -> list[NodeForecast]:
    floor = span.floor
    newest = (
        select(DiskSampleRow.tier, func.max(DiskSampleRow.hour).label("hour"))
        .where(DiskSampleRow.node_id == node_id)
        .group_by(DiskSampleRow.tier)
        .subquery()
    )
    disks = (
        await session.scalars(
            select(DiskSampleRow)
            .join(
                newest,
                (DiskSampleRow.tier == newest.c.tier) & (DiskSampleRow.hour == newest.c.hour),
            )
            .where(DiskSampleRow.node_id == node_id)
        )
    ).all()
    if not disks:
        return [
            NodeForecast(
                node_id,
                name,
                "hot",
                0,
                0,
                floor,
                0,
                0.0,
                Verdict.UNKNOWN,
                summary="No disk reading from this node yet.",
            )
        ]
    return [await _disk(session, name, d, span) for d in disks]


async def _disk(session: AsyncSession, name: str, disk: DiskSampleRow, span: _Span) -> NodeForecast:
    node_id, start, end, floor = disk.node_id, span.start, span.end, span.floor
    written = (
        await session.execute(
            select(
                StorageHourRow.camera_id,
                func.min(StorageHourRow.hour),
                func.sum(StorageHourRow.bytes_written),
            )
            .where(
                StorageHourRow.node_id == node_id,
                StorageHourRow.tier == disk.tier,
                StorageHourRow.hour >= start,
                StorageHourRow.hour < end,
            )
            .group_by(StorageHourRow.camera_id)
        )
    ).all()
    base = (
        disk.node_id,
        disk.tier,
        disk.total_bytes,
        disk.free_bytes,
        floor,
        disk.recordings_bytes,
    )
    if not written:
        verdict, plateau, days, achievable, summary = judge(
            [], disk.total_bytes, disk.free_bytes, floor, disk.recordings_bytes
        )
        return NodeForecast(
            base[0], name, *base[1:], 0.0, verdict, plateau, days, achievable, summary
        )
    first = min(_utc(hour) for _, hour, _ in written)
    hours = (end - first) / HOUR  # measured since writes began, at most the window
    if hours < 1:
        return NodeForecast(
            base[0],
            name,
            *base[1:],
            0.0,
            Verdict.UNKNOWN,
            summary="Less than an hour of writes measured.",
        )
    per_camera = {camera_id: int(size or 0) for camera_id, _, size in written}
    cameras = {
        c.id: c
        for c in await session.scalars(select(CameraRow).where(CameraRow.id.in_(per_camera)))
    }
    stored = dict(
        (
            await session.execute(
                select(RecordingRow.camera_id, func.sum(RecordingRow.size_bytes))
                .where(
                    RecordingRow.node_id == node_id,
                    RecordingRow.tier == disk.tier,
                    RecordingRow.camera_id.in_(per_camera),
                )
                .group_by(RecordingRow.camera_id)
            )
        ).all()
    )
    growths: list[Growth] = []
    out: list[CameraForecast] = []
    for camera_id, size in sorted(per_camera.items()):
        camera = cameras.get(camera_id)
        if camera is None:  # deleted: it writes no more
            continue
        rate = size / hours
        retention = float(camera.retention_max_age_s) or None
        steady: float | None = None
        if retention is not None:
            steady = rate * retention / 3600
        if camera.retention_max_bytes:
            steady = min(steady or math.inf, float(camera.retention_max_bytes))
        growths.append(Growth(rate, int(stored.get(camera_id) or 0), steady))
        out.append(
            CameraForecast(
                camera_id, camera.name, rate, retention, None if steady is None else int(steady)
            )
        )
    verdict, plateau, days, achievable, summary = judge(
        growths, disk.total_bytes, disk.free_bytes, floor, disk.recordings_bytes
    )
    return NodeForecast(
        base[0],
        name,
        *base[1:],
        sum(g.rate for g in growths),
        verdict,
        plateau,
        days,
        achievable,
        summary,
        out,
    )
