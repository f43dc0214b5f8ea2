"""Helpers of the rule and evaluator tests (engineer A's): a migrated database of its own per
test on each backend with the real event log, publisher (ALERT_CHANGED staged through it) and
leadership (the evaluator's fence), a clock the test moves, routing calls recorded, and rows
made the way the fleet writes them (cameras, their labels, nodes, gaps, recorder events, audit
records, token addresses). Presence is in process on SQLite and Redis on PostgreSQL, as the
control plane runs them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.alerts.alerts_store import AlertsStore
from server.alerts.evaluator import Evaluator
from server.alerts.model import Alert, AlertState
from server.alerts.rules_store import RulesStore
from server.db.engine import Sessions
from server.db.models import CameraLabelRow, CameraRow, EventRow, NodeRow, new_id
from server.eventlog.sql_log import SqlEventLog
from server.events.publisher import EventPublisher
from server.leader.leadership import Leadership
from server.nodes.presence import Presence
from tests.support.leader_backing import leader_backing

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Env:
    backend: str
    engine: AsyncEngine
    sessions: Sessions
    events: SqlEventLog
    leadership: Leadership
    clock: Clock
    presence: Presence
    routed: list[tuple[str, AlertState | None, AlertState]] = field(default_factory=list)

    async def on_change(
        self, session: AsyncSession, alert: Alert, previous: AlertState | None
    ) -> None:
        """Routing's hook: records what it was told (and that it runs inside the alert's
        transaction: the row is visible in `session`)."""
        self.routed.append((alert.id, previous, alert.state))

    def evaluator(self, **kw: object) -> Evaluator:
        publisher = EventPublisher(self.events)
        return Evaluator(
            self.sessions,
            self.events,
            self.leadership.fence,
            publisher,
            self.on_change,
            self.clock,
            presence=self.presence,
            **kw,  # type: ignore[arg-type]
        )

    def rules(self, evaluator: Evaluator) -> RulesStore:
        return RulesStore(self.sessions, evaluator.transitions, self.clock)

    def alerts(self) -> AlertsStore:
        return AlertsStore(self.sessions, EventPublisher(self.events), self.clock)

    async def alert_events(self) -> list[str]:
        """Subjects of the ALERT_CHANGED events stored, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(EventRow.subject)
                .where(EventRow.kind == "alert.changed")
                .order_by(EventRow.revision)
            )
            return list(rows)

    # --- fleet rows ----------------------------------------------------------------------

    async def node(self, name: str, state: str = "ready", **labels: str) -> str:
        node_id = new_id()
        async with self.sessions.begin() as session:
            session.add(
                NodeRow(
                    id=node_id,
                    name=name,
                    name_key=name.lower(),
                    credential_hash=secrets.token_hex(32),
                    state=state,
                    state_changed_at=self.clock.now,
                    labels=labels,
                )
            )
        return node_id

    async def camera(
        self,
        name: str,
        status: str = "online",
        node_id: str | None = None,
        since: datetime | None = None,
        recording: bool = False,
        **labels: str,
    ) -> str:
        camera_id = new_id()
        async with self.sessions.begin() as session:
            session.add(
                CameraRow(
                    id=camera_id,
                    name=name,
                    name_key=name.lower(),
                    stream_key=secrets.token_hex(16),
                    status=status,
                    status_changed_at=since or self.clock.now,
                    created_at=self.clock.now - timedelta(days=1),
                    node_id=node_id,
                    recording_enabled=recording,
                    labels=[CameraLabelRow(key=k, value=v) for k, v in labels.items()],
                )
            )
        return camera_id

    async def set_status(self, camera_ids: list[str], status: str, reason: str = "") -> None:
        """Cameras change status now (as the camera status writer does)."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(CameraRow)
                .where(CameraRow.id.in_(camera_ids))
                .values(status=status, status_reason=reason, status_changed_at=self.clock.now)
            )

    async def set_node_state(self, node_id: str, state: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(NodeRow)
                .where(NodeRow.id == node_id)
                .values(state=state, state_changed_at=self.clock.now)
            )


@asynccontextmanager
async def environment(backend: str, tmp: Path) -> AsyncIterator[Env]:
    """A fresh migrated database on `backend` with the event log and a won leadership."""
    async with leader_backing(backend, tmp, "alerts-a") as b:
        yield Env(backend, b.engine, b.sessions, b.events, b.leadership, Clock(), b.presence)
