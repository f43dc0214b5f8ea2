"""Placement decisions and the fleet's leader."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, utcnow
from server.db.types import UTCDateTime


class PlacementRow(Base):
    """One placement decision: a camera put on, moved to or taken off a node, and why."""

    __tablename__ = "placements"
    __table_args__ = (Index("ix_placements_camera_time", "camera_id", "time"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    camera_id: Mapped[str] = mapped_column(String(36))
    from_node_id: Mapped[str] = mapped_column(String(36), default="")
    to_node_id: Mapped[str] = mapped_column(String(36), default="")
    # placed, node_lost, drain, rebalance, selector, unplaced, published, handover_done
    reason: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text, default="")
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeaderRow(Base):
    """The fleet's leader (server/leader/): who runs the singleton jobs, under which epoch.
    Every leader-only write checks the epoch in its own transaction, so a deposed leader's
    writes fail."""

    __tablename__ = "leader"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
