"""GetTimeline's hourly rollup of recorded stretches (server/recordings/timeline_hours.py).

- `timeline_hours`: per camera and UTC hour ("YYYY-MM-DD HH") that a segment started in, a
  `version` that triggers on `recordings` (migration 0014) raise whenever a segment starting in
  that hour is added, removed or moved, and the version its islands were `rolled` at.
- `timeline_islands`: the islands of that hour's segments (merged as spans.py merges them), valid
  while `rolled` equals `version`. Times are microseconds since the epoch: exact, and a month
  of them loads without parsing a datetime a row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base


class TimelineHourRow(Base):
    """Whether a camera-hour's rolled islands still describe its segments."""

    __tablename__ = "timeline_hours"

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hour: Mapped[str] = mapped_column(String(13), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    # 0: never rolled.
    rolled: Mapped[int] = mapped_column(BigInteger, default=0)


class TimelineIslandRow(Base):
    """One island of the segments that started in a camera-hour: from its first segment's start
    to the latest end, with the node of its first segment and of its last-starting one."""

    __tablename__ = "timeline_islands"

    camera_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hour: Mapped[str] = mapped_column(String(13), primary_key=True)
    start_us: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    end_us: Mapped[int] = mapped_column(BigInteger)
    last_start_us: Mapped[int] = mapped_column(BigInteger)
    node_id: Mapped[str] = mapped_column(String(36))
    last_node_id: Mapped[str] = mapped_column(String(36))
