"""A channel's settings: their checks (every problem a field violation with a sentence, named
by its API path such as "channel.webhook.url"), defaults, the webhook signing secret, and the
row <-> domain mapping (the row's `config` JSON holds everything but the secret)."""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
from dataclasses import replace
from typing import Any

from server.alerts.model import (
    Channel,
    ChannelConfig,
    ChannelKind,
    EmailConfig,
    SmsConfig,
    SmsProvider,
    SmtpSecurity,
    WebhookConfig,
)
from server.alerts.senders.http import url_problem
from server.common.validation import clean_text
from server.db.models import ChannelRow
from server.errors import FieldViolation, InvalidArgument

MAX_NAME = 100
MAX_RECIPIENTS = 20
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 60.0
MAX_URL = 2000
DEFAULT_PORTS = {SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465, SmtpSecurity.NONE: 25}
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32

_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]{2,45}\]?")
_ACCOUNT = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
_NUMBER = re.compile(r"\+?[0-9]{3,20}")
# A sender: a number, or an alphanumeric sender id (1-11 characters, as SMS carriers allow).
_SENDER = re.compile(r"\+?[0-9]{3,20}|[A-Za-z0-9 ]{1,11}")


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: "whsec_" + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _webhook_secret_problem(secret: str) -> str:
    if not secret.startswith(SECRET_PREFIX):
        return (
            f'must start with "{SECRET_PREFIX}" followed by base64 of 24 to 64 random bytes; '
            "leave it empty to have one generated"
        )
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return f'is not "{SECRET_PREFIX}" followed by valid base64'
    if not 24 <= len(key) <= 64:
        return f"must hold 24 to 64 bytes after {SECRET_PREFIX} (it holds {len(key)})"
    return ""


class _Checks:
    """Collects the violations of one channel so the caller hears about all of them at once."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.violations: list[FieldViolation] = []

    def bad(self, path: str, description: str) -> None:
        self.violations.append(FieldViolation(f"{self.prefix}.{path}", description))

    def text(self, path: str, value: str, *, max_len: int, required: bool) -> None:
        try:
            clean_text(value, f"{self.prefix}.{path}", max_len=max_len, required=required)
        except InvalidArgument as error:
            self.violations.extend(error.violations)

    def url(self, path: str, url: str) -> None:
        if not url:
            self.bad(path, "is required: an http:// or https:// URL")
        elif len(url) > MAX_URL:
            self.bad(path, f"must be at most {MAX_URL} characters, got {len(url)}")
        elif problem := url_problem(url):
            self.bad(path, problem)

    def recipients(self, path: str, values: tuple[str, ...], pattern: re.Pattern[str]) -> None:
        what = "addresses" if pattern is _ADDRESS else "numbers"
        if not 1 <= len(values) <= MAX_RECIPIENTS:
            self.bad(path, f"must list 1 to {MAX_RECIPIENTS} {what}, got {len(values)}")
            return
        seen: set[str] = set()
        for i, value in enumerate(values):
            if not pattern.fullmatch(value) or len(value) > 254:
                shown = value if len(value) <= 60 else value[:60] + "…"
                example = "name@example.org" if pattern is _ADDRESS else "+4915112345678"
                self.bad(f"{path}[{i}]", f"{shown!r} is not a valid {what[:-1]} (like {example})")
            elif value.lower() in seen:
                self.bad(f"{path}[{i}]", f"{value!r} is listed twice")
            seen.add(value.lower())

    def raise_if_any(self) -> None:
        if not self.violations:
            return
        first = self.violations[0]
        more = f" (and {len(self.violations) - 1} more)" if len(self.violations) > 1 else ""
        raise InvalidArgument(
            f"{first.field}: {first.description}{more}", violations=self.violations
        )


def check_channel(channel: Channel, *, creating: bool, field: str = "channel") -> Channel:
    """`channel` with defaults filled in and its name trimmed, or InvalidArgument listing every
    bad field. `creating`: a webhook without a secret gets a new one; SMS needs its token.
    On update the caller passes the secret to keep when none was given."""
    checks = _Checks(field)
    name = channel.name.strip()
    checks.text("name", name, max_len=MAX_NAME, required=True)
    config = channel.config
    secret = channel.secret
    if isinstance(config, WebhookConfig):
        config, secret = _check_webhook(checks, config, secret, creating)
    elif isinstance(config, EmailConfig):
        config = _check_email(checks, config, secret)
    else:
        _check_sms(checks, config, secret)
    checks.raise_if_any()
    return replace(channel, name=name, config=config, secret=secret)


def _check_webhook(
    checks: _Checks, config: WebhookConfig, secret: str, creating: bool
) -> tuple[WebhookConfig, str]:
    checks.url("webhook.url", config.url)
    timeout = config.timeout_s or DEFAULT_TIMEOUT_S
    if not math.isfinite(timeout) or not 0 < timeout <= MAX_TIMEOUT_S:
        checks.bad("webhook.timeout", f"must be more than 0 s and at most {MAX_TIMEOUT_S:g} s")
    if not secret and creating:
        secret = new_webhook_secret()
    elif secret and (problem := _webhook_secret_problem(secret)):
        checks.bad("webhook.secret", problem)
    return replace(config, timeout_s=timeout), secret


def _check_email(checks: _Checks, config: EmailConfig, secret: str) -> EmailConfig:
    host = config.smtp_host.strip()
    if not host:
        checks.bad("email.smtp_host", "is required: the SMTP server's host name or address")
    elif not _HOST.fullmatch(host):
        checks.bad("email.smtp_host", f"{host[:60]!r} is not a host name or IP address")
    port = config.smtp_port or DEFAULT_PORTS.get(config.security, 587)
    if not 1 <= port <= 65535:
        checks.bad("email.smtp_port", f"must be 1 to 65535 (0: the default), got {port}")
    if config.security not in DEFAULT_PORTS:
        checks.bad("email.security", "must be starttls, tls or none")
    checks.text("email.username", config.username, max_len=200, required=False)
    checks.text("email.password", secret, max_len=1000, required=False)
    sender = config.from_addr.strip()
    if not sender:
        checks.bad("email.from", "is required: the sender's address (like alerts@example.org)")
    elif not _ADDRESS.fullmatch(sender) or len(sender) > 254:
        checks.bad(
            "email.from", f"{sender[:60]!r} is not a valid address (like alerts@example.org)"
        )
    to = tuple(a.strip() for a in config.to)
    checks.recipients("email.to", to, _ADDRESS)
    return replace(config, smtp_host=host, smtp_port=port, from_addr=sender, to=to)


def _check_sms(checks: _Checks, config: SmsConfig, secret: str) -> None:
    if config.provider not in (SmsProvider.TWILIO, SmsProvider.KANNEL):
        checks.bad("sms.provider", "must be twilio or kannel")
    checks.url("sms.url", config.url)
    who = "account SID" if config.provider is SmsProvider.TWILIO else "sendsms user name"
    if not config.account.strip():
        checks.bad("sms.account", f"is required: the {who}")
    elif not _ACCOUNT.fullmatch(config.account):
        checks.bad(
            "sms.account",
            f"must be 1 to 128 letters, digits, '_', '.', '@' or '-' (the {who}), "
            f"got {config.account[:40]!r}",
        )
    if not secret:
        token = "auth token" if config.provider is SmsProvider.TWILIO else "sendsms password"
        checks.bad("sms.token", f"is required: the {token}")
    else:
        checks.text("sms.token", secret, max_len=1000, required=True)
    if not _SENDER.fullmatch(config.from_number):
        checks.bad(
            "sms.from",
            f"{config.from_number[:40]!r} is not a sender: a number (like +4915112345678) or "
            "1 to 11 letters and digits",
        )
    checks.recipients("sms.to", config.to, _NUMBER)


# --- rows ------------------------------------------------------------------------------------


def kind_of(config: ChannelConfig) -> ChannelKind:
    if isinstance(config, WebhookConfig):
        return ChannelKind.WEBHOOK
    return ChannelKind.EMAIL if isinstance(config, EmailConfig) else ChannelKind.SMS


def config_to_json(config: ChannelConfig) -> dict[str, Any]:
    if isinstance(config, WebhookConfig):
        return {"url": config.url, "timeout_s": config.timeout_s}
    if isinstance(config, EmailConfig):
        return {
            "smtp_host": config.smtp_host,
            "smtp_port": config.smtp_port,
            "security": config.security.value,
            "username": config.username,
            "from": config.from_addr,
            "to": list(config.to),
            "attach_snapshot": config.attach_snapshot,
        }
    return {
        "provider": config.provider.value,
        "url": config.url,
        "account": config.account,
        "from": config.from_number,
        "to": list(config.to),
    }


def config_from_json(kind: str, data: dict[str, Any]) -> ChannelConfig:
    if kind == ChannelKind.WEBHOOK:
        return WebhookConfig(url=data["url"], timeout_s=float(data.get("timeout_s", 10.0)))
    if kind == ChannelKind.EMAIL:
        return EmailConfig(
            smtp_host=data["smtp_host"],
            smtp_port=int(data["smtp_port"]),
            security=SmtpSecurity(data["security"]),
            from_addr=data["from"],
            to=tuple(data["to"]),
            username=data.get("username", ""),
            attach_snapshot=bool(data.get("attach_snapshot", False)),
        )
    return SmsConfig(
        provider=SmsProvider(data["provider"]),
        url=data["url"],
        account=data["account"],
        from_number=data["from"],
        to=tuple(data["to"]),
    )


def channel_of(row: ChannelRow) -> Channel:
    """The domain channel of a row (with its secret: only senders and the store read it)."""
    return Channel(
        id=row.id,
        name=row.name,
        config=config_from_json(row.kind, row.config),
        secret=row.secret,
        paused=row.paused,
        pause_reason=row.pause_reason,
        pause_time=row.pause_time,
        consecutive_failures=row.consecutive_failures,
        last_success_time=row.last_success_time,
        last_failure_time=row.last_failure_time,
        last_error=row.last_error,
        create_time=row.create_time,
        update_time=row.update_time,
    )
