"""Helpers of the routing, silence, policy and dispatcher tests (engineer B's; no tests here): a
fresh migrated database per test on each backend, a clock the test moves, and writers of the
rows the evaluator (rules, alerts) and the channel store would make, so routing is tested
without them: a test moves alerts through their states and calls on_change as the evaluator
does, then runs the dispatcher at chosen times and reads the notification rows."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from harness.databases import throwaway_postgres
from server.alerts.alerts_store import alert_of
from server.alerts.dispatcher import Dispatcher
from server.alerts.model import Alert, AlertState, Policy
from server.alerts.policies_store import PolicyStore
from server.alerts.routing import Routing
from server.db.engine import Sessions, create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import AlertRow, AlertRuleRow, ChannelRow, NotificationRow, new_id

T0 = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


@asynccontextmanager
async def fresh_database(backend: str, tmp: Path) -> AsyncIterator[Sessions]:
    """Sessions on a migrated database of its own on `backend` ("sqlite" or "postgres")."""
    if backend == "sqlite":
        async with _migrated(f"sqlite+aiosqlite:///{tmp / 'routing.db'}") as sessions:
            yield sessions
        return
    with throwaway_postgres("routing") as url:
        async with _migrated(url) as sessions:
            yield sessions


@asynccontextmanager
async def _migrated(url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(url, pool_size=4)
    try:
        await upgrade_to_head(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


class Clock:
    """Now, moved by the test."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


async def no_fence(session: AsyncSession) -> int:
    """The fence of a replica that leads (these tests run one)."""
    return 1


async def add_channel(sessions: Sessions, name: str) -> str:
    async with sessions.begin() as session:
        row = ChannelRow(
            id=new_id(), name=name, kind="webhook", config={"url": "http://127.0.0.1:9/x"}
        )
        session.add(row)
    return row.id


async def add_rule(sessions: Sessions, name: str, kind: str, cooldown_s: float = 0.0) -> str:
    async with sessions.begin() as session:
        row = AlertRuleRow(id=new_id(), name=name, kind=kind, params={}, cooldown_s=cooldown_s)
        session.add(row)
    return row.id


class Alerts:
    """Writes alert rows through their states as the evaluator does, calling routing's
    on_change in the same transaction."""

    def __init__(self, sessions: Sessions, routing: Routing, clock: Clock) -> None:
        self.sessions = sessions
        self.routing = routing
        self.clock = clock

    async def fire(
        self,
        rule_id: str,
        rule: str,
        labels: dict[str, str],
        *,
        summary: str = "",
        severity: str = "warning",
        pending_first: bool = False,
    ) -> str:
        """A new alert, FIRING (through PENDING when `pending_first`): its id."""
        now = self.clock()
        full = {"rule": rule, "severity": severity, **labels}
        fp = hashlib.sha256(f"{rule_id}{sorted(full.items())}".encode()).hexdigest()[:32]
        state = AlertState.PENDING if pending_first else AlertState.FIRING
        async with self.sessions.begin() as session:
            row = AlertRow(
                id=new_id(),
                rule_id=rule_id,
                rule_name=rule,
                fingerprint=fp,
                state=state.value,
                severity=severity,
                labels=full,
                summary=summary or f"{rule} {labels}",
                value=1.0,
                active_time=now,
                firing_time=None if pending_first else now,
                last_true_time=now,
                update_time=now,
            )
            session.add(row)
            await session.flush()
            await self.routing.on_change(session, alert_of(row), None)
        return row.id

    async def fire_many(self, rule_id: str, rule: str, many: list[dict[str, str]]) -> list[str]:
        """Many new FIRING alerts in one transaction (a burst), on_change called for each."""
        now = self.clock()
        ids: list[str] = []
        async with self.sessions.begin() as session:
            for labels in many:
                full = {"rule": rule, "severity": "warning", **labels}
                fp = hashlib.sha256(f"{rule_id}{sorted(full.items())}".encode()).hexdigest()
                row = AlertRow(
                    id=new_id(),
                    rule_id=rule_id,
                    rule_name=rule,
                    fingerprint=fp[:32],
                    state=AlertState.FIRING.value,
                    severity="warning",
                    labels=full,
                    summary=f"{rule} {labels}",
                    active_time=now,
                    firing_time=now,
                    last_true_time=now,
                    update_time=now,
                )
                session.add(row)
                await session.flush()
                await self.routing.on_change(session, alert_of(row), None)
                ids.append(row.id)
        return ids

    async def move(self, alert_id: str, state: AlertState) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await session.get_one(AlertRow, alert_id)
            previous = AlertState(row.state)
            row.state = state.value
            if state is AlertState.FIRING:
                row.firing_time = now
            if state is AlertState.RESOLVED:
                row.resolved_time = now
            row.update_time = now
            await session.flush()
            await self.routing.on_change(session, alert_of(row), previous)

    async def ack(self, alert_id: str, who: str = "alice") -> None:
        async with self.sessions.begin() as session:
            row = await session.get_one(AlertRow, alert_id)
            row.acknowledged_by = who
            row.acknowledge_time = self.clock()

    async def unack(self, alert_id: str) -> None:
        async with self.sessions.begin() as session:
            row = await session.get_one(AlertRow, alert_id)
            row.acknowledged_by = ""
            row.acknowledge_time = None

    async def get(self, alert_id: str) -> Alert:
        async with self.sessions() as session:
            return alert_of(await session.get_one(AlertRow, alert_id))


async def notifications(sessions: Sessions) -> list[NotificationRow]:
    """Every notification row, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(NotificationRow).order_by(NotificationRow.create_time, NotificationRow.id)
        )
        return list(rows)


def alert_ids_told(rows: list[NotificationRow], state: str) -> set[str]:
    """Ids of the alerts the notifications' payloads told in `state`."""
    out: set[str] = set()
    for r in rows:
        alerts: list[dict[str, Any]] = r.payload["alerts"]
        out |= {a["id"] for a in alerts if a["state"] == state}
    return out


@dataclass
class Env:
    """A database with two channels, routing and a dispatcher on a clock the test moves."""

    sessions: Sessions
    clock: Clock
    alerts: Alerts
    dispatcher: Dispatcher
    policies: PolicyStore
    channels: list[str]

    async def dispatch_at(self, seconds: float) -> int:
        """Move the clock to T0 + `seconds` and dispatch: how many notifications were queued."""
        self.clock.now = T0 + timedelta(seconds=seconds)
        return await self.dispatcher.dispatch_once()


@asynccontextmanager
async def routing_env(backend: str, tmp: Path) -> AsyncIterator[Env]:
    async with fresh_database(backend, tmp) as sessions:
        clock = Clock()
        channels = [await add_channel(sessions, "hook"), await add_channel(sessions, "mail")]
        yield Env(
            sessions=sessions,
            clock=clock,
            alerts=Alerts(sessions, Routing(clock), clock),
            dispatcher=Dispatcher(sessions, no_fence, clock),
            policies=PolicyStore(sessions, clock),
            channels=channels,
        )


def policy(channels: list[str], **fields: Any) -> Policy:
    """A policy to `channels`; short test timings unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "group_wait_s": 30.0,
        "group_interval_s": 300.0,
        "repeat_interval_s": 3600.0,
    }
    values.update(fields)
    return Policy(id="", name=str(values.pop("name", "ops")), channel_ids=channels, **values)
