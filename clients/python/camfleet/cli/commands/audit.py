"""`camfleet audit`: the audit log (admin), filtered by actor, action, outcome and time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from camfleet.cli import state
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, when
from camfleet.cli.parsing import join_filters, parse_duration, quote

app = typer.Typer(
    name="audit",
    help="The audit log: every change and security event, newest first.",
    no_args_is_help=True,
)

COLUMNS = [
    Column("TIME", lambda a: when(a.time)),
    Column("ACTOR", lambda a: a.actor),
    Column("ACTION", lambda a: a.action),
    Column("TARGET", lambda a: a.target),
    Column("OUTCOME", lambda a: a.outcome),
    Column("ADDRESS", lambda a: a.source_address, wide=True),
    Column("METHOD", lambda a: a.method, wide=True),
    Column(
        "DETAILS", lambda a: " ".join(f"{k}={v}" for k, v in sorted(a.details.items())), wide=True
    ),
]


def _time(text: str, option: str) -> str:
    """An RFC 3339 time from an absolute time or an age ('2h' = two hours ago)."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            at = datetime.now(UTC) - parse_duration(text, option)
        except CliError:
            raise CliError(
                f"{option} {text!r} is neither a time (2026-11-01T00:00:00Z) nor an age (2h, 7d).",
                ExitCode.USAGE,
            ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@app.command("list")
def list_audit(
    ctx: typer.Context,
    *,
    filter_: str = typer.Option(
        "",
        "--filter",
        "-f",
        help="Server filter on actor, actor_id, action, target, outcome, source_address, "
        "method, time.",
    ),
    actor: str | None = typer.Option(None, "--actor", help="Only this actor (a username)."),
    action: str | None = typer.Option(
        None, "--action", help="Only this action, e.g. camera.create."
    ),
    target: str | None = typer.Option(None, "--target", help="Only this target, e.g. cameras/ID."),
    outcome: str | None = typer.Option(None, "--outcome", help="success, failure or denied."),
    since: str | None = typer.Option(None, "--since", help="From this time or age (2h, 7d)."),
    until: str | None = typer.Option(None, "--until", help="Up to this time or age."),
    limit: int = typer.Option(100, "--limit", min=1, help="Show at most this many entries."),
) -> None:
    """List audit log entries, newest first."""
    from camfleet.v1 import audit_pb2, audit_pb2_grpc

    s = state.session(ctx)
    parts = [filter_]
    for name, value in (
        ("actor", actor),
        ("action", action),
        ("target", target),
        ("outcome", outcome),
    ):
        if value is not None:
            parts.append(f"{name} = {quote(value)}")
    if since is not None:
        parts.append(f"time >= {quote(_time(since, '--since'))}")
    if until is not None:
        parts.append(f"time <= {quote(_time(until, '--until'))}")
    stub: Any = s.stub(audit_pb2_grpc.AuditServiceStub)
    found: list[audit_pb2.AuditLog] = []
    token, total = "", 0
    while len(found) < limit:
        resp = s.call(
            stub.ListAuditLogs,
            audit_pb2.ListAuditLogsRequest(
                filter=join_filters(*parts),
                order_by="time desc",
                page_size=min(1000, limit - len(found)),
                page_token=token,
            ),
        )
        found.extend(resp.audit_logs)
        total, token = max(resp.total_size, len(found)), resp.next_page_token
        if not token:
            break
    out = state.printer(ctx)
    out.items(found, COLUMNS)
    if total > len(found):
        out.note(f"Showing the newest {len(found)} of {total} entries; raise --limit to see more.")
