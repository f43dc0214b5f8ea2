"""`camfleet events watch`: the platform's changes as they happen, resuming after a dropped
connection from the last revision seen (camfleet.cli.commands.watching)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import grpc
import typer
from camfleet.cli import state
from camfleet.cli.commands import times
from camfleet.cli.commands.watching import Cursor, follow
from camfleet.cli.errors import CliError, ExitCode, error_reason
from camfleet.cli.output import OutputFormat, enum_name, to_dict
from camfleet.cli.session import Session
from camfleet.v1 import camera_pb2, camera_pb2_grpc, event_pb2, event_pb2_grpc

app = typer.Typer(
    name="events",
    help="Real-time changes of cameras, nodes, streams, recordings, alerts and settings.",
    no_args_is_help=True,
)

_TYPES = ", ".join(
    name.removeprefix("EVENT_TYPE_")
    for name in event_pb2.EventType.keys()  # noqa: SIM118 - an enum wrapper
    if name not in ("EVENT_TYPE_UNSPECIFIED", "EVENT_TYPE_BOOKMARK")
)


def _current_revision(s: Session) -> int:
    """The revision the platform is at now (ListCameras reflects it), so that a connection
    dropped before the first event resumes from here; 0 when the caller may not list cameras."""
    try:
        resp = s.call(
            s.stub(camera_pb2_grpc.CameraServiceStub).ListCameras,
            camera_pb2.ListCamerasRequest(page_size=1),
        )
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.PERMISSION_DENIED:
            return 0
        raise
    return int(resp.revision)


def _line(event: event_pb2.Event) -> str:
    kind = enum_name(event, "type")
    at = times.when(event.time)
    return f"{at}  {event.revision:>8}  {kind:<24} {event.subject}  {event.message}"


@app.command("watch")
def watch(
    ctx: typer.Context,
    *,
    filter_text: str = typer.Option(
        "",
        "--filter",
        "-f",
        help="AIP-160 over type and subject, e.g. 'type = CAMERA_STATUS_CHANGED' or "
        "'subject = \"cameras/ID\"'. Types: " + _TYPES + ".",
    ),
    after_revision: int | None = typer.Option(
        None,
        "--after-revision",
        min=0,
        help="Replay every event after this revision first (a List's revision). Default: now.",
    ),
    count: int = typer.Option(
        0, "--count", "-n", min=0, help="Stop after this many events (0: until Ctrl-C)."
    ),
    give_up_after: str = typer.Option(
        "0s",
        "--give-up-after",
        help="Stop when the server has been unreachable this long (e.g. 5m; 0s: never).",
    ),
) -> None:
    """Print events as they happen; after a dropped connection, resume where it left off.

    Table output is one line per event; -o json prints one JSON object per line (JSON Lines),
    -o yaml one document per event."""
    s = state.session(ctx)
    out = state.printer(ctx)
    patience = times.parse_age(give_up_after, "--give-up-after").total_seconds()
    cursor = Cursor(_current_revision(s) if after_revision is None else after_revision)
    stub = s.stub(event_pb2_grpc.EventServiceStub)
    seen = 0

    class Enough(Exception):
        pass

    def show(event: event_pb2.Event) -> None:
        nonlocal seen
        if out.format == OutputFormat.JSON:
            sys.stdout.write(json.dumps(to_dict(event), ensure_ascii=False) + "\n")
        elif out.format == OutputFormat.YAML:
            out.data([to_dict(event)])
        else:
            out.console.print(_line(event), markup=False, highlight=False)
        sys.stdout.flush()
        seen += 1
        if count and seen >= count:
            raise Enough

    def reconnecting(err: grpc.RpcError, wait_s: float) -> None:
        out.note(
            f"Connection lost ({err.code().name}); reconnecting in {wait_s:.1f} s "
            f"from revision {cursor.revision}."
        )

    def open_watch(
        request: event_pb2.WatchEventsRequest,
    ) -> Iterable[event_pb2.WatchEventsResponse]:
        return s.stream(stub.WatchEvents, request)

    out.note(f"Watching from revision {cursor.revision}; Ctrl-C stops.")
    try:
        follow(
            open_watch,
            cursor,
            filter_text,
            show,
            on_reconnect=reconnecting,
            give_up_after_s=patience,
        )
    except Enough:
        return
    except grpc.RpcError as err:
        if error_reason(err) == "REVISION_COMPACTED":
            raise CliError(
                f"Events after revision {cursor.revision} are no longer kept; list what you "
                "follow again and watch from the revision that list returns "
                "(--after-revision).",
                ExitCode.CONFLICT,
            ) from None
        raise
    except KeyboardInterrupt:
        out.note(f"Stopped at revision {cursor.revision} (resume with --after-revision).")
        raise CliError("Interrupted.", ExitCode.INTERRUPTED) from None
