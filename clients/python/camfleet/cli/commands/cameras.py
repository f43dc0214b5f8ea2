"""`camfleet cameras`: list, get, create, update and delete cameras; the actions on one or many
(activate, deactivate, start/stop recording, rotate key) live in camera_actions.py."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.commands import camera_actions
from camfleet.cli.commands.camera_lookup import list_all, resolve
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name, labels, size, when
from camfleet.cli.parsing import duration_message, parse_pairs

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.v1 import camera_pb2, camera_pb2_grpc

app = typer.Typer(
    name="cameras",
    help="Cameras: list, inspect, create, change and delete them; activate, record, rotate keys.",
    no_args_is_help=True,
)


def _age(c: camera_pb2.Camera) -> str:
    if not c.HasField("retention_max_age"):
        return "-"
    days = c.retention_max_age.seconds / 86400
    return "none" if days == 0 else f"{days:g}d"


COLUMNS = [
    Column("NAME", lambda c: c.name),
    Column("STATUS", lambda c: enum_name(c, "status")),
    Column("ACTIVE", lambda c: c.active),
    Column(
        "RECORDING", lambda c: "off" if not c.recording_enabled else enum_name(c, "recording_state")
    ),
    Column("INGEST", lambda c: enum_name(c, "ingest_mode")),
    Column("NODE", lambda c: c.node_id[:8] if c.node_id else "-"),
    Column("ID", lambda c: c.id),
    Column("LOCATION", lambda c: c.location, wide=True),
    Column("LABELS", lambda c: labels(c.labels), wide=True),
    Column("PROFILE", lambda c: enum_name(c, "recording_profile"), wide=True),
    Column("RETENTION", _age, wide=True),
    Column(
        "MAX BYTES",
        lambda c: size(c.retention_max_bytes) if c.retention_max_bytes else "-",
        wide=True,
    ),
    Column("SOURCE", lambda c: c.source_url, wide=True),
    Column("STATUS REASON", lambda c: c.status_reason or c.placement_reason, wide=True),
    Column("CREATED", lambda c: when(c.create_time), wide=True),
]
# `get` shows everything a table can.
DETAIL_COLUMNS = [
    *[replace(c, wide=False) for c in COLUMNS if c.header != "NODE"],
    Column("DESCRIPTION", lambda c: c.description),
    Column("NODE ID", lambda c: c.node_id),
    Column("NODE SELECTOR", lambda c: labels(c.node_selector)),
    Column("LADDER", lambda c: ",".join(c.live_ladder) or "(settings default)"),
    Column("STREAM KEY", lambda c: c.stream_key),
    Column("UPDATED", lambda c: when(c.update_time)),
]


def _profile(text: str) -> int:
    from camfleet.v1 import recording_pb2

    profiles = {
        v.name.removeprefix("RECORDING_PROFILE_").lower(): v.number
        for v in recording_pb2.RecordingProfile.DESCRIPTOR.values
        if v.number
    }
    number = profiles.get(text.lower())
    if number is None:
        raise CliError(
            f"--profile {text!r} is not a recording profile; choose one of {', '.join(profiles)}.",
            ExitCode.USAGE,
        )
    return number


def _stub(s: Any) -> camera_pb2_grpc.CameraServiceStub:
    from camfleet.v1 import camera_pb2_grpc

    return s.stub(camera_pb2_grpc.CameraServiceStub)  # type: ignore[no-any-return]


@app.command("list")
def list_cameras(
    ctx: typer.Context,
    *,
    filter_: str = typer.Option(
        "",
        "--filter",
        "-f",
        help="Server filter, e.g. 'status = ONLINE AND labels.site = \"north\"' "
        "(fields: name, status, active, recording_enabled, ingest_mode, node_id, labels.KEY, ...).",
    ),
    search: str = typer.Option("", "--search", help="Free text in name, description, location."),
    order_by: str = typer.Option(
        "name", "--order-by", help="name, status, create_time, update_time; add ' desc'."
    ),
    limit: int = typer.Option(500, "--limit", min=1, help="Show at most this many cameras."),
) -> None:
    """List cameras, filtered with the server's filter syntax."""
    s = state.session(ctx)
    cameras, total = list_all(s, filter_, limit, search=search, order_by=order_by)
    out = state.printer(ctx)
    out.items(cameras, COLUMNS)
    if total > len(cameras):
        out.note(f"Showing {len(cameras)} of {total} cameras; raise --limit to see more.")


@app.command("get")
def get_camera(
    ctx: typer.Context, camera: str = typer.Argument(..., help="Camera id or name.")
) -> None:
    """Show one camera in full."""
    from camfleet.v1 import camera_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).GetCamera, camera_pb2.GetCameraRequest(id=resolve(s, camera)))
    state.printer(ctx).item(resp.camera, DETAIL_COLUMNS)


def _apply(
    cam: camera_pb2.Camera,
    paths: list[str],
    *,
    description: str | None,
    location: str | None,
    source_url: str | None,
    pull: bool | None,
    record: bool | None,
    profile: str | None,
    retention: str | None,
    max_bytes: int | None,
    ladder: str | None = None,
) -> None:
    """Put the given options into `cam`, naming each changed field in `paths`."""
    from camfleet.v1 import camera_pb2

    simple: dict[str, object] = {
        "description": description,
        "location": location,
        "source_url": source_url,
        "recording_enabled": record,
        "retention_max_bytes": max_bytes,
    }
    for name, value in simple.items():
        if value is not None:
            setattr(cam, name, value)
            paths.append(name)
    if pull is not None:
        cam.ingest_mode = camera_pb2.INGEST_MODE_PULL if pull else camera_pb2.INGEST_MODE_PUSH
        paths.append("ingest_mode")
    if profile is not None:
        cam.recording_profile = _profile(profile)  # type: ignore[assignment]
        paths.append("recording_profile")
    if retention is not None:
        cam.retention_max_age.CopyFrom(duration_message(retention, "--retention"))
        paths.append("retention_max_age")
    if ladder is not None:  # "" empties it: the settings' default ladder applies
        cam.live_ladder[:] = [rung.strip() for rung in ladder.split(",") if rung.strip()]
        paths.append("live_ladder")


_DESCRIPTION = typer.Option(None, "--description", "-d", help="Free text, up to 2000 characters.")
_LOCATION = typer.Option(None, "--location", help="Where it is, up to 200 characters.")
_SOURCE = typer.Option(
    None, "--source-url", help="Pull cameras: rtsp://, rtmp:// or http(s):// URL to pull."
)
_RECORD = typer.Option(None, "--record/--no-record", help="Record the camera (or not).")
_PROFILE = typer.Option(
    None, "--profile", help="Recording profile: original, low, medium, high, ultra."
)
_RETENTION = typer.Option(
    None, "--retention", help="Delete recordings older than this (7d, 12h; 0 = no limit)."
)
_MAX_BYTES = typer.Option(
    None,
    "--max-bytes",
    min=0,
    help="Delete the oldest recordings beyond this many bytes (0 = no limit).",
)
_LADDER = typer.Option(
    None,
    "--ladder",
    help='Live ladder: rungs "source" or a height like 360p, comma-separated (at most 4); '
    '"" follows the streaming settings\' default.',
)
_LABEL = typer.Option(None, "--label", "-l", help="key=value to set, key- to remove; repeatable.")
_SELECTOR = typer.Option(
    None,
    "--node-selector",
    help="Pull cameras: key=value a node must carry (key- removes); repeatable.",
)


@app.command("create")
def create_camera(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name, 1-200 characters."),
    *,
    description: str | None = _DESCRIPTION,
    location: str | None = _LOCATION,
    source_url: str | None = _SOURCE,
    pull: bool | None = typer.Option(
        None,
        "--pull/--push",
        help="Pull --source-url, or wait for the camera to publish "
        "(default: pull when --source-url is given).",
    ),
    record: bool | None = _RECORD,
    inactive: bool = typer.Option(
        False, "--inactive", help="Create it deactivated (publishes refused)."
    ),
    profile: str | None = _PROFILE,
    retention: str | None = _RETENTION,
    max_bytes: int | None = _MAX_BYTES,
    ladder: str | None = _LADDER,
    label: list[str] | None = _LABEL,
    node_selector: list[str] | None = _SELECTOR,
) -> None:
    """Create a camera. Push cameras publish RTMP with their stream key; pull cameras are
    pulled from --source-url by a node."""
    from camfleet.v1 import camera_pb2

    s = state.session(ctx)
    cam = camera_pb2.Camera(name=name, active=not inactive)
    if pull is None and source_url:
        pull = True
    _apply(
        cam,
        [],
        description=description,
        location=location,
        source_url=source_url,
        pull=pull,
        record=record,
        profile=profile,
        retention=retention,
        max_bytes=max_bytes,
        ladder=ladder,
    )
    cam.labels.update(parse_pairs(label or [], "--label")[0])
    cam.node_selector.update(parse_pairs(node_selector or [], "--node-selector")[0])
    resp = s.call(_stub(s).CreateCamera, camera_pb2.CreateCameraRequest(camera=cam))
    out = state.printer(ctx)
    if out.structured:
        out.item(resp.camera, DETAIL_COLUMNS)
    else:
        out.done(f"Created camera {resp.camera.name} ({resp.camera.id}).")


@app.command("update")
def update_camera(
    ctx: typer.Context,
    camera: str = typer.Argument(..., help="Camera id or name."),
    *,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = _DESCRIPTION,
    location: str | None = _LOCATION,
    source_url: str | None = _SOURCE,
    pull: bool | None = typer.Option(
        None, "--pull/--push", help="Switch to pulling source_url, or to publishing."
    ),
    record: bool | None = _RECORD,
    profile: str | None = _PROFILE,
    retention: str | None = _RETENTION,
    max_bytes: int | None = _MAX_BYTES,
    ladder: str | None = _LADDER,
    label: list[str] | None = _LABEL,
    node_selector: list[str] | None = _SELECTOR,
) -> None:
    """Change a camera: only the fields given as options change."""
    from camfleet.v1 import camera_pb2
    from google.protobuf import field_mask_pb2

    given = (name, description, location, source_url, pull, record, profile, retention, max_bytes)
    if all(v is None for v in (*given, ladder)) and not label and not node_selector:
        raise CliError("Nothing to change: give at least one option (see --help).", ExitCode.USAGE)
    s = state.session(ctx)
    camera_id = resolve(s, camera)
    cam = camera_pb2.Camera(id=camera_id)
    paths: list[str] = []
    if name is not None:
        cam.name, paths = name, ["name"]
    _apply(
        cam,
        paths,
        description=description,
        location=location,
        source_url=source_url,
        pull=pull,
        record=record,
        profile=profile,
        retention=retention,
        max_bytes=max_bytes,
        ladder=ladder,
    )
    if label or node_selector:
        current = s.call(_stub(s).GetCamera, camera_pb2.GetCameraRequest(id=camera_id)).camera
        for option, items, field in (
            ("--label", label, "labels"),
            ("--node-selector", node_selector, "node_selector"),
        ):
            if not items:
                continue
            to_set, to_remove = parse_pairs(items, option)
            merged = {k: v for k, v in getattr(current, field).items() if k not in to_remove}
            merged.update(to_set)
            getattr(cam, field).update(merged)
            paths.append(field)
    resp = s.call(
        _stub(s).UpdateCamera,
        camera_pb2.UpdateCameraRequest(
            camera=cam, update_mask=field_mask_pb2.FieldMask(paths=paths)
        ),
    )
    out = state.printer(ctx)
    if out.structured:
        out.item(resp.camera, DETAIL_COLUMNS)
    else:
        out.done(f"Updated camera {resp.camera.name}: {', '.join(paths)}.")


@app.command("urls")
def stream_urls(
    ctx: typer.Context, camera: str = typer.Argument(..., help="Camera id or name.")
) -> None:
    """Where the camera publishes (RTMP) and where to watch it (signed HLS URL)."""
    from camfleet.v1 import camera_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).GetStreamUrls, camera_pb2.GetStreamUrlsRequest(id=resolve(s, camera)))
    state.printer(ctx).item(
        resp,
        [
            Column("PUBLISH", lambda r: r.rtmp_publish_url),
            Column("PLAYBACK", lambda r: r.hls_playback_url),
            Column("EXPIRES", lambda r: when(r.expire_time)),
        ],
    )


camera_actions.register(app, COLUMNS)
