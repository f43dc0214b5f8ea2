"""The platform's settings (server/settings/): one row per group holding its values and version,
and the history of every change (who, when, each field before and after; secrets masked)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, utcnow
from server.db.types import UTCDateTime


class SettingsGroupRow(Base):
    """One settings group in force. `version` is the optimistic-concurrency token: an update
    writes only where the version it read is still there."""

    __tablename__ = "settings_groups"

    # streaming, recording, storage, security, notifications
    group: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The group's fields by name (secrets included: only the server reads this table).
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class SettingsHistoryRow(Base):
    """One change of one group. Append-only; the integer id orders changes."""

    __tablename__ = "settings_history"
    __table_args__ = (Index("ix_settings_history_group_id", "group", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    group: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200), default="")
    change_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # [{"field": ..., "before": ..., "after": ...}], values as shown to people (secrets masked).
    changes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
