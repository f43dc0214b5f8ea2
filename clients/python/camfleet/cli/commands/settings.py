"""`camfleet settings`: the platform's settings groups (get, set with a version for optimistic
concurrency, history)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.commands import times
from camfleet.cli.commands.settings_values import (
    GROUPS,
    BadValue,
    apply_assignments,
    field_text,
    group_name,
    group_number,
    settable_fields,
)
from camfleet.cli.errors import CliError, ExitCode, describe_rpc_error, error_reason
from camfleet.cli.output import Column, OutputFormat, to_dict

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.cli.session import Session
    from camfleet.v1 import settings_pb2 as S
    from camfleet.v1 import settings_pb2_grpc
    from google.protobuf.message import Message

app = typer.Typer(
    name="settings",
    help="Platform settings: streaming, recording, storage, security, notifications.",
    no_args_is_help=True,
)

_GROUP_HELP = "One of " + ", ".join(GROUPS) + "."


def _stub(s: Session) -> settings_pb2_grpc.SettingsServiceStub:
    from camfleet.v1 import settings_pb2_grpc

    return s.stub(settings_pb2_grpc.SettingsServiceStub)


def _group(name: str) -> int:
    try:
        return group_number(name)
    except BadValue as err:
        raise CliError(str(err), ExitCode.USAGE) from None


def _rows(settings: S.Settings, only: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in GROUPS:
        if (only and name != only) or not settings.HasField(name):
            continue
        message: Message = getattr(settings, name)
        revision = message.revision  # type: ignore[attr-defined]
        for field in message.DESCRIPTOR.fields:
            if field.name == "revision" or field.name.startswith("clear_"):
                continue
            if f"{field.name}_set" in message.DESCRIPTOR.fields_by_name:
                continue  # a write-only secret; its *_set field says whether one is stored
            rows.append(
                {
                    "group": name,
                    "field": field.name,
                    "value": field_text(message, field),
                    "version": revision.version,
                    "updated": times.when(revision.update_time),
                    "by": revision.updated_by,
                }
            )
    return rows


_COLUMNS = [
    Column("GROUP", lambda r: r["group"]),
    Column("FIELD", lambda r: r["field"]),
    Column("VALUE", lambda r: r["value"]),
    Column("VERSION", lambda r: r["version"]),
    Column("UPDATED", lambda r: r["updated"], wide=True),
    Column("BY", lambda r: r["by"], wide=True),
]


def _print(ctx: typer.Context, settings: S.Settings, only: str | None) -> None:
    out = state.printer(ctx)
    if out.structured:
        data = to_dict(settings)
        out.data(data.get(only, {}) if only else data)
        return
    chosen = [c for c in _COLUMNS if not c.wide or out.format == OutputFormat.WIDE]
    out.table(
        [c.header for c in chosen], ([c.value(r) for c in chosen] for r in _rows(settings, only))
    )


@app.command("get")
def get(
    ctx: typer.Context,
    group: str | None = typer.Argument(None, help="Only this group. " + _GROUP_HELP),
) -> None:
    """Show the settings in force (every group, or one) with each group's version."""
    from camfleet.v1 import settings_pb2 as S

    s = state.session(ctx)
    number = _group(group) if group else S.SETTINGS_GROUP_UNSPECIFIED
    resp = s.call(_stub(s).GetSettings, S.GetSettingsRequest(group=number))  # type: ignore[arg-type]
    _print(ctx, resp.settings, group_name(number))


_ASSIGNMENTS = typer.Argument(
    ...,
    help="key=value pairs, e.g. segment_length=4s default_profile=low "
    "login_allowlist=10.0.0.0/8,192.0.2.7 free_space_floor_bytes=2GiB.",
)


@app.command("set")
def set_(
    ctx: typer.Context,
    *,
    group: str = typer.Argument(..., help=_GROUP_HELP),
    assignments: list[str] = _ASSIGNMENTS,
    version: int | None = typer.Option(
        None,
        "--version",
        min=1,
        help="The group's version your change is based on (see settings get); refused when "
        "someone changed the group since. Default: the version read just before.",
    ),
) -> None:
    """Change fields of one group; only the fields named change."""
    import grpc
    from camfleet.v1 import settings_pb2 as S
    from google.protobuf import field_mask_pb2

    number = _group(group)
    name = group_name(number)
    s = state.session(ctx)
    message_type = getattr(S.Settings(), name).__class__
    message = message_type()
    try:
        paths = apply_assignments(name, message, assignments)
    except BadValue as err:
        raise CliError(str(err), ExitCode.USAGE) from None
    if version is None:
        current = s.call(_stub(s).GetSettings, S.GetSettingsRequest(group=number))  # type: ignore[arg-type]
        version = int(getattr(current.settings, name).revision.version)
    request = S.UpdateSettingsRequest(
        update_mask=field_mask_pb2.FieldMask(paths=paths), version=version
    )
    getattr(request, name).CopyFrom(message)
    try:
        resp = s.call(_stub(s).UpdateSettings, request)
    except grpc.RpcError as err:
        if error_reason(err) == "SETTINGS_VERSION_CONFLICT":
            described = describe_rpc_error(err, s.server)
            raise CliError(
                f"The {name} settings changed since version {version} (someone else saved "
                f"them); nothing was changed. Read them again with camfleet settings get {name}, "
                f"then repeat your change (with --version of what you read).",
                ExitCode.CONFLICT,
                [described.message],
            ) from None
        raise
    updated = getattr(resp.settings, name)
    out = state.printer(ctx)
    if out.structured:
        out.data(to_dict(updated))
        return
    out.done(
        f"Updated the {name} settings ({', '.join(paths)}): now version {updated.revision.version}."
    )


_HISTORY = [
    Column("GROUP", lambda c: group_name(c.group) or "-"),
    Column("VERSION", lambda c: c.version),
    Column("TIME", lambda c: times.when(c.change_time)),
    Column("ACTOR", lambda c: c.actor),
    Column("CHANGES", lambda c: "; ".join(f"{f.field}: {f.before} -> {f.after}" for f in c.fields)),
]


@app.command("history")
def history(
    ctx: typer.Context,
    group: str | None = typer.Argument(None, help="Only this group. " + _GROUP_HELP),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="At most this many changes."),
) -> None:
    """Show who changed which settings when, each field before and after, newest first."""
    from camfleet.v1 import settings_pb2 as S

    s = state.session(ctx)
    number = _group(group) if group else S.SETTINGS_GROUP_UNSPECIFIED
    request = S.ListSettingsHistoryRequest(group=number, page_size=min(limit, 200))  # type: ignore[arg-type]
    changes: list[S.SettingsChange] = []
    while len(changes) < limit:
        resp = s.call(_stub(s).ListSettingsHistory, request)
        changes += resp.changes
        request.page_token = resp.next_page_token
        if not request.page_token:
            break
    state.printer(ctx).items(changes[:limit], _HISTORY)


@app.command("fields")
def fields(
    ctx: typer.Context,
    group: str = typer.Argument(..., help=_GROUP_HELP),
) -> None:
    """List the fields of a group that `settings set` takes."""
    from camfleet.v1 import settings_pb2 as S

    name = group_name(_group(group))
    message = getattr(S.Settings(), name)
    state.printer(ctx).done(
        "\n".join(settable_fields(message.DESCRIPTOR)), settable_fields(message.DESCRIPTOR)
    )
