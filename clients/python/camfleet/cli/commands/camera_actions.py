"""The actions on cameras: on the ones named, or on every camera a `--selector` filter matches
(after a confirmation, or `--yes`). Many cameras go through BatchCameraAction, all or nothing
per thousand."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer
from camfleet.cli import state
from camfleet.cli.commands.camera_lookup import PAGE_SIZE, list_all, resolve
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.v1 import camera_pb2

# A selector may match the whole fleet; more than this is surely a mistake.
SELECTOR_LIMIT = 100_000


@dataclass(frozen=True)
class Action:
    command: str
    # By name, as camera_pb2 is imported only when an action runs: the CameraAction value of
    # BatchCameraAction (a message takes an enum's value by its name), the RPC on one camera,
    # and its request message.
    batch: str
    rpc: str
    request: str
    verb: str  # "activate" -> "Activated"
    help: str


ACTIONS = [
    Action(
        "activate",
        "CAMERA_ACTION_ACTIVATE",
        "ActivateCamera",
        "ActivateCameraRequest",
        "activated",
        "Activate cameras: their publishes are accepted and they are recorded again.",
    ),
    Action(
        "deactivate",
        "CAMERA_ACTION_DEACTIVATE",
        "DeactivateCamera",
        "DeactivateCameraRequest",
        "deactivated",
        "Deactivate cameras: their publishes are refused and they are not recorded.",
    ),
    Action(
        "start-recording",
        "CAMERA_ACTION_START_RECORDING",
        "StartRecording",
        "StartRecordingRequest",
        "started recording",
        "Start recording cameras.",
    ),
    Action(
        "stop-recording",
        "CAMERA_ACTION_STOP_RECORDING",
        "StopRecording",
        "StopRecordingRequest",
        "stopped recording",
        "Stop recording cameras (their recordings stay).",
    ),
    Action(
        "rotate-key",
        "CAMERA_ACTION_ROTATE_STREAM_KEY",
        "RotateStreamKey",
        "RotateStreamKeyRequest",
        "rotated the stream key of",
        "Issue new stream keys; the old ones stop working at once.",
    ),
    Action(
        "delete",
        "CAMERA_ACTION_DELETE",
        "DeleteCamera",
        "DeleteCameraRequest",
        "deleted",
        "Delete cameras.",
    ),
]

_CAMERAS = typer.Argument(None, help="Camera ids or names.", show_default=False)
_SELECTOR = typer.Option(
    None,
    "--selector",
    help="Act on every camera this filter matches (server filter syntax), after a confirmation.",
)
_YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


def _confirm(action: Action, cameras: Sequence[camera_pb2.Camera], yes: bool) -> None:
    if yes:
        return
    names = ", ".join(c.name for c in cameras[:10]) + (" ..." if len(cameras) > 10 else "")
    question = f"{action.command.replace('-', ' ').capitalize()} {len(cameras)} camera(s): {names}?"
    if not sys.stdin.isatty():
        raise CliError(
            f"{question[:-1]} needs a confirmation and there is no terminal to ask; "
            "pass --yes to go ahead.",
            ExitCode.USAGE,
        )
    if not typer.confirm(question, default=False, err=True):
        raise CliError("Nothing changed.", ExitCode.ERROR)


def run_action(
    ctx: typer.Context,
    action: Action,
    *,
    refs: list[str] | None,
    selector: str | None,
    yes: bool,
    columns: Sequence[Column],
) -> None:
    """Apply `action` to the cameras named by `refs` or matched by `selector`."""
    from camfleet.v1 import camera_pb2, camera_pb2_grpc

    if bool(refs) == (selector is not None):
        raise CliError(
            "Name the cameras (ids or names) or pass --selector FILTER, not both.", ExitCode.USAGE
        )
    s = state.session(ctx)
    stub = s.stub(camera_pb2_grpc.CameraServiceStub)
    out = state.printer(ctx)
    if selector is not None:
        matched, _ = list_all(s, selector, SELECTOR_LIMIT)
        if not matched:
            out.note("No camera matches the selector; nothing changed.")
            if out.structured:
                out.data({"deleted": []} if action.command == "delete" else [])
            return
        _confirm(action, matched, yes)
        ids = [c.id for c in matched]
    else:
        ids = list(dict.fromkeys(resolve(s, r) for r in refs or []))
    changed: list[camera_pb2.Camera] = []
    if len(ids) == 1 and selector is None:
        request = getattr(camera_pb2, action.request)(id=ids[0])
        resp = s.call(getattr(stub, action.rpc), request)
        if action.command != "delete":
            changed.append(resp.camera)
    else:
        for start in range(0, len(ids), PAGE_SIZE):
            batch = s.call(
                stub.BatchCameraAction,
                camera_pb2.BatchCameraActionRequest(
                    ids=ids[start : start + PAGE_SIZE],
                    action=action.batch,
                ),
            )
            changed.extend(batch.cameras)
    if action.batch == "CAMERA_ACTION_DELETE":
        out.done(f"Deleted {len(ids)} camera(s).", {"deleted": ids})
        return
    if action.command == "rotate-key":
        keep = ("NAME", "ID")
        columns = [*(c for c in columns if c.header in keep), Column("STREAM KEY", _key)]
    if out.structured:
        out.items(changed, columns)
        return
    out.done(f"{action.verb.capitalize()} {len(ids)} camera(s).")
    out.items(changed, columns)


def _key(c: camera_pb2.Camera) -> str:
    return c.stream_key


def _command(action: Action, columns: Sequence[Column]) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        cameras: list[str] | None = _CAMERAS,
        *,
        selector: str | None = _SELECTOR,
        yes: bool = _YES,
    ) -> None:
        run_action(ctx, action, refs=cameras, selector=selector, yes=yes, columns=columns)

    command.__doc__ = action.help
    command.__name__ = action.command.replace("-", "_")
    return command


def register(app: typer.Typer, columns: Sequence[Column]) -> None:
    """Add one command per action to the cameras group."""
    for action in ACTIONS:
        app.command(action.command)(_command(action, columns))
