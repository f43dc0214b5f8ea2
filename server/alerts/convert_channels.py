"""Channels, notification policies, notifications and delivery attempts between alert.proto and
the domain. A channel's secret travels in only: `channel_to_proto` never sets it (secret_set
says whether one is stored). Structural checks only; the domain checks values."""

from __future__ import annotations

from camfleet.v1 import alert_pb2

from server.alerts import model
from server.alerts.convert import (
    SEVERITY_TO_PROTO,
    duration,
    matchers_from_proto,
    matchers_to_proto,
    seconds_or,
    severity_from_proto,
)
from server.alerts.model import Channel, DeliveryAttempt, Notification, Policy
from server.common.wire import timestamp
from server.errors import InvalidArgument

_SECURITY_FROM_PROTO = {
    alert_pb2.EmailConfig.SECURITY_UNSPECIFIED: model.SmtpSecurity.STARTTLS,
    alert_pb2.EmailConfig.SECURITY_STARTTLS: model.SmtpSecurity.STARTTLS,
    alert_pb2.EmailConfig.SECURITY_TLS: model.SmtpSecurity.TLS,
    alert_pb2.EmailConfig.SECURITY_NONE: model.SmtpSecurity.NONE,
}
_SECURITY_TO_PROTO = {
    model.SmtpSecurity.STARTTLS: alert_pb2.EmailConfig.SECURITY_STARTTLS,
    model.SmtpSecurity.TLS: alert_pb2.EmailConfig.SECURITY_TLS,
    model.SmtpSecurity.NONE: alert_pb2.EmailConfig.SECURITY_NONE,
}
_DEFAULT_PORTS = {
    model.SmtpSecurity.STARTTLS: 587,
    model.SmtpSecurity.TLS: 465,
    model.SmtpSecurity.NONE: 25,
}
_PROVIDER_FROM_PROTO = {
    alert_pb2.SmsConfig.PROVIDER_TWILIO: model.SmsProvider.TWILIO,
    alert_pb2.SmsConfig.PROVIDER_KANNEL: model.SmsProvider.KANNEL,
}
_PROVIDER_TO_PROTO = {v: k for k, v in _PROVIDER_FROM_PROTO.items()}
NOTIFICATION_KIND_TO_PROTO = {
    model.NotificationKind.FIRING: alert_pb2.NOTIFICATION_KIND_FIRING,
    model.NotificationKind.RESOLVED: alert_pb2.NOTIFICATION_KIND_RESOLVED,
    model.NotificationKind.TEST: alert_pb2.NOTIFICATION_KIND_TEST,
}
NOTIFICATION_STATUS_TO_PROTO = {
    model.NotificationStatus.QUEUED: alert_pb2.NOTIFICATION_STATUS_QUEUED,
    model.NotificationStatus.RETRYING: alert_pb2.NOTIFICATION_STATUS_RETRYING,
    model.NotificationStatus.DELIVERED: alert_pb2.NOTIFICATION_STATUS_DELIVERED,
    model.NotificationStatus.FAILED: alert_pb2.NOTIFICATION_STATUS_FAILED,
}
CHANNEL_KINDS = ("webhook", "email", "sms")


# --- channels ------------------------------------------------------------------------------------


def channel_from_proto(c: alert_pb2.Channel, field: str = "channel") -> Channel:
    """A channel as the caller wrote it, its secret (input only) in `secret` ("" keeps the
    stored one on update; a webhook's is generated when empty on create)."""
    kind = c.WhichOneof("config")
    if kind is None:
        raise InvalidArgument.for_field(field, "set one configuration: webhook, email or sms")
    config: model.ChannelConfig
    if kind == "webhook":
        w = c.webhook
        config = model.WebhookConfig(
            url=w.url.strip(),
            timeout_s=seconds_or(w, "timeout", 10.0, f"{field}.webhook.timeout"),
        )
        secret = w.secret
    elif kind == "email":
        e = c.email
        security = _SECURITY_FROM_PROTO.get(e.security)
        if security is None:
            raise InvalidArgument.for_field(
                f"{field}.email.security",
                "must be SECURITY_STARTTLS, SECURITY_TLS or SECURITY_NONE",
            )
        config = model.EmailConfig(
            smtp_host=e.smtp_host.strip(),
            smtp_port=e.smtp_port or _DEFAULT_PORTS[security],
            security=security,
            from_addr=getattr(e, "from").strip(),
            to=tuple(a.strip() for a in e.to),
            username=e.username,
            attach_snapshot=e.attach_snapshot,
        )
        secret = e.password
    else:
        s = c.sms
        provider = _PROVIDER_FROM_PROTO.get(s.provider)
        if provider is None:
            raise InvalidArgument.for_field(
                f"{field}.sms.provider", "must be PROVIDER_TWILIO or PROVIDER_KANNEL"
            )
        config = model.SmsConfig(
            provider=provider,
            url=s.url.strip(),
            account=s.account,
            from_number=getattr(s, "from").strip(),
            to=tuple(n.strip() for n in s.to),
        )
        secret = s.token
    return Channel(id=c.id, name=c.name, config=config, secret=secret)


def channel_to_proto(ch: Channel) -> alert_pb2.Channel:
    """The API view: every setting but the secret."""
    out = alert_pb2.Channel(
        id=ch.id,
        name=ch.name,
        secret_set=bool(ch.secret),
        paused=ch.paused,
        pause_reason=ch.pause_reason,
        pause_time=timestamp(ch.pause_time),
        consecutive_failures=ch.consecutive_failures,
        last_success_time=timestamp(ch.last_success_time),
        last_failure_time=timestamp(ch.last_failure_time),
        last_error=ch.last_error,
        create_time=timestamp(ch.create_time),
        update_time=timestamp(ch.update_time),
    )
    cfg = ch.config
    if isinstance(cfg, model.WebhookConfig):
        out.webhook.CopyFrom(alert_pb2.WebhookConfig(url=cfg.url, timeout=duration(cfg.timeout_s)))
    elif isinstance(cfg, model.EmailConfig):
        email = alert_pb2.EmailConfig(
            smtp_host=cfg.smtp_host,
            smtp_port=cfg.smtp_port,
            security=_SECURITY_TO_PROTO[cfg.security],
            username=cfg.username,
            to=list(cfg.to),
            attach_snapshot=cfg.attach_snapshot,
        )
        setattr(email, "from", cfg.from_addr)
        out.email.CopyFrom(email)
    else:
        sms = alert_pb2.SmsConfig(
            provider=_PROVIDER_TO_PROTO[cfg.provider],
            url=cfg.url,
            account=cfg.account,
            to=list(cfg.to),
        )
        setattr(sms, "from", cfg.from_number)
        out.sms.CopyFrom(sms)
    return out


# --- policies ------------------------------------------------------------------------------------


def policy_from_proto(p: alert_pb2.NotificationPolicy, field: str = "policy") -> Policy:
    """A policy as the caller wrote it; unset durations and group_by take alert.proto's
    defaults."""
    return Policy(
        id=p.id,
        name=p.name,
        order=p.order,
        channel_ids=[c.strip() for c in p.channel_ids],
        matchers=matchers_from_proto(p.matchers, f"{field}.matchers"),
        severities=[
            severity_from_proto(s, f"{field}.severities[{i}]", default=None)
            for i, s in enumerate(p.severities)
        ],
        group_by=list(p.group_by) or list(model.DEFAULT_GROUP_BY),
        group_wait_s=seconds_or(p, "group_wait", 30.0, f"{field}.group_wait"),
        group_interval_s=seconds_or(p, "group_interval", 300.0, f"{field}.group_interval"),
        repeat_interval_s=seconds_or(p, "repeat_interval", 4 * 3600.0, f"{field}.repeat_interval"),
        send_resolved=p.send_resolved if p.HasField("send_resolved") else True,
        stop=p.stop,
    )


def policy_to_proto(p: Policy) -> alert_pb2.NotificationPolicy:
    return alert_pb2.NotificationPolicy(
        id=p.id,
        name=p.name,
        order=p.order,
        matchers=matchers_to_proto(p.matchers),
        severities=[SEVERITY_TO_PROTO[s] for s in p.severities],
        channel_ids=p.channel_ids,
        group_by=p.group_by,
        group_wait=duration(p.group_wait_s),
        group_interval=duration(p.group_interval_s),
        repeat_interval=duration(p.repeat_interval_s),
        send_resolved=p.send_resolved,
        stop=p.stop,
        create_time=timestamp(p.create_time),
        update_time=timestamp(p.update_time),
    )


# --- notifications and the delivery log --------------------------------------------------------


def notification_to_proto(n: Notification) -> alert_pb2.Notification:
    return alert_pb2.Notification(
        id=n.id,
        channel_id=n.channel_id,
        channel_name=n.channel_name,
        kind=NOTIFICATION_KIND_TO_PROTO[n.kind],
        status=NOTIFICATION_STATUS_TO_PROTO[n.status],
        policy_id=n.policy_id,
        group_key=n.group_key,
        group_labels=n.group_labels,
        alert_ids=n.alert_ids,
        summary=n.summary,
        attempts=n.attempts,
        create_time=timestamp(n.create_time),
        next_attempt_time=timestamp(n.next_attempt_time),
        delivered_time=timestamp(n.delivered_time),
        last_error=n.last_error,
    )


def attempt_to_proto(a: DeliveryAttempt) -> alert_pb2.DeliveryAttempt:
    return alert_pb2.DeliveryAttempt(
        id=str(a.id),
        notification_id=a.notification_id,
        channel_id=a.channel_id,
        time=timestamp(a.time),
        ok=a.ok,
        latency=duration(a.latency_ms / 1000.0),
        response_code=a.response_code,
        response=a.response,
        error=a.error,
    )
