"""`camfleet analytics schedules`: reports built every day or week and mailed through an e-mail
channel of AlertService (list, create, update, delete, run now). register() adds the group to
`camfleet analytics` (camfleet.cli.commands.analytics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from camfleet.cli import state
from camfleet.cli.commands import analytics, times
from camfleet.cli.commands.camera_lookup import resolve
from camfleet.cli.commands.settings_values import BadValue, enum_number
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.cli.session import Session
    from camfleet.v1 import analytics_pb2, analytics_pb2_grpc

schedules = typer.Typer(
    name="schedules",
    help="Report schedules: a report mailed every day or week through an e-mail channel.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Hang `schedules` under `camfleet analytics` (`root` is not used: analytics.app is in it)."""
    del root
    analytics.app.add_typer(schedules)


def _stub(s: Session) -> analytics_pb2_grpc.AnalyticsServiceStub:
    from camfleet.v1 import analytics_pb2_grpc

    return s.stub(analytics_pb2_grpc.AnalyticsServiceStub)


_SCHEDULES = [
    Column("ID", lambda r: r.id),
    Column("NAME", lambda r: r.name),
    Column("KIND", lambda r: enum_name(r, "kind")),
    Column("FORMAT", lambda r: enum_name(r, "format")),
    Column("PERIOD", lambda r: enum_name(r, "period")),
    Column("ENABLED", lambda r: r.enabled),
    Column("NEXT RUN", lambda r: times.when(r.next_run_time)),
    Column("LAST RUN", lambda r: times.when(r.last_run_time)),
    Column("LAST ERROR", lambda r: r.last_error),
    Column("CHANNEL", lambda r: r.channel_id, wide=True),
    Column("CAMERAS", lambda r: ",".join(r.camera_ids) or "(all)", wide=True),
]

_KIND = typer.Option(None, "--kind", help="camera-performance (default) or storage.")
_FORMAT = typer.Option(None, "--format", help="csv (default), xlsx or pdf (with charts).")
_PERIOD = typer.Option(
    None, "--period", help="daily (00:00 UTC, the day before; default) or weekly (Mondays)."
)
_CHANNEL = typer.Option(None, "--channel", help="The e-mail channel's id; its recipients get it.")
_CAMERA = typer.Option(
    None, "--camera", help="Only this camera, id or name (repeatable; default every camera)."
)
_ENABLED = typer.Option(None, "--enabled/--disabled", help="Run it on schedule (or not).")


def _fill(
    s: Session,
    schedule: analytics_pb2.ReportSchedule,
    *,
    kind: str | None,
    fmt: str | None,
    period: str | None,
    cameras: list[str] | None,
) -> list[str]:
    """Put the options given into `schedule`; the names of the fields set."""
    from camfleet.v1 import analytics_pb2 as A

    paths: list[str] = []
    choices = (
        ("kind", "--kind", A.ReportKind.DESCRIPTOR, kind),
        ("format", "--format", A.ReportFormat.DESCRIPTOR, fmt),
        ("period", "--period", A.ReportPeriod.DESCRIPTOR, period),
    )
    for name, option, enum, text in choices:
        if text is None:
            continue
        try:
            setattr(schedule, name, enum_number(enum, text))
        except BadValue as err:
            raise CliError(f"{option}: {err}.", ExitCode.USAGE) from None
        paths.append(name)
    if cameras is not None:
        schedule.camera_ids.extend(resolve(s, c) for c in cameras)
        paths.append("camera_ids")
    return paths


@schedules.command("list")
def list_schedules(ctx: typer.Context) -> None:
    """List report schedules."""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    found = s.call(_stub(s).ListReportSchedules, A.ListReportSchedulesRequest()).schedules
    state.printer(ctx).items(found, _SCHEDULES)


@schedules.command("create")
def create_schedule(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name."),
    *,
    channel: str = typer.Option(..., "--channel", help="The e-mail channel's id."),
    kind: str | None = _KIND,
    fmt: str | None = _FORMAT,
    period: str | None = _PERIOD,
    cameras: list[str] | None = _CAMERA,
    enabled: bool | None = _ENABLED,
) -> None:
    """Create a report schedule."""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    schedule = A.ReportSchedule(name=name, channel_id=channel, enabled=enabled is not False)
    _fill(
        s,
        schedule,
        kind=kind or "camera-performance",
        fmt=fmt or "csv",
        period=period or "daily",
        cameras=cameras,
    )
    request = A.CreateReportScheduleRequest(schedule=schedule)
    created = s.call(_stub(s).CreateReportSchedule, request).schedule
    state.printer(ctx).item(created, _SCHEDULES)


@schedules.command("update")
def update_schedule(
    ctx: typer.Context,
    schedule_id: str = typer.Argument(..., help="The schedule's id."),
    *,
    name: str | None = typer.Option(None, "--name", help="New name."),
    channel: str | None = _CHANNEL,
    kind: str | None = _KIND,
    fmt: str | None = _FORMAT,
    period: str | None = _PERIOD,
    cameras: list[str] | None = _CAMERA,
    all_cameras: bool = typer.Option(False, "--all-cameras", help="Every camera again."),
    enabled: bool | None = _ENABLED,
) -> None:
    """Change a schedule: only the fields given change (--camera replaces the list)."""
    from camfleet.v1 import analytics_pb2 as A
    from google.protobuf import field_mask_pb2

    s = state.session(ctx)
    schedule = A.ReportSchedule(id=schedule_id)
    paths = _fill(s, schedule, kind=kind, fmt=fmt, period=period, cameras=cameras)
    if all_cameras and "camera_ids" not in paths:
        paths.append("camera_ids")
    for field, value in (("name", name), ("channel_id", channel), ("enabled", enabled)):
        if value is not None:
            setattr(schedule, field, value)
            paths.append(field)
    if not paths:
        raise CliError("Nothing to change: give at least one option (see --help).", ExitCode.USAGE)
    request = A.UpdateReportScheduleRequest(
        schedule=schedule, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    state.printer(ctx).item(s.call(_stub(s).UpdateReportSchedule, request).schedule, _SCHEDULES)


@schedules.command("delete")
def delete_schedule(
    ctx: typer.Context,
    schedule_id: str = typer.Argument(..., help="The schedule's id."),
    *,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a report schedule."""
    from camfleet.v1 import analytics_pb2 as A

    if not yes and not typer.confirm(f"Delete report schedule {schedule_id}?", err=True):
        raise CliError("Nothing deleted.", ExitCode.ERROR)
    s = state.session(ctx)
    s.call(_stub(s).DeleteReportSchedule, A.DeleteReportScheduleRequest(id=schedule_id))
    state.printer(ctx).done(f"Deleted report schedule {schedule_id}.", {"deleted": [schedule_id]})


@schedules.command("run")
def run_schedule(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., help="The schedule's id.")
) -> None:
    """Build and mail the schedule's report of the last period now (its next run stays)."""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    ran = s.call(_stub(s).RunReportSchedule, A.RunReportScheduleRequest(id=schedule_id)).schedule
    out = state.printer(ctx)
    out.item(ran, _SCHEDULES)
    if ran.last_error and not out.structured:
        out.note(f"The report was not mailed: {ran.last_error}")
