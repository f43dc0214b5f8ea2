"""`camfleet events watch`: the platform's changes as they happen, resuming after a dropped
connection from the last revision seen (camfleet.cli.commands.watching)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import typer
from camfleet.cli import state
from camfleet.cli.commands import times
from camfleet.cli.errors import CliError, ExitCode, error_reason
from camfleet.cli.output import OutputFormat, enum_name, to_dict

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    import grpc
    from camfleet.cli.session import Session
    from camfleet.v1 import event_pb2

app = typer.Typer(
    name="events",
    help="Real-time changes of cameras, nodes, streams, recordings, alerts and settings.",
    no_args_is_help=True,
)

# The EventTypes a filter may name (not UNSPECIFIED, not BOOKMARK), for --filter's help: written
# out, as the help is built before the API's messages are imported; tests/cli/test_cli_start.py
# checks the list against EventType.
_TYPES = (
    "CAMERA_CREATED, CAMERA_UPDATED, CAMERA_DELETED, CAMERA_STATUS_CHANGED, NODE_JOINED, "
    "NODE_STATE_CHANGED, NODE_UPDATED, NODE_DELETED, STREAM_UPDATED, RECORDING_STATE_CHANGED, "
    "RECORDING_ADDED, CAMERA_PLACED, ALERT_CHANGED, SETTINGS_CHANGED, STORAGE_TIER_CHANGED"
)


def _current_revision(s: Session) -> int:
    """The revision the platform is at now (ListCameras reflects it), so that a connection
    dropped before the first event resumes from here; 0 when the caller may not list cameras."""
    import grpc
    from camfleet.v1 import camera_pb2, camera_pb2_grpc

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
    import grpc
    from camfleet.cli.commands.watching import Cursor, follow
    from camfleet.v1 import event_pb2_grpc

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
