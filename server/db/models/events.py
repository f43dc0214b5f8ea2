"""The WatchEvents outbox and its revision counter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base
from server.db.types import UTCDateTime


class EventRow(Base):
    """One WatchEvents event, written in the transaction of the change it reports (the outbox),
    kept so a watcher can resume after a restart and relayed to Redis when that is configured.

    Revisions come from `EventCounterRow` (strictly increasing, gap-free), so the key has no
    default.
    """

    __tablename__ = "events"

    # BIGINT on PostgreSQL; INTEGER on SQLite, where only that spelling is the 64-bit rowid.
    revision: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # Set by the database, so the outbox's INSERT names only what it knows.
    create_time: Mapped[datetime] = mapped_column(
        UTCDateTime, server_default=text("CURRENT_TIMESTAMP")
    )


class EventCounterRow(Base):
    """The newest event revision handed out (one row). A transaction that writes events raises
    it by as many as it writes, just before it commits; the row lock that takes makes event
    writers commit in revision order (server/db/outbox.py says why that matters)."""

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
