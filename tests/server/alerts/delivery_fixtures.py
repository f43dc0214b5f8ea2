"""Helpers of the channel and delivery tests (engineer C's): a fresh migrated database per test
on each backend, a clock the test moves, and the real aiohttp webhook receiver that verifies
every request's Standard Webhooks signature with the `standardwebhooks` package (kept in
tests/support/alert_receivers.py, which the e2e tests share)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.alert_receivers import Received, Receiver, webhook_receiver
from harness.databases import throwaway_postgres
from server.db.engine import Sessions, create_engine, session_factory
from server.db.migrate import upgrade_to_head

__all__ = [
    "Clock",
    "Received",
    "Receiver",
    "fresh_database",
    "queue_notification",
    "webhook_receiver",
]


@asynccontextmanager
async def fresh_database(backend: str, tmp: Path) -> AsyncIterator[tuple[str, Sessions]]:
    """A migrated database of its own on `backend` ("sqlite" or "postgres"): (url, sessions)."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'alerts.db'}"
        async with _migrated(url) as sessions:
            yield url, sessions
        return
    with throwaway_postgres("alerts") as url:
        async with _migrated(url) as sessions:
            yield url, sessions


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

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


async def queue_notification(
    sessions: Sessions,
    channel_id: str,
    now: datetime,
    *,
    alert_ids: list[str] | None = None,
    summary: str = "camera lobby offline",
) -> str:
    """Queue a firing notification as the dispatcher does (one row, payload rendered); its id."""
    from server.alerts.channels_store import new_notification_id, rfc3339
    from server.db.models import NotificationRow

    nid = new_notification_id()
    payload = {
        "version": "1",
        "id": nid,
        "kind": "firing",
        "summary": summary,
        "group_labels": {"rule": "offline"},
        "policy": "everything",
        "created_at": rfc3339(now),
        "counts": {"firing": 1, "resolved": 0},
        "alerts": [{"id": a, "labels": {"camera_name": "Lobby <1>"}} for a in alert_ids or []],
    }
    async with sessions.begin() as session:
        session.add(
            NotificationRow(
                id=nid,
                channel_id=channel_id,
                kind="firing",
                status="queued",
                summary=summary,
                payload=payload,
                alert_ids=list(alert_ids or []),
                next_attempt_time=now,
                create_time=now,
            )
        )
    return nid
