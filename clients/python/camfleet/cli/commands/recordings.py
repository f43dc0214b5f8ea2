"""`camfleet recordings`: list a camera's recorded segments, its timeline (recorded spans and
gaps with their causes), download segments (with a progress bar and resume) and export clips."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.commands import recording_files, times
from camfleet.cli.commands.recording_files import listed as _listed
from camfleet.cli.commands.recording_files import stub as _stub
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name

if TYPE_CHECKING:  # the API's messages are imported where a command runs
    from camfleet.v1 import recording_pb2 as R

app = typer.Typer(
    name="recordings",
    help="Recorded segments: list, timeline with gaps, download (resumable) and export clips.",
    no_args_is_help=True,
)

_EXTENSIONS = {"mpegts": "ts", "mp4": "mp4"}

COLUMNS = [
    Column("ID", lambda r: r.id),
    Column("START", lambda r: times.when(r.start_time)),
    Column("END", lambda r: times.when(r.end_time)),
    Column("LENGTH", lambda r: times.length_text(r.duration)),
    Column("SIZE", lambda r: times.size_text(r.size_bytes)),
    Column("TIER", lambda r: enum_name(r, "tier")),
    Column("NODE", lambda r: r.node_id),
    Column("PROFILE", lambda r: enum_name(r, "profile"), wide=True),
    Column("CONTAINER", lambda r: r.container, wide=True),
    Column("RECOVERED", lambda r: r.recovered, wide=True),
    Column("EPOCH", lambda r: r.epoch, wide=True),
    Column("SHA256", lambda r: r.sha256, wide=True),
]

_START = typer.Option(None, "--start", help="From (2026-12-06T03:00:00Z, or an age: 2h).")
_END = typer.Option(None, "--end", help="Until (default now).")


@app.command("list")
def list_recordings(
    ctx: typer.Context,
    *,
    camera_id: str = typer.Argument(..., help="The camera's id."),
    start: str | None = typer.Option(
        None, "--start", help="From (2026-12-06T03:00:00Z, or an age: 2h). Default: 24h before end."
    ),
    end: str | None = _END,
    tier: str | None = typer.Option(
        None, "--tier", help="Only segments in this tier: hot, warm, cold."
    ),
    node: str | None = typer.Option(None, "--node", help="Only segments held by this node id."),
    recovered: bool = typer.Option(
        False, "--recovered", help="Only segments a crashed recorder left and the node recovered."
    ),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many (0: all)."),
) -> None:
    """List a camera's recorded segments overlapping a time range, oldest first."""
    from camfleet.v1 import recording_pb2 as R

    s = state.session(ctx)
    found = _listed(s, camera_id, start=start, end=end, limit=limit)
    if tier:
        wanted = f"STORAGE_TIER_{tier.strip().upper()}"
        if wanted not in R.StorageTier.keys():  # noqa: SIM118 - an enum wrapper, not a dict
            raise CliError(f"--tier: {tier!r} is not hot, warm or cold.", ExitCode.USAGE)
        found = [r for r in found if R.StorageTier.Name(r.tier) == wanted]
    if node:
        found = [r for r in found if r.node_id == node]
    if recovered:
        found = [r for r in found if r.recovered]
    state.printer(ctx).items(found, COLUMNS)


@app.command("get")
def get_recording(
    ctx: typer.Context, recording_id: str = typer.Argument(..., help="The id.")
) -> None:
    """Show one recorded segment."""
    from camfleet.v1 import recording_pb2 as R

    s = state.session(ctx)
    resp = s.call(_stub(s).GetRecording, R.GetRecordingRequest(id=recording_id))
    state.printer(ctx).item(resp.recording, COLUMNS)


def _timeline_rows(line: R.GetTimelineResponse) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "kind": "recorded",
            "start": times.when(span.start_time),
            "end": times.when(span.end_time),
            "length_s": _span_s(span),
            "cause": "",
            "reason": "",
            "nodes": "",
        }
        for span in line.spans
    ]
    rows += [
        {
            "kind": "gap",
            "start": times.when(gap.start_time),
            "end": times.when(gap.end_time),
            "length_s": _span_s(gap),
            "cause": enum_name(gap, "cause").lower(),
            "reason": gap.reason,
            "nodes": ",".join(gap.node_ids),
        }
        for gap in line.gaps
    ]
    return sorted(rows, key=lambda row: (row["start"], row["kind"] == "gap"))


def _span_s(span: R.TimelineSpan | R.RecordingGap) -> float:
    return (span.end_time.ToDatetime(UTC) - span.start_time.ToDatetime(UTC)).total_seconds()


@app.command("timeline")
def timeline(
    ctx: typer.Context,
    *,
    camera_id: str = typer.Argument(..., help="The camera's id."),
    start: str | None = typer.Option(
        None, "--start", help="From (2026-12-06T03:00:00Z, or an age: 2h). Default: 1h before end."
    ),
    end: str | None = _END,
) -> None:
    """Show a camera's recorded spans and gaps (with their causes), and its coverage."""
    from camfleet.v1 import recording_pb2 as R

    s = state.session(ctx)
    since, until = times.time_range(start, end, timedelta(hours=1))
    line = s.call(
        _stub(s).GetTimeline,
        R.GetTimelineRequest(
            camera_id=camera_id, start_time=times.ts(since), end_time=times.ts(until)
        ),
    )
    out = state.printer(ctx)
    if out.structured:
        out.item(line, [])
        return
    out.table(
        ("", "START", "END", "LENGTH", "CAUSE", "REASON", "NODES"),
        (
            (
                row["kind"],
                row["start"],
                row["end"],
                times.seconds_text(row["length_s"]),
                row["cause"],
                row["reason"],
                row["nodes"],
            )
            for row in _timeline_rows(line)
        ),
    )
    out.console.print(
        f"Recorded {times.length_text(line.recorded)} of {times.length_text(line.expected)} "
        f"expected: coverage {line.coverage * 100:.2f}%, {len(line.gaps)} gap(s).",
        markup=False,
    )


app.command("download")(recording_files.download)
app.command("export")(recording_files.export)


@app.command("delete")
def delete(
    ctx: typer.Context,
    *,
    recording_id: str = typer.Argument(..., help="The segment's id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a recorded segment from the index and, through its node, from disk."""
    from camfleet.v1 import recording_pb2 as R

    if not yes and not typer.confirm(f"Delete recording {recording_id}?", err=True):
        raise CliError("Nothing deleted.", ExitCode.ERROR)
    s = state.session(ctx)
    s.call(_stub(s).DeleteRecording, R.DeleteRecordingRequest(id=recording_id))
    state.printer(ctx).done(f"Deleted recording {recording_id}.", {"deleted": [recording_id]})


@app.command("playback-url")
def playback_url(
    ctx: typer.Context,
    *,
    camera_id: str = typer.Argument(..., help="The camera's id."),
    start: str = typer.Option(..., "--start", help="From (2026-12-06T03:00:00Z, or an age: 1h)."),
    end: str | None = _END,
) -> None:
    """Print a signed VOD HLS URL over the range (a player seeks across segments and gaps)."""
    from camfleet.v1 import recording_pb2 as R

    s = state.session(ctx)
    since, until = times.time_range(start, end, timedelta(0))
    resp = s.call(
        _stub(s).GetPlaybackUrl,
        R.GetPlaybackUrlRequest(
            camera_id=camera_id, start_time=times.ts(since), end_time=times.ts(until)
        ),
    )
    state.printer(ctx).done(
        resp.url, {"url": resp.url, "expire_time": times.when(resp.expire_time)}
    )
