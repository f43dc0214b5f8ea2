"""The history's jobs as the leader runs them, on both backends: registered with
`run_while_leader`, they write a new camera's interval as its event arrives, and every one of
them ends promptly when leadership stops (cancelled mid-loop)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from server.analytics.history.jobs import history_jobs
from server.db.models.analytics import StateIntervalRow
from server.recordings.service import RecordingService
from tests.server.analytics.history_env import Env, environment
from tests.support.assertions import eventually


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with environment(request.param, tmp_path) as made:
        yield made


async def test_jobs_write_as_events_arrive_and_end_on_cancel(env: Env) -> None:
    jobs = history_jobs(
        env.sessions, env.leadership.fence, env.presence, RecordingService(env.sessions).timeline
    )
    env.leadership.run_while_leader(jobs)
    assert sorted(env.leadership.running_jobs) == sorted(jobs)
    camera = await env.camera("porch")

    async def opened() -> list[str]:
        async with env.sessions() as session:
            rows = await session.scalars(
                select(StateIntervalRow.state).where(
                    StateIntervalRow.subject_id == camera, StateIntervalRow.end_time.is_(None)
                )
            )
            return list(rows)

    assert await eventually(opened, lambda states: states == ["offline"], 15) == ["offline"]
    # Stepping down cancels every job and waits for it: all of them end, and soon.
    async with asyncio.timeout(10):
        await env.leadership.close()
    assert env.leadership.running_jobs == []
