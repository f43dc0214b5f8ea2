"""`camfleet alerts policies` (which alerts go to which channels, grouped and repeated how),
`camfleet alerts notifications`, `camfleet alerts deliveries` (the delivery log),
`camfleet alerts channels resume` and `camfleet alerts rules preview`, added to the `alerts`
group of camfleet.cli.commands.alerts by register()."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from camfleet.cli import state
from camfleet.cli.commands import alert_config, alerts, times
from camfleet.cli.commands.settings_values import BadValue, apply_assignments, enum_number
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name, labels

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.cli.session import Session
    from camfleet.v1 import alert_pb2

policies = typer.Typer(
    name="policies",
    help="Notification policies: which alerts go to which channels, grouped and repeated how.",
    no_args_is_help=True,
)
notifications = typer.Typer(
    name="notifications", help="Notifications sent or queued, newest first.", no_args_is_help=True
)
stub, pages = alert_config.stub, alert_config.pages


def register(root: typer.Typer) -> None:
    """Hang these commands under `camfleet alerts` (`root` is not used: alerts.app is in it)."""
    del root
    alerts.app.add_typer(policies)
    alerts.app.add_typer(notifications)


def _severities(policy: alert_pb2.NotificationPolicy) -> str:
    from camfleet.v1 import alert_pb2 as A

    names = A.AlertSeverity.DESCRIPTOR.values_by_number
    return ",".join(names[s].name.removeprefix("ALERT_SEVERITY_") for s in policy.severities)


_POLICIES = [
    Column("ID", lambda p: p.id),
    Column("NAME", lambda p: p.name),
    Column("ORDER", lambda p: p.order),
    Column("CHANNELS", lambda p: ",".join(p.channel_ids)),
    Column("MATCHERS", lambda p: alert_config.matchers_text(p.matchers) or "(every alert)"),
    Column("SEVERITIES", lambda p: _severities(p) or "(all)"),
    Column("GROUP BY", lambda p: ",".join(p.group_by)),
    Column("WAIT", lambda p: times.length_text(p.group_wait), wide=True),
    Column("INTERVAL", lambda p: times.length_text(p.group_interval), wide=True),
    Column("REPEAT", lambda p: times.length_text(p.repeat_interval), wide=True),
    Column("RESOLVED", lambda p: p.send_resolved, wide=True),
    Column("STOP", lambda p: p.stop, wide=True),
]


@policies.command("list")
def list_policies(
    ctx: typer.Context,
    *,
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
) -> None:
    """List notification policies in the order they are tried."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    request = A.ListNotificationPoliciesRequest(page_size=min(limit, 1000))
    found = pages(s, stub(s).ListNotificationPolicies, request, "policies", limit)
    state.printer(ctx).items(found, _POLICIES)


def _find(s: Session, policy: str) -> alert_pb2.NotificationPolicy:
    from camfleet.v1 import alert_pb2 as A

    request = A.ListNotificationPoliciesRequest(page_size=1000)
    for p in pages(s, stub(s).ListNotificationPolicies, request, "policies", 100_000):
        if policy in (p.id, p.name):
            return p  # type: ignore[no-any-return]
    raise CliError(f"There is no notification policy {policy!r}.", ExitCode.NOT_FOUND)


@policies.command("get")
def get_policy(
    ctx: typer.Context, policy: str = typer.Argument(..., help="The policy's id or name.")
) -> None:
    """Show one notification policy."""
    state.printer(ctx).item(_find(state.session(ctx), policy), _POLICIES)


_CHANNEL = typer.Option(None, "--channel", help="A channel id to notify (repeatable; 1-20).")
_MATCHER = typer.Option(
    None, "--matcher", "-m", help="label=value or label!=value (repeatable; all must match)."
)
_SEVERITY = typer.Option(
    None, "--severity", help="info, warning or critical (repeatable; none: every severity)."
)
_GROUP_BY = typer.Option(
    None, "--group-by", help='A label to group alerts by (repeatable; "..." each alert alone).'
)
_WAIT = typer.Option(None, "--group-wait", help="Collect a new group's alerts this long (30s).")
_INTERVAL = typer.Option(None, "--group-interval", help="Between a group's updates (5m).")
_REPEAT = typer.Option(None, "--repeat", help="Notify a group still firing again after (4h).")
_ORDER = typer.Option(None, "--order", help="Lower is tried first (default 0).")
_RESOLVED = typer.Option(
    None, "--send-resolved/--no-send-resolved", help="Notify when the alerts resolve."
)
_STOP = typer.Option(None, "--stop/--no-stop", help="Try no later policy once this one matched.")


def _fill(
    policy: alert_pb2.NotificationPolicy,
    *,
    channel: list[str] | None,
    matcher: list[str] | None,
    severity: list[str] | None,
    group_by: list[str] | None,
    durations: dict[str, tuple[str, str | None]],
    order: int | None,
    send_resolved: bool | None,
    stop: bool | None,
) -> list[str]:
    """Put the options given into `policy`; the names of the fields set."""
    from camfleet.v1 import alert_pb2 as A

    paths: list[str] = []
    lists = {
        "channel_ids": channel,
        "matchers": matcher,
        "severities": severity,
        "group_by": group_by,
    }
    for name, words in lists.items():
        if words is None:
            continue
        target = getattr(policy, name)
        if name == "matchers":
            target.extend(alert_config._matcher(w) for w in words)
        elif name == "severities":
            try:
                target.extend(enum_number(A.AlertSeverity.DESCRIPTOR, w) for w in words)
            except BadValue as err:
                raise CliError(f"--severity: {err}.", ExitCode.USAGE) from None
        else:
            target.extend(words)
        paths.append(name)
    for name, (option, text) in durations.items():
        if text is not None:
            getattr(policy, name).CopyFrom(times.duration(times.parse_age(text, option)))
            paths.append(name)
    for name, value in (("order", order), ("send_resolved", send_resolved), ("stop", stop)):
        if value is not None:
            setattr(policy, name, value)
            paths.append(name)
    return paths


@policies.command("create")
def create_policy(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name, 1-100 characters."),
    *,
    channel: list[str] | None = _CHANNEL,
    matcher: list[str] | None = _MATCHER,
    severity: list[str] | None = _SEVERITY,
    group_by: list[str] | None = _GROUP_BY,
    group_wait: str | None = _WAIT,
    group_interval: str | None = _INTERVAL,
    repeat: str | None = _REPEAT,
    order: int | None = _ORDER,
    send_resolved: bool | None = _RESOLVED,
    stop: bool | None = _STOP,
) -> None:
    """Create a notification policy: alerts matching it go to its channels."""
    from camfleet.v1 import alert_pb2 as A

    policy = A.NotificationPolicy(name=name)
    _fill(
        policy,
        channel=channel,
        matcher=matcher,
        severity=severity,
        group_by=group_by,
        durations={
            "group_wait": ("--group-wait", group_wait),
            "group_interval": ("--group-interval", group_interval),
            "repeat_interval": ("--repeat", repeat),
        },
        order=order,
        send_resolved=send_resolved,
        stop=stop,
    )
    s = state.session(ctx)
    request = A.CreateNotificationPolicyRequest(policy=policy)
    created = s.call(stub(s).CreateNotificationPolicy, request).policy
    state.printer(ctx).item(created, _POLICIES)


@policies.command("update")
def update_policy(
    ctx: typer.Context,
    policy_id: str = typer.Argument(..., help="The policy's id."),
    *,
    name: str | None = typer.Option(None, "--name", help="New name."),
    channel: list[str] | None = _CHANNEL,
    matcher: list[str] | None = _MATCHER,
    severity: list[str] | None = _SEVERITY,
    group_by: list[str] | None = _GROUP_BY,
    group_wait: str | None = _WAIT,
    group_interval: str | None = _INTERVAL,
    repeat: str | None = _REPEAT,
    order: int | None = _ORDER,
    send_resolved: bool | None = _RESOLVED,
    stop: bool | None = _STOP,
) -> None:
    """Change a policy: only the fields given change (a repeatable option replaces the list)."""
    from camfleet.v1 import alert_pb2 as A
    from google.protobuf import field_mask_pb2

    policy = A.NotificationPolicy(id=policy_id)
    paths = _fill(
        policy,
        channel=channel,
        matcher=matcher,
        severity=severity,
        group_by=group_by,
        durations={
            "group_wait": ("--group-wait", group_wait),
            "group_interval": ("--group-interval", group_interval),
            "repeat_interval": ("--repeat", repeat),
        },
        order=order,
        send_resolved=send_resolved,
        stop=stop,
    )
    if name is not None:
        policy.name = name
        paths.append("name")
    if not paths:
        raise CliError("Nothing to change: give at least one option (see --help).", ExitCode.USAGE)
    s = state.session(ctx)
    request = A.UpdateNotificationPolicyRequest(
        policy=policy, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    state.printer(ctx).item(s.call(stub(s).UpdateNotificationPolicy, request).policy, _POLICIES)


@policies.command("delete")
def delete_policy(
    ctx: typer.Context,
    policy_id: str = typer.Argument(..., help="The policy's id."),
    *,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a notification policy (alerts it matched notify through the others only)."""
    from camfleet.v1 import alert_pb2 as A

    if not yes and not typer.confirm(f"Delete notification policy {policy_id}?", err=True):
        raise CliError("Nothing deleted.", ExitCode.ERROR)
    s = state.session(ctx)
    s.call(stub(s).DeleteNotificationPolicy, A.DeleteNotificationPolicyRequest(id=policy_id))
    state.printer(ctx).done(f"Deleted notification policy {policy_id}.", {"deleted": [policy_id]})


_NOTIFICATIONS = [
    Column("ID", lambda n: n.id),
    Column("KIND", lambda n: enum_name(n, "kind")),
    Column("STATUS", lambda n: enum_name(n, "status")),
    Column("CHANNEL", lambda n: n.channel_name or n.channel_id),
    Column("SUMMARY", lambda n: n.summary),
    Column("ATTEMPTS", lambda n: n.attempts),
    Column("CREATED", lambda n: times.when(n.create_time)),
    Column("NEXT", lambda n: times.when(n.next_attempt_time), wide=True),
    Column("DELIVERED", lambda n: times.when(n.delivered_time), wide=True),
    Column("GROUP", lambda n: labels(n.group_labels), wide=True),
    Column("LAST ERROR", lambda n: n.last_error, wide=True),
]


@notifications.command("list")
def list_notifications(
    ctx: typer.Context,
    *,
    filter_text: str = typer.Option(
        "", "--filter", help="Fields channel_id, status, kind, alert_id; e.g. 'status = FAILED'."
    ),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
) -> None:
    """List notifications, newest first."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    request = A.ListNotificationsRequest(page_size=min(limit, 1000), filter=filter_text)
    found = pages(s, stub(s).ListNotifications, request, "notifications", limit)
    state.printer(ctx).items(found, _NOTIFICATIONS)


_ATTEMPTS = [
    Column("TIME", lambda a: times.when(a.time)),
    Column("OK", lambda a: a.ok),
    Column("CODE", lambda a: a.response_code or "-"),
    Column("LATENCY", lambda a: times.length_text(a.latency)),
    Column("NOTIFICATION", lambda a: a.notification_id),
    Column("ERROR", lambda a: a.error),
    Column("CHANNEL", lambda a: a.channel_id, wide=True),
    Column("RESPONSE", lambda a: a.response, wide=True),
]


@alerts.app.command("deliveries")
def list_deliveries(
    ctx: typer.Context,
    notification_or_channel: str = typer.Argument(
        ..., help="A notification's id, or a channel's id for its whole log."
    ),
    *,
    failed: bool = typer.Option(False, "--failed", help="Only the failed attempts."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
) -> None:
    """The delivery log of a notification or a channel, newest first."""
    import grpc
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    field = "notification_id"
    try:
        s.call(stub(s).GetChannel, A.GetChannelRequest(id=notification_or_channel))
        field = "channel_id"
    except grpc.RpcError as err:
        if err.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise
    filter_text = f'{field} = "{notification_or_channel}"' + (" AND ok = false" if failed else "")
    request = A.ListDeliveryAttemptsRequest(page_size=min(limit, 1000), filter=filter_text)
    state.printer(ctx).items(
        pages(s, stub(s).ListDeliveryAttempts, request, "attempts", limit), _ATTEMPTS
    )


@alert_config.channels.command("resume")
def resume_channel(
    ctx: typer.Context, channel_id: str = typer.Argument(..., help="The channel's id.")
) -> None:
    """Resume a channel paused after repeated failures (its queued notifications go out)."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    channel = s.call(stub(s).ResumeChannel, A.ResumeChannelRequest(id=channel_id)).channel
    state.printer(ctx).item(channel, alert_config._CHANNELS)


_PREVIEWED = [
    Column("STATE", lambda p: enum_name(p, "state")),
    Column("SUMMARY", lambda p: p.summary),
    Column("VALUE", lambda p: f"{p.value:g}"),
    Column("SINCE", lambda p: times.when(p.active_time)),
    Column("LABELS", lambda p: labels(p.labels), wide=True),
]


@alerts.rules.command("preview")
def preview_rule(
    ctx: typer.Context,
    *,
    kind: str = typer.Option(..., "--kind", help="What it watches, as for rules create."),
    params: list[str] | None = alerts._PARAM,
    pending_for: str | None = typer.Option(None, "--for", help="Must hold this long (2m)."),
    match: list[str] | None = alerts._MATCH,
) -> None:
    """Show the alerts a rule would raise now, without creating it."""
    from camfleet.v1 import alert_pb2 as A

    kind_name = kind.strip().replace("-", "_")
    names = [f.name for f in A.AlertCondition.DESCRIPTOR.fields]
    if kind_name not in names:
        raise CliError(f"--kind: {kind!r} is not one of {', '.join(names)}.", ExitCode.USAGE)
    rule = A.AlertRule(name="preview", enabled=True)
    condition = getattr(rule.condition, kind_name)
    condition.SetInParent()
    try:
        apply_assignments(kind_name, condition, params or [])
    except BadValue as err:
        raise CliError(str(err), ExitCode.USAGE) from None
    if pending_for:
        getattr(rule, "for").CopyFrom(times.duration(times.parse_age(pending_for, "--for")))
    rule.match_labels.update(alert_config.pairs(match, "--match"))
    s = state.session(ctx)
    resp = s.call(stub(s).PreviewAlertRule, A.PreviewAlertRuleRequest(rule=rule))
    out = state.printer(ctx)
    out.items(resp.alerts, _PREVIEWED)
    if not out.structured:
        out.note(f"{len(resp.alerts)} alert(s) of {resp.evaluated} evaluated.")
