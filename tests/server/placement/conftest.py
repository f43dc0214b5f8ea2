"""A placement fleet on a real database (SQLite file or a throwaway PostgreSQL database) with
the real event log, publisher, node registry, camera status writer and leadership: nodes are
rows made READY / LOST the way an agent's session and the sweeper make them, cameras are rows
whose changes are staged as events like the camera service stages them."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from harness.databases import throwaway_postgres
from server.audit.log import AuditLog
from server.cameras.model import ChangeKind, IngestMode
from server.cameras.status import CameraStatusWriter
from server.config import sqlite_url
from server.db.engine import Sessions, create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import CameraRow, NodeRow, new_id, utcnow
from server.eventlog.sql_log import SqlEventLog
from server.events.publisher import EventPublisher
from server.leader.leadership import Leadership
from server.nodes.connect_info import NodeHello
from server.nodes.registry import NodeRegistry, NodeState
from server.placement.scheduler import Scheduler, SchedulerOptions
from server.placement.store import PlacementRecorder, PlacementStore


@dataclass
class Fleet:
    """The stores of one control plane's placement, on one database."""

    backend: str
    database_url: str
    engine: AsyncEngine
    sessions: Sessions
    events: SqlEventLog
    publisher: EventPublisher
    registry: NodeRegistry
    recorder: PlacementRecorder
    status: CameraStatusWriter
    leadership: Leadership
    store: PlacementStore
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def node(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        capacity: int = 0,
        cpu_cores: float = 0.0,
    ) -> str:
        """A node row, then READY as when its agent connects (its event staged)."""
        node_id = new_id()
        async with self.sessions.begin() as session:
            session.add(
                NodeRow(
                    id=node_id,
                    name=name,
                    name_key=name,
                    credential_hash=secrets.token_hex(8),
                    state=NodeState.OFFLINE.value,
                    labels=labels or {},
                )
            )
        await self.registry.connected(
            node_id, NodeHello("test", capacity, "rtmp://x", "http://x", cpu_cores), utcnow()
        )
        return node_id

    async def lose(self, node_id: str) -> None:
        """The sweeper's way of marking a node LOST."""
        await self.registry.leave(node_id, NodeState.LOST, "no heartbeat for 3.0 s")

    async def camera(
        self,
        name: str,
        *,
        pull: bool = True,
        node_id: str | None = None,
        selector: dict[str, str] | None = None,
        ladder: list[str] | None = None,
    ) -> str:
        """A camera row created as the camera service creates one (its CREATED event); no
        `ladder`: the streaming settings' default."""
        camera_id = new_id()
        async with self.sessions.begin() as session:
            row = CameraRow(
                id=camera_id,
                name=name,
                name_key=name,
                stream_key=secrets.token_hex(16),
                ingest_mode=(IngestMode.PULL if pull else IngestMode.PUSH).value,
                source_url="rtsp://127.0.0.1:9/x" if pull else "",
                node_id=node_id,
                node_selector=selector or {},
                labels=[],
                live_ladder=ladder or [],
            )
            session.add(row)
            await session.flush()
            self.publisher.camera_changed(session, ChangeKind.CREATED, row, f"camera {name}")
        return camera_id

    async def update_camera(self, camera_id: str, **values: object) -> None:
        """Change a camera's columns with its UPDATED event, as the camera service does."""
        async with self.sessions.begin() as session:
            row = await session.get(CameraRow, camera_id, with_for_update=True)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            self.publisher.camera_changed(session, ChangeKind.UPDATED, row, "updated")

    async def get(self, camera_id: str) -> CameraRow:
        async with self.sessions() as session:
            row = await session.get(CameraRow, camera_id)
        assert row is not None
        return row

    async def cameras(self) -> list[CameraRow]:
        async with self.sessions() as session:
            return list(await session.scalars(select(CameraRow)))

    def start_scheduler(self, **options: float) -> Scheduler:
        scheduler = Scheduler(
            self.sessions,
            self.store,
            self.events,
            SchedulerOptions(**options),  # type: ignore[arg-type]
        )
        self.tasks.append(asyncio.create_task(scheduler.run()))
        return scheduler


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with throwaway_postgres("placement") as url:
        yield url


@pytest.fixture
async def fleet(database_url: str) -> AsyncIterator[Fleet]:
    """A migrated database with the placement stores on it, the leadership won; every task a
    test starts (Fleet.start_scheduler) is cancelled at the end."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    events = SqlEventLog(engine, sessions, poll_s=0.1)
    await events.start()
    publisher = EventPublisher(events)
    recorder = PlacementRecorder(publisher.camera_changed, publisher.camera_placed)
    leadership = Leadership.for_engine(engine, sessions)
    await leadership.start()
    fleet = Fleet(
        backend=engine.dialect.name,
        database_url=database_url,
        engine=engine,
        sessions=sessions,
        events=events,
        publisher=publisher,
        registry=NodeRegistry(sessions, AuditLog(sessions), on_change=publisher.node_changed),
        recorder=recorder,
        status=CameraStatusWriter(sessions, publisher.camera_changed, recorder),
        leadership=leadership,
        store=PlacementStore(sessions, recorder, leadership.fence),
    )
    try:
        yield fleet
    finally:
        for task in fleet.tasks:
            task.cancel()
        await asyncio.gather(*fleet.tasks, return_exceptions=True)
        await leadership.close()
        await events.close()
        await engine.dispose()
