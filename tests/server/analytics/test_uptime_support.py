"""Rows for the analytics read tests: cameras and their history written as the history writers
would (state intervals, coverage per hour, recording gaps), on a fresh database per backend."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.db.engine import Sessions
from server.db.models import CameraLabelRow, CameraRow
from server.db.models.analytics import StateIntervalRow
from tests.server.alerts.test_routing_support import fresh_database

T0 = datetime(2026, 3, 2, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    async with fresh_database(request.param, tmp_path) as s:
        yield s


async def add_camera(
    sessions: Sessions, name: str, created: datetime, labels: dict[str, str] | None = None
) -> str:
    camera_id = secrets.token_hex(4) + "-0000-4000-8000-" + secrets.token_hex(6)
    async with sessions.begin() as session:
        session.add(
            CameraRow(
                id=camera_id,
                name=name,
                name_key=name.lower(),
                stream_key=secrets.token_hex(16),
                created_at=created,
                recording_enabled=True,
            )
        )
        await session.flush()
        for key, value in (labels or {}).items():
            session.add(CameraLabelRow(camera_id=camera_id, key=key, value=value))
    return camera_id


async def add_states(
    sessions: Sessions, camera_id: str, *states: tuple[str, datetime, datetime | None]
) -> None:
    """(state, start, end) intervals of a camera; end None: the open one."""
    async with sessions.begin() as session:
        for state, start, end in states:
            session.add(
                StateIntervalRow(
                    subject_kind="camera",
                    subject_id=camera_id,
                    state=state,
                    start_time=start,
                    end_time=end,
                )
            )
