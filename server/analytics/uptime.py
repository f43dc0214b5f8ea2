"""GetUptime: how long each camera (and the fleet) was ONLINE over a range, per bucket, and its
outages, summed by the database over `state_intervals` (server/db/models/analytics.py).

- Intervals are clipped to the range, to now (an open interval lasts until now) and to the
  camera's creation: time before a camera existed, or that nobody knows about, is not counted.
  uptime = seconds ONLINE ÷ seconds known (1 when nothing is known).
- An outage is a stretch of intervals not ONLINE (offline, connecting, error in a row are one
  outage) that began within the range; its length is clipped to the range's end (and now).
  MTBF is the seconds up ÷ outages.
- Everything is set-based: a handful of statements whatever the number of cameras, bucketed
  with buckets.spread; per-camera buckets only for the cameras of the page. Whole closed days
  come from the daily rollups (`camera_days`), the edges from the intervals
  (server/analytics/uptime_parts.py, days.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.analytics import selection
from server.analytics.days import Split, rolled_until
from server.analytics.ranges import Window
from server.analytics.uptime_parts import Sums, camera_sums, series
from server.analytics.uptime_sql import Frame
from server.common.listing import OrderSchema
from server.common.listing.order_by import order_terms
from server.db.models import CameraRow, utcnow


@dataclass(frozen=True)
class Outages:
    count: int = 0
    total_s: float = 0.0
    longest_s: float = 0.0


@dataclass(frozen=True)
class UptimeBucket:
    start: datetime
    up_s: float
    known_s: float

    @property
    def down_s(self) -> float:
        return max(0.0, self.known_s - self.up_s)

    @property
    def uptime(self) -> float:
        return ratio(self.up_s, self.known_s)


@dataclass(frozen=True)
class CameraUptime:
    camera_id: str
    name: str
    up_s: float
    known_s: float
    outages: Outages
    buckets: list[UptimeBucket] = field(default_factory=list)

    @property
    def down_s(self) -> float:
        return max(0.0, self.known_s - self.up_s)

    @property
    def uptime(self) -> float:
        return ratio(self.up_s, self.known_s)


@dataclass(frozen=True)
class UptimeReport:
    fleet: CameraUptime
    cameras: list[CameraUptime]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class UptimeQuery:
    window: Window
    filter: str = ""
    order_by: str = ""
    page_size: int = 0
    page_token: str = ""


def ratio(part: float, whole: float) -> float:
    """part ÷ whole within 0-1, 1 when there is no whole."""
    return 1.0 if whole <= 0 else min(1.0, max(0.0, part / whole))


def mtbf_s(up_s: float, outages: Outages) -> float | None:
    return up_s / outages.count if outages.count else None


# order_by is checked by the listing machinery; the sort itself is done here (_sort).
ORDER = OrderSchema(
    fields={"uptime": CameraRow.id, "outages": CameraRow.id, "name": CameraRow.name_key},
    default="uptime",
    tiebreaker=CameraRow.id,
)


def _sort(cameras: list[CameraUptime], terms: list[tuple[str, bool]]) -> None:
    """Stable sorts from the last term to the first, the id first of all (the tiebreaker)."""
    cameras.sort(key=lambda c: c.camera_id)
    keys = {
        "name": lambda c: c.name.lower(),
        "outages": lambda c: c.outages.count,
        "uptime": lambda c: c.uptime,
    }
    for name, desc in reversed(terms):
        cameras.sort(key=keys[name], reverse=desc)


def _buckets(f: Frame, series: dict[str, list[float]] | None) -> list[UptimeBucket]:
    starts = f.window.bucket_starts()
    if series is None:
        return [UptimeBucket(s, 0.0, 0.0) for s in starts]
    return [UptimeBucket(s, series["up"][i], series["known"][i]) for i, s in enumerate(starts)]


async def get_uptime(
    sessions: async_sessionmaker[AsyncSession],
    query: UptimeQuery,
    *,
    now: datetime | None = None,
    rollups: bool = True,
    whole_fleet: bool = False,
) -> UptimeReport:
    """One page of cameras (worst uptime first by default) and the fleet's figures. The
    database sums every camera's whole days (rollups) and edges (intervals) in a few
    statements; the cameras (10,000 rows) are ordered and paged here. `rollups=False` reads
    the intervals alone (the benchmark's baseline; the answer is the same); `whole_fleet`
    answers every camera on one page (for reports; not reachable through the API)."""
    condition = selection.camera_condition(query.filter)
    size = selection.page_size(query.page_size)
    terms = order_terms(query.order_by, ORDER, "order_by")
    print_ = selection.fingerprint("uptime", query.window, (query.filter.strip(), repr(terms)))
    offset = selection.page_offset(query.page_token, print_)
    async with sessions() as session:
        await selection.require_named_cameras(session, query.filter)
        f = Frame.of(session, query.window, now or utcnow())
        split = Split.of(f.lo, f.end, await rolled_until(session) if rollups else None)
        listed = select(CameraRow.id, CameraRow.name)
        if condition is not None:
            listed = listed.where(condition)
        names = (await session.execute(listed)).all()
        found = await camera_sums(session, f, split, condition)
        cameras = []
        for camera_id, name in names:
            s = found.get(camera_id) or Sums()
            outs = Outages(s.n, s.total, s.longest)
            cameras.append(CameraUptime(camera_id, name, s.up, s.known, outs))
        _sort(cameras, terms)
        if whole_fleet:  # every camera on one page (reports: one pass over the fleet)
            offset, size = 0, max(1, len(cameras))
        page = cameras[offset : offset + size]
        many = f.window.count > 1
        ids = [c.camera_id for c in page]
        per_camera = await series(session, f, split, condition, ids) if many and ids else {}
        fleet_series = (await series(session, f, split, condition, None)).get(()) if many else None
    up = sum(c.up_s for c in cameras)
    known = sum(c.known_s for c in cameras)
    fleet_outages = Outages(
        sum(c.outages.count for c in cameras),
        sum(c.outages.total_s for c in cameras),
        max((c.outages.longest_s for c in cameras), default=0.0),
    )
    out = []
    for c in page:
        buckets = (
            _buckets(f, per_camera.get((c.camera_id,)))
            if many
            else [UptimeBucket(f.window.start, c.up_s, c.known_s)]
        )
        out.append(CameraUptime(c.camera_id, c.name, c.up_s, c.known_s, c.outages, buckets))
    fleet_buckets = _buckets(f, fleet_series) if many else [UptimeBucket(f.window.start, up, known)]
    fleet = CameraUptime("", "", up, known, fleet_outages, fleet_buckets)
    total = len(cameras)
    return UptimeReport(fleet, out, selection.next_token(offset, size, total, print_), total)
