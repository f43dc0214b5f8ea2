"""Report schedules on both backends: the calendar (daily 00:00 UTC about the day before,
weekly Monday 00:00 UTC about the week before), CRUD with checks that name the field (an
e-mail channel required, unknown channel or camera NOT_FOUND), audited; and the runner mailing
a due report to a real SMTP server (aiosmtpd) as an attachment, recording last_error as a
sentence when the server cannot be reached."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from harness.alert_receivers import Mailbox, plain_smtp_server
from harness.ports import free_port
from server.alerts.channels_store import ChannelStore
from server.alerts.model import Channel, EmailConfig, SmtpSecurity, WebhookConfig
from server.analytics.reports.rows import ReportFormat, ReportKind
from server.analytics.reports.runner import ReportRunner
from server.analytics.reports.schedule import (
    ReportPeriod,
    ReportSchedule,
    last_boundary,
    next_run,
    period_before,
)
from server.analytics.reports.schedules_store import ScheduleStore
from server.db.engine import Sessions
from server.db.models import AuditLogRow, CameraRow, new_id
from server.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from server.leader.model import NotLeader
from tests.server.alerts.delivery_fixtures import Clock, fresh_database
from tests.server.analytics.report_samples import SampleFigures, fleet

TUESDAY_NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_daily_runs_at_midnight_about_the_day_before() -> None:
    assert next_run(ReportPeriod.DAILY, TUESDAY_NOON) == datetime(2026, 12, 2, tzinfo=UTC)
    # At midnight exactly, the next run is the next midnight.
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    assert next_run(ReportPeriod.DAILY, midnight) == datetime(2026, 12, 3, tzinfo=UTC)
    assert period_before(ReportPeriod.DAILY, midnight.replace(second=30)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        midnight,
    )


def test_weekly_runs_on_monday_about_the_week_before() -> None:
    monday = datetime(2026, 12, 7, tzinfo=UTC)
    assert next_run(ReportPeriod.WEEKLY, TUESDAY_NOON) == monday
    assert last_boundary(ReportPeriod.WEEKLY, TUESDAY_NOON) == datetime(2026, 11, 30, tzinfo=UTC)
    assert period_before(ReportPeriod.WEEKLY, monday.replace(minute=1)) == (
        datetime(2026, 11, 30, tzinfo=UTC),
        monday,
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    async with fresh_database(request.param, tmp_path) as (_, made):
        yield made


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY_NOON)


@pytest.fixture
def store(sessions: Sessions, clock: Clock) -> ScheduleStore:
    return ScheduleStore(sessions, clock)


async def mail_channel(sessions: Sessions, port: int = 25, name: str = "reports") -> str:
    config = EmailConfig(
        smtp_host="127.0.0.1",
        smtp_port=port,
        security=SmtpSecurity.NONE,
        from_addr="camfleet@example.org",
        to=("ops@example.org", "lead@example.org"),
    )
    channel, _ = await ChannelStore(sessions).create(Channel(id="", name=name, config=config))
    return channel.id


async def webhook_channel(sessions: Sessions) -> str:
    config = WebhookConfig(url="https://hooks.example.org/x")
    channel, _ = await ChannelStore(sessions).create(Channel(id="", name="hook", config=config))
    return channel.id


def schedule(channel_id: str, **kw: object) -> ReportSchedule:
    values: dict[str, object] = {
        "id": "",
        "name": "Daily performance",
        "kind": ReportKind.CAMERA_PERFORMANCE,
        "format": ReportFormat.CSV,
        "period": ReportPeriod.DAILY,
        "channel_id": channel_id,
    }
    values.update(kw)
    return ReportSchedule(**values)  # type: ignore[arg-type]


async def test_create_list_update_delete_audited(sessions: Sessions, store: ScheduleStore) -> None:
    channel = await mail_channel(sessions)
    created = await store.create(schedule(channel, name="  Daily performance "))
    assert created.name == "Daily performance"
    assert created.next_run_time == datetime(2026, 12, 2, tzinfo=UTC)
    assert created.last_run_time is None and created.last_error == ""
    assert [s.id for s in await store.list()] == [created.id]

    weekly = await store.update(
        created.id, schedule(channel, period=ReportPeriod.WEEKLY, name="Weekly"), ["period"]
    )
    assert weekly.period is ReportPeriod.WEEKLY and weekly.name == "Daily performance"
    assert weekly.next_run_time == datetime(2026, 12, 7, tzinfo=UTC)

    await store.delete(created.id)
    with pytest.raises(NotFound, match="does not exist"):
        await store.get(created.id)
    async with sessions() as session:
        actions = (
            await session.scalars(
                select(AuditLogRow.action)
                .where(AuditLogRow.target == f"report_schedules/{created.id}")
                .order_by(AuditLogRow.id)
            )
        ).all()
    assert sorted(actions) == sorted(
        ["report_schedule.create", "report_schedule.update", "report_schedule.delete"]
    )


async def test_bad_schedules_are_refused_with_the_field(
    sessions: Sessions, store: ScheduleStore
) -> None:
    channel = await mail_channel(sessions)
    with pytest.raises(InvalidArgument) as missing:
        await store.create(schedule(channel, name=" ", kind=None, format=None, period=None))
    assert {v.field for v in missing.value.violations} == {
        "schedule.name",
        "schedule.kind",
        "schedule.format",
        "schedule.period",
    }
    assert "schedule.format is required: CSV, XLSX or PDF" in str(missing.value)
    with pytest.raises(InvalidArgument, match=r"schedule.channel_id"):
        await store.create(schedule("not-a-uuid"))
    with pytest.raises(NotFound, match=r"channel .* does not exist"):
        await store.create(schedule(new_id()))
    hook = await webhook_channel(sessions)
    with pytest.raises(FailedPrecondition, match="needs an e-mail channel"):
        await store.create(schedule(hook))
    unknown = new_id()
    with pytest.raises(NotFound, match=f"no camera has the id {unknown}"):
        await store.create(schedule(channel, camera_ids=(unknown,)))
    with pytest.raises(InvalidArgument, match="at most 64"):
        await store.create(schedule(channel, camera_ids=tuple(new_id() for _ in range(65))))
    await store.create(schedule(channel))
    with pytest.raises(AlreadyExists, match="'Daily performance' already exists"):
        await store.create(schedule(channel))
    with pytest.raises(NotFound):
        await store.update(new_id(), schedule(channel), ["name"])
    created = (await store.list())[0]
    with pytest.raises(InvalidArgument, match="cannot update 'last_error'"):
        await store.update(created.id, schedule(channel), ["last_error"])
    with pytest.raises(FailedPrecondition):
        await store.update(created.id, schedule(hook), ["channel_id"])
    with pytest.raises(NotFound):
        await store.delete(new_id())


async def test_a_due_report_arrives_by_mail_with_its_attachment(
    sessions: Sessions, store: ScheduleStore, clock: Clock
) -> None:
    with plain_smtp_server() as box:
        channel = await mail_channel(sessions, box.port)
        created = await store.create(schedule(channel))
        runner = ReportRunner(sessions, SampleFigures(12), clock=clock)
        assert await runner.run_due() == []  # not yet midnight

        clock.now = datetime(2026, 12, 2, 0, 0, 20, tzinfo=UTC)
        [ran] = await runner.run_due()
        assert ran.last_error == ""
        assert ran.last_run_time == clock.now
        assert ran.next_run_time == datetime(2026, 12, 3, tzinfo=UTC)
        assert await runner.run_due() == []  # once per period

    message = only_message(box)
    assert message["Subject"] == "Camera performance report, 2026-12-01 (Daily performance)"
    assert set(box.envelopes[0].rcpt_tos) == {"ops@example.org", "lead@example.org"}
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "camera-performance-2026-12-01--2026-12-02.csv"
    assert attachment.get_content_type() == "text/csv"
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    rows = list(csv.reader(io.StringIO(payload.decode("utf-8-sig"))))
    assert rows[1] == ["From", "2026-12-01T00:00:00Z", "To", "2026-12-02T00:00:00Z"]
    summary = {r[0]: r[1] for r in rows if len(r) == 2}
    assert float(summary["Fleet uptime (0-1)"]) == pytest.approx(fleet(12).uptime)
    stored = await store.get(created.id)
    assert stored.last_error == "" and stored.last_run_time == clock.now


def only_message(box: Mailbox):  # type: ignore[no-untyped-def]
    assert len(box.envelopes) == 1
    return box.message()


async def test_run_now_mails_the_last_period_and_keeps_the_next_run(
    sessions: Sessions, store: ScheduleStore, clock: Clock
) -> None:
    with plain_smtp_server() as box:
        channel = await mail_channel(sessions, box.port)
        created = await store.create(
            schedule(channel, period=ReportPeriod.WEEKLY, format=ReportFormat.PDF)
        )
        ran = await ReportRunner(sessions, SampleFigures(5), clock=clock).run_now(created.id)
    assert ran.last_error == ""
    assert ran.next_run_time == created.next_run_time
    [attachment] = list(only_message(box).iter_attachments())
    assert attachment.get_filename() == "camera-performance-2026-11-23--2026-11-30.pdf"
    assert attachment.get_content_type() == "application/pdf"
    data = attachment.get_payload(decode=True)
    assert isinstance(data, bytes) and data.startswith(b"%PDF-")
    with pytest.raises(NotFound):
        await ReportRunner(sessions, SampleFigures(5), clock=clock).run_now(new_id())


async def test_an_unreachable_server_is_recorded_as_a_sentence(
    sessions: Sessions, store: ScheduleStore, clock: Clock
) -> None:
    port = free_port()  # nothing listens there
    created = await store.create(schedule(await mail_channel(sessions, port)))
    ran = await ReportRunner(sessions, SampleFigures(3), clock=clock).run_now(created.id)
    assert ran.last_error.startswith("Could not connect to the SMTP server 127.0.0.1:")
    assert ran.last_error.endswith(".")
    assert (await store.get(created.id)).last_error == ran.last_error


async def test_a_schedule_of_named_cameras(sessions: Sessions, store: ScheduleStore) -> None:
    camera_id = new_id()
    async with sessions.begin() as session:
        session.add(
            CameraRow(id=camera_id, name="Lobby", name_key="lobby", stream_key=new_id()[:32])
        )
    created = await store.create(schedule(await mail_channel(sessions), camera_ids=(camera_id,)))
    assert created.camera_ids == (camera_id,)


async def test_the_leader_job_mails_when_due_and_stops_when_cancelled(
    sessions: Sessions, store: ScheduleStore, clock: Clock
) -> None:
    with plain_smtp_server() as box:
        created = await store.create(schedule(await mail_channel(sessions, box.port)))
        fenced: list[int] = []

        async def fence(session: object) -> int:
            fenced.append(1)
            return 1

        runner = ReportRunner(sessions, SampleFigures(4), fence=fence, clock=clock, poll_s=0.05)
        job = asyncio.create_task(runner.run())
        try:
            await asyncio.sleep(0.3)
            assert box.envelopes == []
            clock.now = datetime(2026, 12, 2, 0, 1, tzinfo=UTC)
            for _ in range(200):
                if box.envelopes and (await store.get(created.id)).last_run_time:
                    break
                await asyncio.sleep(0.05)
        finally:
            job.cancel()
            with pytest.raises(asyncio.CancelledError):
                await job
    assert len(box.envelopes) == 1
    assert fenced  # every claim was made as the leader
    assert (await store.get(created.id)).next_run_time == datetime(2026, 12, 3, tzinfo=UTC)


async def test_a_deposed_leader_claims_nothing(
    sessions: Sessions, store: ScheduleStore, clock: Clock
) -> None:
    with plain_smtp_server() as box:
        created = await store.create(schedule(await mail_channel(sessions, box.port)))

        async def fence(session: object) -> int:
            raise NotLeader("this replica is not the leader now")

        clock.now = datetime(2026, 12, 2, 0, 1, tzinfo=UTC)
        runner = ReportRunner(sessions, SampleFigures(4), fence=fence, clock=clock)
        with pytest.raises(NotLeader):
            await runner.run_due()
    assert box.envelopes == []
    assert (await store.get(created.id)).next_run_time == datetime(2026, 12, 2, tzinfo=UTC)
