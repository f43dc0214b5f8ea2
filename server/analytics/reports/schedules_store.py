"""Report schedules: create, list, update (field mask), delete; each change audited in its own
transaction. A schedule mails through an e-mail channel of AlertService: another kind of
channel is FAILED_PRECONDITION, an unknown one NOT_FOUND, as are unknown cameras."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.model import ChannelKind
from server.analytics.reports.rows import ReportFormat, ReportKind
from server.analytics.reports.schedule import ReportPeriod, ReportSchedule, next_run
from server.audit.log import add_audit
from server.common.listing.filter import MAX_FILTER_TERMS
from server.common.validation import clean_text, require_id, resolve_update_mask
from server.db.engine import Sessions
from server.db.models import CameraRow, ChannelRow, ReportScheduleRow, new_id, utcnow
from server.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)

UPDATABLE = frozenset({"name", "kind", "format", "period", "channel_id", "camera_ids", "enabled"})
# A report names at most this many cameras (more: leave it empty, every camera): they are
# selected with the analytics filter, which takes at most this many conditions.
MAX_CAMERAS = MAX_FILTER_TERMS


def schedule_of(row: ReportScheduleRow) -> ReportSchedule:
    return ReportSchedule(
        id=row.id,
        name=row.name,
        kind=ReportKind(row.kind),
        format=ReportFormat(row.format),
        period=ReportPeriod(row.period),
        channel_id=row.channel_id,
        camera_ids=tuple(row.camera_ids or ()),
        enabled=row.enabled,
        last_run_time=row.last_run_time,
        next_run_time=row.next_run_time,
        last_error=row.last_error,
        create_time=row.create_time,
        update_time=row.update_time,
    )


def _check(schedule: ReportSchedule) -> ReportSchedule:
    """The schedule with its name trimmed, or InvalidArgument naming every field to fix."""
    violations: list[FieldViolation] = []
    try:
        name = clean_text(schedule.name, "schedule.name", max_len=100, required=True)
    except InvalidArgument as error:
        violations.extend(error.violations)
        name = schedule.name
    for field_name, value, choices in (
        ("schedule.kind", schedule.kind, "CAMERA_PERFORMANCE or STORAGE"),
        ("schedule.format", schedule.format, "CSV, XLSX or PDF"),
        ("schedule.period", schedule.period, "DAILY or WEEKLY"),
    ):
        if value is None:
            violations.append(FieldViolation(field_name, f"is required: {choices}"))
    try:
        require_id(schedule.channel_id, "schedule.channel_id")
    except InvalidArgument as error:
        violations.extend(error.violations)
    if len(schedule.camera_ids) > MAX_CAMERAS:
        violations.append(
            FieldViolation(
                "schedule.camera_ids",
                f"names {len(schedule.camera_ids):,} cameras; at most {MAX_CAMERAS:,} "
                "(leave it empty for every camera)",
            )
        )
    else:
        for index, camera_id in enumerate(schedule.camera_ids):
            try:
                require_id(camera_id, f"schedule.camera_ids[{index}]")
            except InvalidArgument as error:
                violations.extend(error.violations)
    if violations:
        message = "; ".join(f"{v.field} {v.description}" for v in violations)
        raise InvalidArgument(message, violations=violations)
    return replace(schedule, name=name, camera_ids=tuple(dict.fromkeys(schedule.camera_ids)))


async def check_references(session: AsyncSession, schedule: ReportSchedule) -> None:
    """The channel exists and sends e-mail; the cameras exist."""
    channel = await session.get(ChannelRow, schedule.channel_id)
    if channel is None:
        raise NotFound(f"channel {schedule.channel_id} does not exist")
    if channel.kind != ChannelKind.EMAIL.value:
        raise FailedPrecondition(
            f"channel {channel.name} is a {channel.kind} channel; a report is mailed, so it "
            "needs an e-mail channel"
        )
    if schedule.camera_ids:
        found = set(
            (
                await session.scalars(
                    select(CameraRow.id).where(CameraRow.id.in_(schedule.camera_ids))
                )
            ).all()
        )
        missing = [c for c in schedule.camera_ids if c not in found]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise NotFound(f"no camera has the id {shown}")


class ScheduleStore:
    """CRUD of report schedules; `clock` gives now (tests pass their own)."""

    def __init__(self, sessions: Sessions, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(self, schedule: ReportSchedule) -> ReportSchedule:
        checked = _check(schedule)
        assert checked.period is not None and checked.kind and checked.format
        now = self._clock()
        row = ReportScheduleRow(
            id=new_id(),
            name=checked.name,
            kind=checked.kind.value,
            format=checked.format.value,
            period=checked.period.value,
            channel_id=checked.channel_id,
            camera_ids=list(checked.camera_ids),
            enabled=checked.enabled,
            next_run_time=next_run(checked.period, now),
            last_error="",
            create_time=now,
            update_time=now,
        )
        try:
            async with self._sessions.begin() as session:
                await check_references(session, checked)
                await self._ensure_name_free(session, checked.name)
                session.add(row)
                await session.flush()
                add_audit(
                    session,
                    "report_schedule.create",
                    f"report_schedules/{row.id}",
                    details=_details(row),
                )
        except IntegrityError:
            raise self._taken(checked.name) from None
        return schedule_of(row)

    async def list(self) -> list[ReportSchedule]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ReportScheduleRow).order_by(ReportScheduleRow.name, ReportScheduleRow.id)
            )
            return [schedule_of(r) for r in rows]

    async def get(self, schedule_id: str) -> ReportSchedule:
        require_id(schedule_id)
        async with self._sessions() as session:
            row = await session.get(ReportScheduleRow, schedule_id)
        if row is None:
            raise NotFound(f"report schedule {schedule_id} does not exist")
        return schedule_of(row)

    async def update(
        self, schedule_id: str, changes: ReportSchedule, update_mask: Iterable[str]
    ) -> ReportSchedule:
        """Change the fields named in the mask ("*": all updatable)."""
        require_id(schedule_id, "schedule.id")
        paths = resolve_update_mask(update_mask, UPDATABLE)
        async with self._sessions.begin() as session:
            row = await session.get(ReportScheduleRow, schedule_id, with_for_update=True)
            if row is None:
                raise NotFound(f"report schedule {schedule_id} does not exist")
            current = schedule_of(row)
            wanted = _check(replace(current, **{p: getattr(changes, p) for p in paths}))
            assert wanted.period is not None and wanted.kind and wanted.format
            if {"channel_id", "camera_ids"} & paths:
                await check_references(session, wanted)
            if wanted.name != row.name:
                await self._ensure_name_free(session, wanted.name)
            now = self._clock()
            if wanted.period.value != row.period or (wanted.enabled and not row.enabled):
                row.next_run_time = next_run(wanted.period, now)
            row.name = wanted.name
            row.kind = wanted.kind.value
            row.format = wanted.format.value
            row.period = wanted.period.value
            row.channel_id = wanted.channel_id
            row.camera_ids = list(wanted.camera_ids)
            row.enabled = wanted.enabled
            row.update_time = now
            try:
                await session.flush()
            except IntegrityError:
                raise self._taken(wanted.name) from None
            add_audit(
                session,
                "report_schedule.update",
                f"report_schedules/{row.id}",
                details={**_details(row), "fields": ",".join(sorted(paths))},
            )
            return schedule_of(row)

    async def delete(self, schedule_id: str) -> None:
        require_id(schedule_id)
        async with self._sessions.begin() as session:
            row = await session.get(ReportScheduleRow, schedule_id, with_for_update=True)
            if row is None:
                raise NotFound(f"report schedule {schedule_id} does not exist")
            await session.delete(row)
            add_audit(
                session,
                "report_schedule.delete",
                f"report_schedules/{schedule_id}",
                details={"name": row.name},
            )

    async def _ensure_name_free(self, session: AsyncSession, name: str) -> None:
        taken = await session.scalar(
            select(ReportScheduleRow.id).where(ReportScheduleRow.name == name)
        )
        if taken is not None:
            raise self._taken(name)

    @staticmethod
    def _taken(name: str) -> AlreadyExists:
        return AlreadyExists(f"a report schedule named {name!r} already exists")


def _details(row: ReportScheduleRow) -> dict[str, str]:
    return {
        "name": row.name,
        "kind": row.kind,
        "format": row.format,
        "period": row.period,
        "channel_id": row.channel_id,
        "cameras": str(len(row.camera_ids or ())) if row.camera_ids else "all",
        "enabled": str(row.enabled).lower(),
    }
