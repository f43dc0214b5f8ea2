"""AlertService's channels and delivery log through gRPC on both backends: create, read, update,
test, resume and delete webhook, e-mail and SMS channels; secrets are write-only (never in a
response, never in the audit log); bad input names the field; the delivery log lists a test
notification."""

from __future__ import annotations

import base64
import secrets
import uuid

import grpc
from camfleet.v1 import alert_pb2, alert_pb2_grpc
from google.protobuf import duration_pb2

from harness.alert_receivers import Receiver, webhook_receiver
from tests.support.alert_rules import offline_rule
from tests.support.assertions import audit_since, eventually, now_filter, refused
from tests.support.platform import Platform, mask

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def api(platform: Platform) -> alert_pb2_grpc.AlertServiceStub:
    return alert_pb2_grpc.AlertServiceStub(platform.channel)


def name() -> str:
    return f"chan {secrets.token_hex(4)}"


async def create(platform: Platform, channel: alert_pb2.Channel) -> alert_pb2.CreateChannelResponse:
    return await api(platform).CreateChannel(
        alert_pb2.CreateChannelRequest(channel=channel), metadata=platform.admin
    )


async def test_a_webhook_channel_and_its_write_only_secret(platform: Platform) -> None:
    alerts, since = api(platform), now_filter()
    made = await create(
        platform,
        alert_pb2.Channel(
            name=name(),
            webhook=alert_pb2.WebhookConfig(
                url="https://hooks.example.org/camfleet", timeout=duration_pb2.Duration(seconds=5)
            ),
        ),
    )
    secret = made.generated_secret
    assert secret.startswith("whsec_")  # shown this once
    channel = made.channel
    assert uuid.UUID(channel.id) and channel.secret_set and not channel.paused
    assert channel.webhook.url == "https://hooks.example.org/camfleet"
    assert channel.webhook.timeout.seconds == 5 and channel.webhook.secret == ""

    got = await alerts.GetChannel(
        alert_pb2.GetChannelRequest(id=channel.id), metadata=platform.admin
    )
    listed = await alerts.ListChannels(
        alert_pb2.ListChannelsRequest(page_size=1000), metadata=platform.admin
    )
    assert got.channel == channel
    assert channel.id in [c.id for c in listed.channels]
    # Renamed: the secret stays (and is still not shown).
    renamed = (
        await alerts.UpdateChannel(
            alert_pb2.UpdateChannelRequest(
                channel=alert_pb2.Channel(id=channel.id, name=channel.name + " b"),
                update_mask=mask("name"),
            ),
            metadata=platform.admin,
        )
    ).channel
    assert renamed.name == channel.name + " b" and renamed.secret_set
    assert renamed.webhook.url == channel.webhook.url
    moved = (
        await alerts.UpdateChannel(
            alert_pb2.UpdateChannelRequest(
                channel=alert_pb2.Channel(
                    id=channel.id, webhook=alert_pb2.WebhookConfig(url="http://127.0.0.1:9/x")
                ),
                update_mask=mask("webhook.url"),
            ),
            metadata=platform.admin,
        )
    ).channel
    assert moved.webhook.url == "http://127.0.0.1:9/x" and moved.webhook.timeout.seconds == 5

    for response in (got, listed, renamed, moved):
        assert secret.encode() not in response.SerializeToString()
    records = await audit_since(platform, since, "alert_channel.create") + await audit_since(
        platform, since, "alert_channel.update"
    )
    assert records, "channel changes are audited"
    assert all(secret not in str(r) for r in records)

    # A test notification is queued now and listed in the delivery log's notifications.
    test = (
        await alerts.TestChannel(
            alert_pb2.TestChannelRequest(id=channel.id), metadata=platform.admin
        )
    ).notification
    assert test.id.startswith("msg_") and test.channel_id == channel.id
    assert test.kind == alert_pb2.NOTIFICATION_KIND_TEST
    notes = await alerts.ListNotifications(
        alert_pb2.ListNotificationsRequest(filter=f'channel_id = "{channel.id}"'),
        metadata=platform.admin,
    )
    assert [n.id for n in notes.notifications] == [test.id]
    assert notes.notifications[0].channel_name == moved.name
    attempts = await alerts.ListDeliveryAttempts(
        alert_pb2.ListDeliveryAttemptsRequest(filter=f'notification_id = "{test.id}"'),
        metadata=platform.admin,
    )
    assert all(a.notification_id == test.id for a in attempts.attempts)

    resumed = (
        await alerts.ResumeChannel(
            alert_pb2.ResumeChannelRequest(id=channel.id), metadata=platform.admin
        )
    ).channel
    assert not resumed.paused
    await alerts.DeleteChannel(
        alert_pb2.DeleteChannelRequest(id=channel.id), metadata=platform.admin
    )
    await refused(
        alerts.GetChannel(alert_pb2.GetChannelRequest(id=channel.id), metadata=platform.admin),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_email_and_sms_channels_never_show_their_secrets(platform: Platform) -> None:
    password, token = f"pw-{secrets.token_hex(8)}", f"tok-{secrets.token_hex(8)}"
    email = alert_pb2.EmailConfig(
        smtp_host="127.0.0.1",
        security=alert_pb2.EmailConfig.SECURITY_NONE,
        username="alerts",
        password=password,
        to=["ops@example.org"],
        attach_snapshot=True,
    )
    setattr(email, "from", "camfleet@example.org")
    mail = (await create(platform, alert_pb2.Channel(name=name(), email=email))).channel
    assert mail.email.smtp_port == 25  # the default of SECURITY_NONE
    assert mail.email.username == "alerts" and mail.email.password == "" and mail.secret_set
    assert getattr(mail.email, "from") == "camfleet@example.org"
    sms = alert_pb2.SmsConfig(
        provider=alert_pb2.SmsConfig.PROVIDER_KANNEL,
        url="http://127.0.0.1:13013/cgi-bin/sendsms",
        account="camfleet",
        token=token,
        to=["+15550100"],
    )
    setattr(sms, "from", "+15550199")
    text = (await create(platform, alert_pb2.Channel(name=name(), sms=sms))).channel
    assert text.sms.provider == alert_pb2.SmsConfig.PROVIDER_KANNEL and text.sms.token == ""
    listed = await api(platform).ListChannels(
        alert_pb2.ListChannelsRequest(page_size=1000), metadata=platform.admin
    )
    raw = listed.SerializeToString()
    assert password.encode() not in raw and token.encode() not in raw
    for c in (mail, text):
        await api(platform).DeleteChannel(
            alert_pb2.DeleteChannelRequest(id=c.id), metadata=platform.admin
        )


async def test_bad_channels_name_the_field(platform: Platform) -> None:
    async def bad(channel: alert_pb2.Channel) -> tuple[str, dict[str, str]]:
        got = await refused(
            api(platform).CreateChannel(
                alert_pb2.CreateChannelRequest(channel=channel), metadata=platform.admin
            ),
            INVALID,
        )
        assert got.message
        return got.message, got.fields

    _, fields = await bad(alert_pb2.Channel(name=name()))
    assert "channel" in fields
    for url in ("ftp://example.org/x", "file:///etc/passwd", "https://user:pw@example.org/x"):
        message, fields = await bad(
            alert_pb2.Channel(name=name(), webhook=alert_pb2.WebhookConfig(url=url))
        )
        assert "channel.webhook.url" in fields
        assert "pw@" not in message  # a credential is not echoed back
    _, fields = await bad(
        alert_pb2.Channel(
            name=name(),
            webhook=alert_pb2.WebhookConfig(
                url="https://example.org", timeout=duration_pb2.Duration(seconds=3600)
            ),
        )
    )
    assert "channel.webhook.timeout" in fields
    _, fields = await bad(alert_pb2.Channel(name=name(), sms=alert_pb2.SmsConfig(url="http://x")))
    assert "channel.sms.provider" in fields
    _, fields = await bad(
        alert_pb2.Channel(
            name=name(),
            email=alert_pb2.EmailConfig(smtp_host="mail", security=7),  # type: ignore[arg-type]
        )
    )
    assert "channel.email.security" in fields

    missing = str(uuid.uuid4())
    for call in (
        api(platform).GetChannel(alert_pb2.GetChannelRequest(id=missing), metadata=platform.admin),
        api(platform).TestChannel(
            alert_pb2.TestChannelRequest(id=missing), metadata=platform.admin
        ),
        api(platform).ResumeChannel(
            alert_pb2.ResumeChannelRequest(id=missing), metadata=platform.admin
        ),
        api(platform).DeleteChannel(
            alert_pb2.DeleteChannelRequest(id=missing), metadata=platform.admin
        ),
    ):
        await refused(call, grpc.StatusCode.NOT_FOUND)
    got = await refused(
        api(platform).ListDeliveryAttempts(
            alert_pb2.ListDeliveryAttemptsRequest(filter="latency > fast"), metadata=platform.admin
        ),
        INVALID,
    )
    assert "filter" in got.fields


async def test_the_wired_pipeline_delivers_a_signed_webhook(platform: Platform) -> None:
    """A test send and a firing alert both reach a real receiver verifying the Standard
    Webhooks signature (evaluator -> routing -> dispatcher -> delivery, as app.py wires them);
    the delivery log has the attempts."""
    alerts, tag = api(platform), secrets.token_hex(4)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    async with webhook_receiver(secret) as receiver:
        channel = (
            await create(
                platform,
                alert_pb2.Channel(
                    name=name(), webhook=alert_pb2.WebhookConfig(url=receiver.url, secret=secret)
                ),
            )
        ).channel
        test = (
            await alerts.TestChannel(
                alert_pb2.TestChannelRequest(id=channel.id), metadata=platform.admin
            )
        ).notification
        await eventually(lambda: _ids(receiver), lambda ids: test.id in ids, within_seconds=15)

        async def attempts() -> alert_pb2.ListDeliveryAttemptsResponse:
            return await alerts.ListDeliveryAttempts(
                alert_pb2.ListDeliveryAttemptsRequest(filter=f'notification_id = "{test.id}"'),
                metadata=platform.admin,
            )

        logged = await eventually(attempts, lambda r: len(r.attempts) == 1)
        [attempt] = logged.attempts
        assert attempt.ok and attempt.response_code == 204 and attempt.channel_id == channel.id

        camera = await platform.new_camera(labels={"alerttest": tag})
        policy = (
            await alerts.CreateNotificationPolicy(
                alert_pb2.CreateNotificationPolicyRequest(
                    policy=alert_pb2.NotificationPolicy(
                        name=name(),
                        channel_ids=[channel.id],
                        matchers=[alert_pb2.Matcher(name="camera", value=camera.id)],
                        group_wait=duration_pb2.Duration(seconds=0),
                        send_resolved=True,
                    )
                ),
                metadata=platform.admin,
            )
        ).policy
        rule = await offline_rule(platform, f"pipeline {tag}", tag)
        try:
            await eventually(lambda: _ids(receiver), lambda ids: len(ids) >= 2, within_seconds=20)
            firing = receiver.received[1].payload
            assert firing["kind"] == "firing" and firing["policy"] == policy.name
            assert [a["labels"]["camera"] for a in firing["alerts"]] == [camera.id]
            assert firing["alerts"][0]["rule_id"] == rule.id
        finally:
            await alerts.DeleteAlertRule(
                alert_pb2.DeleteAlertRuleRequest(id=rule.id), metadata=platform.admin
            )
            await alerts.DeleteNotificationPolicy(
                alert_pb2.DeleteNotificationPolicyRequest(id=policy.id), metadata=platform.admin
            )


async def _ids(receiver: Receiver) -> list[str]:
    return receiver.ids()
