"""`camfleet alerts`: alerts (list, get, acknowledge), and the rules, silences and channels
AlertService offers (camfleet.cli.commands.alert_config holds the last two)."""

from __future__ import annotations

import typer
from camfleet.cli import state
from camfleet.cli.commands import alert_config, times
from camfleet.cli.commands.settings_values import BadValue, apply_assignments, enum_number
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name, labels

app = typer.Typer(
    name="alerts",
    help="Alerts, and the rules, silences and channels behind them.",
    no_args_is_help=True,
)
rules = typer.Typer(name="rules", help="Alert rules: what fires when.", no_args_is_help=True)
app.add_typer(rules)
app.add_typer(alert_config.silences)
app.add_typer(alert_config.channels)

# The fields of AlertCondition's `kind`, for --kind's help (written out: the help is built before
# the API's messages are imported; tests/cli/test_cli_start.py checks the list against them).
_KINDS = [
    "camera_offline",
    "camera_error",
    "recording_gap",
    "recorder_crash_loop",
    "node_lost",
    "node_disk",
    "stream_quality",
    "failed_logins",
    "token_new_address",
]


_stub = alert_config.stub
pages = alert_config.pages
pairs = alert_config.pairs


_ALERTS = [
    Column("ID", lambda a: a.id),
    Column("STATE", lambda a: enum_name(a, "state")),
    Column("SEVERITY", lambda a: enum_name(a, "severity")),
    Column("RULE", lambda a: a.rule_name),
    Column("SUMMARY", lambda a: a.summary),
    Column("SINCE", lambda a: times.when(a.active_time)),
    Column("ACK", lambda a: a.acknowledged),
    Column("SILENCED", lambda a: ",".join(a.silenced_by), wide=True),
    Column("INHIBITED BY", lambda a: a.inhibited_by, wide=True),
    Column("LABELS", lambda a: labels(a.labels), wide=True),
]


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    *,
    filter_text: str = typer.Option(
        "",
        "--filter",
        help="e.g. 'state = FIRING', 'labels.camera = \"ID\"', 'acknowledged = false'.",
    ),
    order_by: str = typer.Option("", "--order-by", help="active_time, firing_time, severity..."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
) -> None:
    """List alerts, newest first."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    request = A.ListAlertsRequest(page_size=min(limit, 1000), filter=filter_text, order_by=order_by)
    state.printer(ctx).items(pages(s, _stub(s).ListAlerts, request, "alerts", limit), _ALERTS)


@app.command("get")
def get_alert(
    ctx: typer.Context, alert_id: str = typer.Argument(..., help="The alert's id.")
) -> None:
    """Show one alert."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    state.printer(ctx).item(
        s.call(_stub(s).GetAlert, A.GetAlertRequest(id=alert_id)).alert, _ALERTS
    )


@app.command("ack")
def acknowledge(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="The alert's id."),
    *,
    comment: str = typer.Option("", "--comment", "-m", help="Why (shown with the alert)."),
    undo: bool = typer.Option(False, "--undo", help="Unacknowledge instead."),
) -> None:
    """Acknowledge a firing alert (its repeat notifications stop until it resolves)."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    if undo:
        alert = s.call(_stub(s).UnacknowledgeAlert, A.UnacknowledgeAlertRequest(id=alert_id)).alert
    else:
        request = A.AcknowledgeAlertRequest(id=alert_id, comment=comment)
        alert = s.call(_stub(s).AcknowledgeAlert, request).alert
    state.printer(ctx).item(alert, _ALERTS)


_RULES = [
    Column("ID", lambda r: r.id),
    Column("NAME", lambda r: r.name),
    Column("KIND", lambda r: r.condition.WhichOneof("kind") or "-"),
    Column("SEVERITY", lambda r: enum_name(r, "severity")),
    Column("FOR", lambda r: times.length_text(r.__getattribute__("for"))),
    Column("ENABLED", lambda r: r.enabled),
    Column("MATCH", lambda r: labels(r.match_labels), wide=True),
    Column("LABELS", lambda r: labels(r.labels), wide=True),
    Column("DESCRIPTION", lambda r: r.description, wide=True),
]


@rules.command("list")
def list_rules(
    ctx: typer.Context,
    *,
    filter_text: str = typer.Option("", "--filter", help="Fields name, kind, severity, enabled."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
) -> None:
    """List alert rules."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    request = A.ListAlertRulesRequest(page_size=min(limit, 1000), filter=filter_text)
    state.printer(ctx).items(pages(s, _stub(s).ListAlertRules, request, "rules", limit), _RULES)


@rules.command("get")
def get_rule(ctx: typer.Context, rule_id: str = typer.Argument(..., help="The rule's id.")) -> None:
    """Show one alert rule."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    rule = s.call(_stub(s).GetAlertRule, A.GetAlertRuleRequest(id=rule_id)).rule
    state.printer(ctx).item(rule, _RULES)


_PARAM = typer.Option(
    None, "--param", "-p", help="A threshold of the kind, e.g. min_gap=30s, min_free_percent=10."
)
_LABEL = typer.Option(None, "--label", help="name=value added to its alerts (repeatable).")
_MATCH = typer.Option(None, "--match", help="Only cameras/nodes with label name=value.")


@rules.command("create")
def create_rule(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name, 1-100 characters."),
    *,
    kind: str = typer.Option(..., "--kind", help="What it watches: " + ", ".join(_KINDS) + "."),
    params: list[str] | None = _PARAM,
    severity: str = typer.Option("warning", "--severity", help="info, warning or critical."),
    pending_for: str | None = typer.Option(None, "--for", help="Must hold this long (e.g. 2m)."),
    description: str = typer.Option("", "--description", help="For people reading the alert."),
    label: list[str] | None = _LABEL,
    match: list[str] | None = _MATCH,
    disabled: bool = typer.Option(False, "--disabled", help="Create it switched off."),
) -> None:
    """Create an alert rule."""
    from camfleet.v1 import alert_pb2 as A

    kind_name = kind.strip().replace("-", "_")
    if kind_name not in _KINDS:
        raise CliError(f"--kind: {kind!r} is not one of {', '.join(_KINDS)}.", ExitCode.USAGE)
    rule = A.AlertRule(name=name, description=description, enabled=not disabled)
    condition = getattr(rule.condition, kind_name)
    condition.SetInParent()
    try:
        apply_assignments(kind_name, condition, params or [])
        rule.severity = enum_number(A.AlertSeverity.DESCRIPTOR, severity)  # type: ignore[assignment]
    except BadValue as err:
        raise CliError(str(err), ExitCode.USAGE) from None
    if pending_for:
        getattr(rule, "for").CopyFrom(times.duration(times.parse_age(pending_for, "--for")))
    rule.labels.update(pairs(label, "--label"))
    rule.match_labels.update(pairs(match, "--match"))
    s = state.session(ctx)
    created = s.call(_stub(s).CreateAlertRule, A.CreateAlertRuleRequest(rule=rule)).rule
    state.printer(ctx).item(created, _RULES)


@rules.command("enable")
def enable_rule(
    ctx: typer.Context,
    rule_id: str = typer.Argument(..., help="The rule's id."),
    *,
    off: bool = typer.Option(False, "--off", help="Disable it instead."),
) -> None:
    """Switch a rule on (or off with --off)."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    request = A.UpdateAlertRuleRequest(rule=A.AlertRule(id=rule_id, enabled=not off))
    request.update_mask.paths.append("enabled")
    rule = s.call(_stub(s).UpdateAlertRule, request).rule
    state.printer(ctx).item(rule, _RULES)


@rules.command("delete")
def delete_rule(
    ctx: typer.Context,
    rule_id: str = typer.Argument(..., help="The rule's id."),
    *,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a rule; its alerts end (resolved notifications go out for the firing ones)."""
    from camfleet.v1 import alert_pb2 as A

    if not yes and not typer.confirm(f"Delete alert rule {rule_id}?", err=True):
        raise CliError("Nothing deleted.", ExitCode.ERROR)
    s = state.session(ctx)
    s.call(_stub(s).DeleteAlertRule, A.DeleteAlertRuleRequest(id=rule_id))
    state.printer(ctx).done(f"Deleted alert rule {rule_id}.", {"deleted": [rule_id]})
