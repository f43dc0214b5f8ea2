"""AlertService on a test fleet (harness.fleet) as the e2e alert tests and bench_chaos use it:
channels (a webhook, a plain-SMTP e-mail, Kannel SMS), rules and policies with short timings,
and the notifications and delivery log read back. Calls are retried while a replica that just
died still answers UNAVAILABLE through Envoy."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any, TypeVar

from camfleet.v1 import alert_pb2, alert_pb2_grpc
from google.protobuf import duration_pb2

from harness.alert_receivers import Mailbox
from harness.fleet import Fleet
from harness.fleet_reads import retried
from harness.kannel import Kannel

A = alert_pb2
T = TypeVar("T")


def seconds(value: float) -> duration_pb2.Duration:
    whole = int(value)
    return duration_pb2.Duration(seconds=whole, nanos=int((value - whole) * 1e9))


@dataclass
class AlertApi:
    """AlertService through the fleet's edge, as admin."""

    fleet: Fleet
    stub: Any = field(init=False)

    def __post_init__(self) -> None:
        assert self.fleet.channel is not None
        self.stub = alert_pb2_grpc.AlertServiceStub(self.fleet.channel)

    async def call(self, method: str, request: Any) -> Any:
        rpc = getattr(self.stub, method)
        return await retried(lambda: rpc(request, metadata=self.fleet.admin, timeout=15))

    # Channels.

    async def webhook(self, name: str, url: str, secret: str, timeout_s: float = 5) -> str:
        config = A.WebhookConfig(url=url, secret=secret, timeout=seconds(timeout_s))
        return await self._channel(A.Channel(name=name, webhook=config))

    async def email(self, name: str, box: Mailbox) -> str:
        config = A.EmailConfig(
            smtp_host="127.0.0.1",
            smtp_port=box.port,
            security=A.EmailConfig.SECURITY_NONE,
            to=["oncall@example.org"],
            attach_snapshot=True,
        )
        setattr(config, "from", "camfleet@example.org")
        return await self._channel(A.Channel(name=name, email=config))

    async def kannel_sms(self, name: str, gateway: Kannel, to: str) -> str:
        config = A.SmsConfig(
            provider=A.SmsConfig.PROVIDER_KANNEL,
            url=gateway.sendsms_url,
            account=gateway.username,
            token=gateway.password,
            to=[to],
        )
        setattr(config, "from", "+15550199")
        return await self._channel(A.Channel(name=name, sms=config))

    async def _channel(self, channel: alert_pb2.Channel) -> str:
        resp = await self.call("CreateChannel", A.CreateChannelRequest(channel=channel))
        return str(resp.channel.id)

    # Rules and policies.

    async def rule(
        self,
        name: str,
        condition: alert_pb2.AlertCondition,
        *,
        for_s: float,
        match_labels: dict[str, str],
        severity: A.AlertSeverity = A.ALERT_SEVERITY_CRITICAL,
    ) -> str:
        rule = A.AlertRule(
            name=name,
            condition=condition,
            match_labels=match_labels,
            severity=severity,
            enabled=True,
        )
        getattr(rule, "for").CopyFrom(seconds(for_s))
        resp = await self.call("CreateAlertRule", A.CreateAlertRuleRequest(rule=rule))
        return str(resp.rule.id)

    async def delete_rule(self, rule_id: str) -> None:
        await self.call("DeleteAlertRule", A.DeleteAlertRuleRequest(id=rule_id))

    async def policy(
        self,
        name: str,
        channel_ids: list[str],
        matchers: dict[str, str],
        *,
        group_by: list[str] | None = None,
        group_wait_s: float = 1,
        group_interval_s: float = 3,
    ) -> str:
        policy = A.NotificationPolicy(
            name=name,
            channel_ids=channel_ids,
            matchers=[A.Matcher(name=k, value=v) for k, v in sorted(matchers.items())],
            group_by=group_by or [],
            group_wait=seconds(group_wait_s),
            group_interval=seconds(group_interval_s),
            repeat_interval=seconds(3600),
            send_resolved=True,
        )
        resp = await self.call(
            "CreateNotificationPolicy", A.CreateNotificationPolicyRequest(policy=policy)
        )
        return str(resp.policy.id)

    # Reads.

    async def alerts(self, filter_: str = "") -> list[alert_pb2.Alert]:
        resp = await self.call("ListAlerts", A.ListAlertsRequest(filter=filter_, page_size=200))
        return list(resp.alerts)

    async def notifications(self, channel_id: str) -> list[alert_pb2.Notification]:
        """The channel's notifications, oldest first."""
        request = A.ListNotificationsRequest(filter=f'channel_id = "{channel_id}"', page_size=200)
        resp = await self.call("ListNotifications", request)
        return list(reversed(resp.notifications))

    async def attempts(self, notification_id: str) -> list[alert_pb2.DeliveryAttempt]:
        """Every attempt of a notification, oldest first."""
        request = A.ListDeliveryAttemptsRequest(
            filter=f'notification_id = "{notification_id}"', page_size=200
        )
        resp = await self.call("ListDeliveryAttempts", request)
        return list(reversed(resp.attempts))


def new_secret() -> str:
    """A webhook signing secret as the server generates them."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
