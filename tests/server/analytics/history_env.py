"""Helpers of the history, storage, forecast and health tests: a migrated database of its own
per test on each backend, with the real event log, publisher and leadership (the writers'
fence), presence as the control plane runs it (in process on SQLite, Redis on PostgreSQL), a
clock the test moves, and rows made the way the fleet writes them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import selectinload

from server.cameras.model import ChangeKind
from server.db.engine import Sessions
from server.db.models import CameraRow, NodeRow, RecordingRow, new_id
from server.eventlog.sql_log import SqlEventLog
from server.events.publisher import EventPublisher
from server.leader.leadership import Leadership
from server.nodes.presence import Presence
from tests.support.leader_backing import leader_backing

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


@dataclass
class Env:
    backend: str
    engine: AsyncEngine
    sessions: Sessions
    events: SqlEventLog
    leadership: Leadership
    presence: Presence
    clock: Clock

    @property
    def publisher(self) -> EventPublisher:
        return EventPublisher(self.events)

    async def new_leader(self) -> Leadership:
        """The leader steps down and another takes over (a new epoch)."""
        await self.leadership.close()
        self.leadership = Leadership.for_engine(self.engine, self.sessions)
        await self.leadership.start()
        await self.leadership.wait_leading()
        return self.leadership

    async def node(self, name: str) -> str:
        node_id = new_id()
        async with self.sessions.begin() as session:
            session.add(
                NodeRow(
                    id=node_id,
                    name=name,
                    name_key=name.lower(),
                    credential_hash=secrets.token_hex(32),
                    state="ready",
                    state_changed_at=self.clock.now,
                )
            )
        return node_id

    async def camera(self, name: str, **fields: object) -> str:
        """A camera created now, its CREATED event staged with it (as CameraService does)."""
        camera_id = new_id()
        async with self.sessions.begin() as session:
            row = CameraRow(
                id=camera_id,
                name=name,
                name_key=name.lower(),
                stream_key=secrets.token_hex(16),
                status="offline",
                status_changed_at=self.clock.now,
                labels=[],
                **fields,
            )
            session.add(row)
            await session.flush()
            self.publisher.camera_changed(session, ChangeKind.CREATED, row, "created")
        return camera_id

    async def set_status(self, camera_id: str, status: str) -> None:
        """The camera's status changes now, with its event (as the status writer does)."""
        async with self.sessions.begin() as session:
            row = await session.get_one(
                CameraRow, camera_id, options=[selectinload(CameraRow.labels)]
            )
            row.status, row.status_changed_at = status, self.clock.now
            await session.flush()
            self.publisher.camera_changed(session, ChangeKind.STATUS_CHANGED, row, status)

    async def delete_camera(self, camera_id: str) -> None:
        async with self.sessions.begin() as session:
            row = await session.get_one(
                CameraRow, camera_id, options=[selectinload(CameraRow.labels)]
            )
            self.publisher.camera_changed(session, ChangeKind.DELETED, row, "deleted")
            await session.delete(row)

    async def segments(
        self,
        camera_id: str,
        node_id: str,
        start_s: float,
        end_s: float,
        *,
        length_s: float = 60.0,
        size: int = 1000,
        tier: str = "hot",
    ) -> list[RecordingRow]:
        """Segments of `length_s` covering [T0+start_s, T0+end_s), each `size` bytes."""
        rows = []
        t = start_s
        while t < end_s:
            upto = min(t + length_s, end_s)
            rows.append(
                RecordingRow(
                    id=new_id(),
                    camera_id=camera_id,
                    node_id=node_id,
                    start_time=T0 + timedelta(seconds=t),
                    end_time=T0 + timedelta(seconds=upto),
                    duration_s=upto - t,
                    size_bytes=size,
                    tier=tier,
                )
            )
            t = upto
        async with self.sessions.begin() as session:
            session.add_all(rows)
        return rows


@asynccontextmanager
async def environment(backend: str, tmp: Path) -> AsyncIterator[Env]:
    """A fresh migrated database on `backend` with the event log and a won leadership."""
    async with leader_backing(backend, tmp, "history") as b:
        yield Env(backend, b.engine, b.sessions, b.events, b.leadership, b.presence, Clock())
