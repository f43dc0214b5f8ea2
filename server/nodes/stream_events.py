"""Stream events from nodes, stored exactly once by the agent's event id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import require_id
from server.db.models import StreamEventRow

STREAM_EVENTS = Listing(
    "stream_events",
    FilterSchema(fields={"camera_id": FieldSpec(StreamEventRow.camera_id, FieldKind.STRING)}),
    OrderSchema(
        fields={"time": StreamEventRow.time}, default="time desc", tiebreaker=StreamEventRow.id
    ),
)


class StreamEventStore:
    """Idempotent storage and listing of stream events."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, row: StreamEventRow) -> bool:
        """Store `row` unless its id is known; True when it was new."""
        values = {c.name: getattr(row, c.name) for c in StreamEventRow.__table__.columns}
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            result = await session.execute(
                insert(StreamEventRow)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def list(self, camera_id: str, request: ListRequest) -> Page[StreamEventRow]:
        """A camera's stream events, newest first."""
        require_id(camera_id, "camera_id")
        stmt = select(StreamEventRow).where(StreamEventRow.camera_id == camera_id)
        return await STREAM_EVENTS.page(self._sessions, stmt, request)
