"""`camfleet analytics`: the fleet's history (uptime, coverage, storage, the disk forecast, stream
health, security figures) and reports exported to a file (CSV, XLSX, PDF, streamed)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.commands import times
from camfleet.cli.commands.settings_values import enum_number
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.cli.session import Session
    from camfleet.v1 import analytics_pb2 as A
    from camfleet.v1 import analytics_pb2_grpc
    from google.protobuf import duration_pb2

app = typer.Typer(
    name="analytics",
    help="Uptime, coverage, storage and its forecast, stream health, security; reports to files.",
    no_args_is_help=True,
)

_START = typer.Option(
    None, "--start", help="From (2026-12-01T00:00:00Z, or an age: 7d). Default: 24h before end."
)
_END = typer.Option(None, "--end", help="Until (default now).")
_BUCKET = typer.Option(None, "--bucket", help="Series bucket (e.g. 1h, 1d; at least 1m).")
_FILTER = typer.Option("", "--filter", help="e.g. 'labels.site = \"north\"' or 'node_id = \"ID\"'.")
_LIMIT = typer.Option(100, "--limit", min=1, max=1000, help="Rows at most.")


def _stub(s: Session) -> analytics_pb2_grpc.AnalyticsServiceStub:
    from camfleet.v1 import analytics_pb2_grpc

    return s.stub(analytics_pb2_grpc.AnalyticsServiceStub)


def _range(start: str | None, end: str | None) -> A.TimeRange:
    from camfleet.v1 import analytics_pb2 as A

    since, until = times.time_range(start, end, timedelta(hours=24))
    return A.TimeRange(start_time=times.ts(since), end_time=times.ts(until))


def _bucket(text: str | None) -> duration_pb2.Duration | None:
    return times.duration(times.parse_age(text, "--bucket")) if text else None


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


_UPTIME = [
    Column("CAMERA", lambda c: c.camera_name),
    Column("UPTIME", lambda c: _pct(c.uptime)),
    Column("UP", lambda c: times.length_text(c.up)),
    Column("DOWN", lambda c: times.length_text(c.down)),
    Column("OUTAGES", lambda c: c.outages.count),
    Column("LONGEST", lambda c: times.length_text(c.outages.longest)),
    Column(
        "MTBF", lambda c: times.length_text(c.outages.mtbf) if c.outages.HasField("mtbf") else "-"
    ),
    Column("ID", lambda c: c.camera_id, wide=True),
]


@app.command("uptime")
def uptime(
    ctx: typer.Context,
    *,
    start: str | None = _START,
    end: str | None = _END,
    bucket: str | None = _BUCKET,
    filter_text: str = _FILTER,
    order_by: str = typer.Option("", "--order-by", help="uptime (worst first), outages, name."),
    limit: int = _LIMIT,
) -> None:
    """Uptime of each camera and of the fleet, with outages."""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    resp = s.call(
        _stub(s).GetUptime,
        A.GetUptimeRequest(
            **_per_camera(
                start=start,
                end=end,
                bucket=bucket,
                filter_text=filter_text,
                order_by=order_by,
                limit=limit,
            )
        ),
    )
    _print_per_camera(
        ctx,
        resp,
        _UPTIME,
        f"Fleet uptime {_pct(resp.fleet_uptime)} over {resp.total_size} camera(s), "
        f"{resp.fleet_outages.count} outage(s).",
    )


def _per_camera(
    *,
    start: str | None,
    end: str | None,
    bucket: str | None,
    filter_text: str,
    order_by: str,
    limit: int,
) -> dict[str, Any]:
    """The fields a per-camera read (uptime, coverage) shares."""
    return {
        "range": _range(start, end),
        "bucket": _bucket(bucket),
        "filter": filter_text,
        "order_by": order_by,
        "page_size": limit,
    }


def _print_per_camera(ctx: typer.Context, resp: Any, columns: list[Column], note: str) -> None:
    """A per-camera answer: the whole message when structured, else its table and the fleet's
    figure."""
    out = state.printer(ctx)
    if out.structured:
        out.item(resp, [])
        return
    out.items(resp.cameras, columns)
    out.note(note)


def _gaps(gaps: object) -> str:
    return ", ".join(
        f"{enum_name(g, 'cause').lower()} {times.length_text(g.total)} ({g.count})"
        for g in gaps  # type: ignore[attr-defined]
    )


_COVERAGE = [
    Column("CAMERA", lambda c: c.camera_name),
    Column("COVERAGE", lambda c: _pct(c.coverage)),
    Column("RECORDED", lambda c: times.length_text(c.recorded)),
    Column("EXPECTED", lambda c: times.length_text(c.expected)),
    Column("GAPS", lambda c: _gaps(c.gaps)),
    Column("ID", lambda c: c.camera_id, wide=True),
]


@app.command("coverage")
def coverage(
    ctx: typer.Context,
    *,
    start: str | None = _START,
    end: str | None = _END,
    bucket: str | None = _BUCKET,
    filter_text: str = _FILTER,
    order_by: str = typer.Option("", "--order-by", help="coverage (worst first), name."),
    limit: int = _LIMIT,
) -> None:
    """Recorded ÷ expected per camera (each second once), gap time by cause."""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    resp = s.call(
        _stub(s).GetCoverage,
        A.GetCoverageRequest(
            **_per_camera(
                start=start,
                end=end,
                bucket=bucket,
                filter_text=filter_text,
                order_by=order_by,
                limit=limit,
            )
        ),
    )
    _print_per_camera(
        ctx,
        resp,
        _COVERAGE,
        f"Fleet coverage {_pct(resp.fleet_coverage)}: recorded "
        f"{times.length_text(resp.fleet_recorded)} of {times.length_text(resp.fleet_expected)}.",
    )


_STORAGE = [
    Column("KEY", lambda u: u.key, wide=True),
    Column("NAME", lambda u: u.name),
    Column("STORED", lambda u: times.size_text(u.stored_bytes)),
    Column("SEGMENTS", lambda u: u.segments),
    Column("WRITTEN", lambda u: times.size_text(u.bytes_written)),
    Column("PER HOUR", lambda u: times.size_text(u.bytes_per_hour)),
]


@app.command("storage")
def storage(
    ctx: typer.Context,
    *,
    start: str | None = _START,
    end: str | None = _END,
    group_by: str = typer.Option("camera", "--group-by", help="camera, node or tier."),
    filter_text: str = typer.Option("", "--filter", help="Fields camera_id, node_id, tier."),
    limit: int = _LIMIT,
) -> None:
    """Bytes stored and written, by camera, node or tier."""
    from camfleet.v1 import analytics_pb2 as A

    try:
        grouping = enum_number(A.StorageGrouping.DESCRIPTOR, group_by)
    except ValueError as err:
        raise CliError(f"--group-by: {err}.", ExitCode.USAGE) from None
    s = state.session(ctx)
    resp = s.call(
        _stub(s).GetStorage,
        A.GetStorageRequest(
            range=_range(start, end),
            group_by=grouping,  # type: ignore[arg-type]
            filter=filter_text,
            page_size=limit,
        ),
    )
    out = state.printer(ctx)
    if out.structured:
        out.item(resp, [])
        return
    out.items(resp.items, _STORAGE)
    out.note(
        f"Stored {times.size_text(resp.total_stored_bytes)} in all, "
        f"{times.size_text(resp.total_bytes_per_hour)} written per hour."
    )


_FORECAST = [
    Column("NODE", lambda n: n.node_name or n.node_id),
    Column("TIER", lambda n: enum_name(n, "tier")),
    Column("TOTAL", lambda n: times.size_text(n.total_bytes)),
    Column("FREE", lambda n: times.size_text(n.free_bytes)),
    Column("RECORDINGS", lambda n: times.size_text(n.recordings_bytes)),
    Column("PER HOUR", lambda n: times.size_text(n.bytes_per_hour)),
    Column("VERDICT", lambda n: enum_name(n, "verdict")),
    Column(
        "FULL IN",
        lambda n: f"{n.days_until_full:.1f} d" if enum_name(n, "verdict") == "FILLS_UP" else "-",
    ),
    Column("SUMMARY", lambda n: n.summary, wide=True),
]


@app.command("forecast")
def forecast(
    ctx: typer.Context,
    *,
    node: str = typer.Option("", "--node", help="Only this node id."),
    window: str | None = typer.Option(
        None, "--window", help="How far back the write rate is measured (1h to 30d; default 24h)."
    ),
) -> None:
    """Per node disk: does retention fit (the plateau), or when does it fill up?"""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    request = A.GetStorageForecastRequest(node_id=node)
    if window:
        request.window.CopyFrom(times.duration(times.parse_age(window, "--window")))
    resp = s.call(_stub(s).GetStorageForecast, request)
    out = state.printer(ctx)
    out.items(resp.nodes, _FORECAST)
    if not out.structured:
        for n in resp.nodes:
            out.note(f"{n.node_name or n.node_id}: {n.summary}")


_HEALTH = [
    Column("TIME", lambda p: times.when(p.start_time)),
    Column("KBIT/S AVG", lambda p: f"{p.bitrate_kbps_avg:.0f}" if p.samples else "-"),
    Column("KBIT/S MIN", lambda p: f"{p.bitrate_kbps_min:.0f}" if p.samples else "-"),
    Column("FPS AVG", lambda p: f"{p.fps_avg:.1f}" if p.samples else "-"),
    Column("FPS MIN", lambda p: f"{p.fps_min:.1f}" if p.samples else "-"),
    Column("VIEWERS", lambda p: p.viewers_max if p.samples else "-"),
    Column("SAMPLES", lambda p: p.samples),
]


@app.command("stream-health")
def stream_health(
    ctx: typer.Context,
    camera_id: str = typer.Argument(..., help="The camera's id."),
    *,
    start: str | None = _START,
    end: str | None = _END,
    bucket: str | None = _BUCKET,
) -> None:
    """Bitrate, frame rate and viewers of one camera per bucket."""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    request = A.GetStreamHealthRequest(camera_id=camera_id, range=_range(start, end))
    if bucket:
        request.bucket.CopyFrom(times.duration(times.parse_age(bucket, "--bucket")))
    resp = s.call(_stub(s).GetStreamHealth, request)
    state.printer(ctx).items(resp.points, _HEALTH)


@app.command("security")
def security(
    ctx: typer.Context,
    *,
    start: str | None = _START,
    end: str | None = _END,
) -> None:
    """Failed logins and denied calls over the range, by user and by address."""
    from camfleet.v1 import analytics_pb2 as A

    s = state.session(ctx)
    resp = s.call(_stub(s).GetSecurityStats, A.GetSecurityStatsRequest(range=_range(start, end)))
    out = state.printer(ctx)
    if out.structured:
        out.item(resp, [])
        return
    out.done(f"{resp.failed_logins} failed login(s), {resp.denied_calls} denied call(s).")
    rows = [("user", c.key, c.failed_logins, c.denied_calls) for c in resp.by_user]
    rows += [("address", c.key, c.failed_logins, c.denied_calls) for c in resp.by_address]
    if rows:
        out.table(("BY", "WHO", "FAILED LOGINS", "DENIED CALLS"), rows)


# --format and --kind: the ReportFormat and ReportKind of each word, by name (a message takes an
# enum's value by its name too; analytics_pb2 is imported only when the command runs).
_FORMATS = {"csv": "REPORT_FORMAT_CSV", "xlsx": "REPORT_FORMAT_XLSX", "pdf": "REPORT_FORMAT_PDF"}
_KINDS = {"camera-performance": "REPORT_KIND_CAMERA_PERFORMANCE", "storage": "REPORT_KIND_STORAGE"}


@app.command("export-report")
def export_report(
    ctx: typer.Context,
    *,
    kind: str = typer.Option("camera-performance", "--kind", help="camera-performance or storage."),
    fmt: str = typer.Option("csv", "--format", help="csv, xlsx or pdf (with charts)."),
    start: str | None = _START,
    end: str | None = _END,
    cameras: list[str] | None = typer.Option(  # noqa: B008 - Typer reads options from defaults
        None, "--camera", help="Only this camera (repeat for several). Default: every camera."
    ),
    output: str | None = typer.Option(
        None, "--output-file", "-O", help="File to write (default: the name the server gives)."
    ),
) -> None:
    """Export a report of the range to a file, as the server streams it (a large fleet's report is
    never held whole)."""
    from camfleet.cli.commands.transfer import part_path
    from camfleet.v1 import analytics_pb2 as A

    if fmt.lower() not in _FORMATS:
        raise CliError(f"--format: {fmt!r} is not csv, xlsx or pdf.", ExitCode.USAGE)
    if kind.lower() not in _KINDS:
        raise CliError(f"--kind: {kind!r} is not camera-performance or storage.", ExitCode.USAGE)
    s = state.session(ctx)
    request = A.ExportReportRequest(
        kind=_KINDS[kind.lower()],
        format=_FORMATS[fmt.lower()],
        range=_range(start, end),
        camera_ids=cameras or [],
    )
    dest: Path | None = Path(output) if output else None
    part: Path | None = None
    written = 0
    handle = None
    whole = False
    try:
        for chunk in s.stream(_stub(s).ExportReport, request, timeout=3600):
            if handle is None:
                # Only a name: the server's filename never picks the directory.
                dest = dest or Path(Path(chunk.filename).name or f"report.{fmt.lower()}")
                part = part_path(dest)
                handle = part.open("wb")
            handle.write(chunk.data)
            written += len(chunk.data)
        whole = True
    except KeyboardInterrupt:
        raise CliError("Interrupted; no report was written.", ExitCode.INTERRUPTED) from None
    except OSError as err:
        raise CliError(f"The report could not be written to {dest}: {err.strerror}.") from None
    finally:
        if handle is not None:
            handle.close()
        if part is not None and not whole:
            part.unlink(missing_ok=True)  # a report cut short is no report
    if dest is None or part is None:
        raise CliError("The server sent no report.", ExitCode.ERROR)
    os.replace(part, dest)
    state.printer(ctx).done(
        f"Wrote {dest} ({written} bytes).", {"path": str(dest), "size_bytes": written}
    )
