"""The audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, utcnow
from server.db.types import UTCDateTime


class AuditLogRow(Base):
    """One audit record. Append-only; the integer id orders records written in the same instant."""

    __tablename__ = "audit_logs"
    __table_args__ = (Index("ix_audit_logs_time_id", "time", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[str] = mapped_column(String(36), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    source_address: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
