"""The file-writing commands of `camfleet recordings`: `download` (segments, resumable, with a
progress bar) and `export` (a clip). camfleet.cli.commands.transfer does the HTTP side."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.commands import times
from camfleet.cli.commands.settings_values import parse_size
from camfleet.cli.errors import CliError, ExitCode

# The API's messages, grpc, rich.progress and transfer's urllib are imported where a command
# runs: `camfleet --help` needs none of them.
if TYPE_CHECKING:
    from camfleet.cli.commands import transfer
    from camfleet.cli.session import Session
    from camfleet.v1 import recording_pb2 as R
    from camfleet.v1 import recording_pb2_grpc
    from rich.progress import Progress

_EXTENSIONS = {"mpegts": "ts", "mp4": "mp4"}
_START = typer.Option(None, "--start", help="From (2026-12-06T03:00:00Z, or an age: 2h).")
_END = typer.Option(None, "--end", help="Until (default now).")


def stub(s: Session) -> recording_pb2_grpc.RecordingServiceStub:
    """The RecordingService of the session."""
    from camfleet.v1 import recording_pb2_grpc

    return s.stub(recording_pb2_grpc.RecordingServiceStub)


def listed(
    s: Session, camera_id: str, *, start: str | None, end: str | None, limit: int
) -> list[R.Recording]:
    from camfleet.v1 import recording_pb2 as R

    since, until = times.time_range(start, end, timedelta(hours=24))
    request = R.ListRecordingsRequest(
        camera_id=camera_id,
        start_time=times.ts(since),
        end_time=times.ts(until),
        page_size=min(max(limit, 1), 1000) if limit else 1000,
    )
    found: list[R.Recording] = []
    while True:
        resp = s.call(stub(s).ListRecordings, request)
        found += resp.recordings
        request.page_token = resp.next_page_token
        if not request.page_token or (limit and len(found) >= limit):
            return found[:limit] if limit else found


@contextmanager
def _progress(enabled: bool, console: Any) -> Iterator[Progress]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not enabled,
    )
    with bar:
        yield bar


def _fetch(
    bar: Progress, url: str, dest: Path, *, size: int | None, sha256: str, limit: int
) -> transfer.Downloaded:
    from camfleet.cli.commands import transfer

    task = bar.add_task(dest.name, total=size)

    def moved(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    try:
        return transfer.download(
            url, dest, expected_size=size, sha256=sha256, progress=moved, limit_bytes_per_s=limit
        )
    except transfer.Interrupted as err:
        raise CliError(str(err), ExitCode.INTERRUPTED) from None
    except transfer.TransferError as err:
        raise CliError(str(err), ExitCode.ERROR) from None


def _segment_name(r: R.Recording) -> str:
    at = r.start_time.ToDatetime(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{r.camera_id}-{at}Z-{r.id[:8]}.{_EXTENSIONS.get(r.container, 'ts')}"


def _download_segment(
    s: Session, bar: Progress, r: R.Recording, dest: Path, *, limit: int
) -> transfer.Downloaded | None:
    from camfleet.v1 import recording_pb2 as R

    if dest.exists() and dest.stat().st_size == r.size_bytes:
        return None  # already whole: a range download run again skips what it has
    url = s.call(stub(s).GetDownloadUrl, R.GetDownloadUrlRequest(id=r.id)).url
    return _fetch(bar, url, dest, size=r.size_bytes or None, sha256=r.sha256, limit=limit)


def _rate(text: str | None) -> int:
    if not text:
        return 0
    try:
        return parse_size(text)
    except ValueError:
        raise CliError(
            f"--limit-rate: {text!r} is not a rate in bytes per second (e.g. 500KiB).",
            ExitCode.USAGE,
        ) from None


def download(
    ctx: typer.Context,
    *,
    recording_id: str | None = typer.Argument(None, help="One segment's id (or use --camera)."),
    camera_id: str | None = typer.Option(
        None, "--camera", help="Download every segment of this camera in --start/--end instead."
    ),
    start: str | None = _START,
    end: str | None = _END,
    output: str | None = typer.Option(
        None,
        "--output-file",
        "-O",
        help="File to write (one segment; default ID.ts) or directory (--camera; default .).",
    ),
    limit_rate: str | None = typer.Option(
        None, "--limit-rate", help="At most this many bytes per second (e.g. 500KiB, 2MiB)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Download recorded segments from the node that holds them, checked against their SHA-256.

    An interrupted download (Ctrl-C, a full disk, a lost connection) keeps what it wrote in
    FILE.part; the same command run again continues from there."""
    from camfleet.v1 import recording_pb2 as R

    if (recording_id is None) == (camera_id is None):
        raise CliError(
            "Give either a recording id or --camera (with --start/--end).", ExitCode.USAGE
        )
    s = state.session(ctx)
    out = state.printer(ctx)
    limit = _rate(limit_rate)
    if recording_id is not None:
        r = s.call(stub(s).GetRecording, R.GetRecordingRequest(id=recording_id)).recording
        wanted = [(r, Path(output or f"{r.id}.{_EXTENSIONS.get(r.container, 'ts')}"))]
    else:
        assert camera_id is not None
        folder = Path(output or ".")
        if folder.exists() and not folder.is_dir():
            raise CliError(f"{folder} is not a directory.", ExitCode.USAGE)
        folder.mkdir(parents=True, exist_ok=True)
        found = listed(s, camera_id, start=start, end=end, limit=0)
        if not found:
            raise CliError("No recordings of that camera in that range.", ExitCode.NOT_FOUND)
        wanted = [(r, folder / _segment_name(r)) for r in found]
    results: list[dict[str, Any]] = []
    with _progress(progress and not out.structured, out.err) as bar:
        for r, dest in wanted:
            got = _download_segment(s, bar, r, dest, limit=limit)
            results.append(
                {
                    "recording_id": r.id,
                    "path": str(dest),
                    "size_bytes": dest.stat().st_size,
                    "resumed_from": got.resumed_from if got else None,
                    "skipped": got is None,
                }
            )
    lines = []
    for row in results:
        if row["skipped"]:
            lines.append(f"{row['path']} is already downloaded ({row['size_bytes']} bytes).")
        elif row["resumed_from"]:
            lines.append(
                f"Downloaded {row['path']} ({row['size_bytes']} bytes, resumed at byte "
                f"{row['resumed_from']}; SHA-256 checked)."
            )
        else:
            lines.append(f"Downloaded {row['path']} ({row['size_bytes']} bytes; SHA-256 checked).")
    out.done("\n".join(lines), results if len(results) > 1 or camera_id else results[0])


def export(
    ctx: typer.Context,
    *,
    camera_id: str = typer.Argument(..., help="The camera's id."),
    start: str = typer.Option(..., "--start", help="From (2026-12-06T03:00:00Z, or an age: 10m)."),
    end: str | None = _END,
    output: str | None = typer.Option(
        None, "--output-file", "-O", help="MP4 file to write (default clip-CAMERA-START.mp4)."
    ),
    url_only: bool = typer.Option(
        False, "--url", help="Print the signed URL of the clip instead of downloading it."
    ),
    limit_rate: str | None = typer.Option(
        None, "--limit-rate", help="At most this many bytes per second (e.g. 500KiB)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Export a clip: one MP4 of the range, assembled at the node with stream copy (at most 6
    hours). A range recorded on several nodes (a failover) is assembled at one of them, which
    fetches the rest; a gap in the range stays in the clip as time (the picture holds) and is
    named."""
    from camfleet.cli.commands import transfer
    from camfleet.v1 import recording_pb2 as R

    s = state.session(ctx)
    out = state.printer(ctx)
    since, until = times.time_range(start, end, timedelta(0))
    clip = s.call(
        stub(s).ExportClip,
        R.ExportClipRequest(
            camera_id=camera_id, start_time=times.ts(since), end_time=times.ts(until)
        ),
        timeout=600,
    )
    if url_only:
        out.done(clip.url, {"url": clip.url, "expire_time": times.when(clip.expire_time)})
        return
    dest = Path(output or f"clip-{camera_id}-{since.strftime('%Y%m%dT%H%M%S')}Z.mp4")
    # A clip is assembled anew for every URL, so a .part of another URL is not its prefix.
    transfer.part_path(dest).unlink(missing_ok=True)
    with _progress(progress and not out.structured, out.err) as bar:
        got = _fetch(bar, clip.url, dest, size=None, sha256="", limit=_rate(limit_rate))
    holes = [
        f"It has a hole from {times.when(h.start_time)} to {times.when(h.end_time)} "
        f"({h.reason or 'unknown'}): nothing was recorded then, and the picture holds."
        for h in clip.holes
    ]
    out.done(
        "\n".join(
            [
                f"Exported {dest} ({got.size} bytes, {times.when(clip.start_time)} to "
                f"{times.when(clip.end_time)}).",
                *holes,
            ]
        ),
        {
            "path": str(dest),
            "size_bytes": got.size,
            "start_time": times.when(clip.start_time),
            "end_time": times.when(clip.end_time),
            "holes": [
                {
                    "start_time": times.when(h.start_time),
                    "end_time": times.when(h.end_time),
                    "reason": h.reason,
                }
                for h in clip.holes
            ],
        },
    )
