"""`camfleet alerts silences` and `camfleet alerts channels`, and the helpers the alert commands
share (paging, name=value options)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.commands import times
from camfleet.cli.commands.settings_values import BadValue, apply_assignments
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import Column, enum_name

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.cli.session import Session
    from camfleet.v1 import alert_pb2, alert_pb2_grpc
    from google.protobuf.message import Message

silences = typer.Typer(
    name="silences", help="Silences: mute matching alerts for a while.", no_args_is_help=True
)
channels = typer.Typer(
    name="channels", help="Notification channels: webhook, email, SMS.", no_args_is_help=True
)


def stub(s: Session) -> alert_pb2_grpc.AlertServiceStub:
    """The AlertService of the session."""
    from camfleet.v1 import alert_pb2_grpc

    return s.stub(alert_pb2_grpc.AlertServiceStub)


def pages(s: Session, method: Any, request: Message, field: str, limit: int) -> list[Any]:
    """Up to `limit` items of a paged List call (page_token filled in here)."""
    found: list[Any] = []
    while len(found) < limit:
        resp = s.call(method, request)
        found += getattr(resp, field)
        request.page_token = resp.next_page_token  # type: ignore[attr-defined]
        if not resp.next_page_token:
            break
    return found[:limit]


def pairs(words: list[str] | None, option: str) -> dict[str, str]:
    """`k=v` words of a repeated option as a mapping."""
    found: dict[str, str] = {}
    for word in words or []:
        key, sep, value = word.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{option}: {word!r} is not name=value.", ExitCode.USAGE)
        found[key.strip()] = value.strip()
    return found


def _matcher(word: str) -> alert_pb2.Matcher:
    from camfleet.v1 import alert_pb2 as A

    name, sep, value = word.partition("!=")
    operator = A.Matcher.OPERATOR_NOT_EQUAL
    if not sep:
        name, sep, value = word.partition("=")
        operator = A.Matcher.OPERATOR_EQUAL
    if not sep or not name.strip():
        raise CliError(f"--matcher: {word!r} is not label=value or label!=value.", ExitCode.USAGE)
    return A.Matcher(name=name.strip(), value=value.strip(), operator=operator)


def matchers_text(matchers: Iterable[alert_pb2.Matcher]) -> str:
    """Matchers as people write them: `camera=ID, site!=north`."""
    from camfleet.v1 import alert_pb2 as A

    ops = {A.Matcher.OPERATOR_NOT_EQUAL: "!="}
    return ", ".join(f"{m.name}{ops.get(m.operator, '=')}{m.value}" for m in matchers)


_SILENCES = [
    Column("ID", lambda x: x.id),
    Column("STATE", lambda x: enum_name(x, "state")),
    Column("MATCHERS", lambda x: matchers_text(x.matchers)),
    Column("START", lambda x: times.when(x.start_time)),
    Column("END", lambda x: times.when(x.end_time)),
    Column("MUTES", lambda x: x.matched_alerts),
    Column("AUTHOR", lambda x: x.author, wide=True),
    Column("COMMENT", lambda x: x.comment),
]


@silences.command("list")
def list_silences(
    ctx: typer.Context,
    *,
    filter_text: str = typer.Option("", "--filter", help="e.g. 'state = ACTIVE'."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
) -> None:
    """List silences."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    request = A.ListSilencesRequest(page_size=min(limit, 1000), filter=filter_text)
    state.printer(ctx).items(pages(s, stub(s).ListSilences, request, "silences", limit), _SILENCES)


_MATCHERS = typer.Option(
    ..., "--matcher", "-m", help="label=value or label!=value (repeatable; all must match)."
)


@silences.command("create")
def create_silence(
    ctx: typer.Context,
    *,
    matchers: list[str] = _MATCHERS,
    duration: str = typer.Option("1h", "--duration", help="How long from its start (e.g. 2h)."),
    start: str | None = typer.Option(None, "--start", help="Later start: a maintenance window."),
    comment: str = typer.Option("", "--comment", help="Why."),
) -> None:
    """Mute notifications of alerts whose labels match, from now (or --start) for --duration."""
    from camfleet.v1 import alert_pb2 as A

    since = times.parse_time(start, "--start") if start else datetime.now(UTC)
    length = times.parse_age(duration, "--duration")
    if length <= timedelta(0):
        raise CliError("--duration must be longer than 0.", ExitCode.USAGE)
    silence = A.Silence(
        matchers=[_matcher(m) for m in matchers],
        start_time=times.ts(since),
        end_time=times.ts(since + length),
        comment=comment,
    )
    s = state.session(ctx)
    created = s.call(stub(s).CreateSilence, A.CreateSilenceRequest(silence=silence)).silence
    state.printer(ctx).item(created, _SILENCES)


@silences.command("expire")
def expire_silence(
    ctx: typer.Context, silence_id: str = typer.Argument(..., help="The silence's id.")
) -> None:
    """End a silence now (it stays listed as EXPIRED)."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    ended = s.call(stub(s).ExpireSilence, A.ExpireSilenceRequest(id=silence_id)).silence
    state.printer(ctx).item(ended, _SILENCES)


def _target(c: alert_pb2.Channel) -> str:
    which = c.WhichOneof("config")
    if which == "webhook":
        return c.webhook.url
    if which == "email":
        return ",".join(c.email.to)
    if which == "sms":
        return ",".join(c.sms.to)
    return ""


_CHANNELS = [
    Column("ID", lambda c: c.id),
    Column("NAME", lambda c: c.name),
    Column("TYPE", lambda c: c.WhichOneof("config") or "-"),
    Column("TO", _target),
    Column("PAUSED", lambda c: c.paused),
    Column("FAILURES", lambda c: c.consecutive_failures),
    Column("LAST ERROR", lambda c: c.last_error, wide=True),
    Column("SECRET SET", lambda c: c.secret_set, wide=True),
]
_TYPES = ("webhook", "email", "sms")


@channels.command("list")
def list_channels(
    ctx: typer.Context,
    *,
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
) -> None:
    """List notification channels."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    request = A.ListChannelsRequest(page_size=min(limit, 1000))
    state.printer(ctx).items(pages(s, stub(s).ListChannels, request, "channels", limit), _CHANNELS)


@channels.command("get")
def get_channel(
    ctx: typer.Context, channel_id: str = typer.Argument(..., help="The channel's id.")
) -> None:
    """Show one channel."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    channel = s.call(stub(s).GetChannel, A.GetChannelRequest(id=channel_id)).channel
    state.printer(ctx).item(channel, _CHANNELS)


_SETTINGS = typer.Argument(
    ...,
    help="key=value of the type's fields: webhook url=, timeout=; email smtp_host=, "
    "smtp_port=, security=starttls|tls|none, username=, from=, to=a@x,b@y; sms provider="
    "twilio|kannel, url=, account=, from=, to=. Secrets (secret=, password=, token=) are "
    "better read from stdin with --secret-stdin.",
)


@channels.command("create")
def create_channel(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name, 1-100 characters."),
    kind: str = typer.Argument(..., help="webhook, email or sms."),
    fields: list[str] = _SETTINGS,
    *,
    secret_stdin: bool = typer.Option(
        False,
        "--secret-stdin",
        help="Read the secret (signing secret, password, token) from stdin.",
    ),
) -> None:
    """Create a channel; a webhook created without a secret gets one, shown once."""
    from camfleet.v1 import alert_pb2 as A

    if kind not in _TYPES:
        raise CliError(f"{kind!r} is not webhook, email or sms.", ExitCode.USAGE)
    channel = A.Channel(name=name)
    config = getattr(channel, kind)
    config.SetInParent()
    try:
        apply_assignments(kind, config, fields)
    except BadValue as err:
        raise CliError(str(err), ExitCode.USAGE) from None
    if secret_stdin:
        import sys

        secret_field = {"webhook": "secret", "email": "password", "sms": "token"}[kind]
        setattr(config, secret_field, sys.stdin.readline().strip())
    s = state.session(ctx)
    resp = s.call(stub(s).CreateChannel, A.CreateChannelRequest(channel=channel))
    out = state.printer(ctx)
    out.item(resp.channel, _CHANNELS)
    if resp.generated_secret and not out.structured:
        out.note(f"Signing secret (shown once): {resp.generated_secret}")


@channels.command("test")
def test_channel(
    ctx: typer.Context, channel_id: str = typer.Argument(..., help="The channel's id.")
) -> None:
    """Queue a test notification on the channel (see it in the delivery log)."""
    from camfleet.v1 import alert_pb2 as A

    s = state.session(ctx)
    sent = s.call(stub(s).TestChannel, A.TestChannelRequest(id=channel_id)).notification
    state.printer(ctx).done(
        f"Queued test notification {sent.id} on channel {channel_id}.", {"notification_id": sent.id}
    )


@channels.command("delete")
def delete_channel(
    ctx: typer.Context,
    channel_id: str = typer.Argument(..., help="The channel's id."),
    *,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a channel."""
    from camfleet.v1 import alert_pb2 as A

    if not yes and not typer.confirm(f"Delete channel {channel_id}?", err=True):
        raise CliError("Nothing deleted.", ExitCode.ERROR)
    s = state.session(ctx)
    s.call(stub(s).DeleteChannel, A.DeleteChannelRequest(id=channel_id))
    state.printer(ctx).done(f"Deleted channel {channel_id}.", {"deleted": [channel_id]})
