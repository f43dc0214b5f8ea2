"""E-mail and SMS through the wired pipeline (AlertService -> dispatcher -> delivery, as app.py
wires them, on both backends): a channel's test send and a firing camera-offline alert reach a
real aiosmtpd and a real Kannel (fakesmsc as the carrier); the mail of an offline camera says
why it has no snapshot (the wiring's snapshot source answered); the delivery log has the
attempts."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from camfleet.v1 import alert_pb2, alert_pb2_grpc
from google.protobuf import duration_pb2

from harness.kannel import Kannel
from harness.ports import free_port
from tests.server.alerts.test_email import Mailbox, parts
from tests.server.alerts.test_sms import gateway  # noqa: F401 — the Kannel fixture
from tests.support.alert_rules import offline_rule
from tests.support.assertions import eventually
from tests.support.platform import Platform


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A plain aiosmtpd (the control plane verifies TLS with the system's CAs only)."""
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def api(platform: Platform) -> alert_pb2_grpc.AlertServiceStub:
    return alert_pb2_grpc.AlertServiceStub(platform.channel)


async def test_test_sends_and_a_firing_alert_arrive_by_mail_and_sms(
    platform: Platform,
    mailbox: Mailbox,
    gateway: Kannel,  # noqa: F811 — the fixture imported above
) -> None:
    alerts, tag = api(platform), secrets.token_hex(4)
    email = alert_pb2.EmailConfig(
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        security=alert_pb2.EmailConfig.SECURITY_NONE,
        to=["oncall@example.org"],
        attach_snapshot=True,
    )
    setattr(email, "from", "camfleet@example.org")
    mail = (
        await alerts.CreateChannel(
            alert_pb2.CreateChannelRequest(
                channel=alert_pb2.Channel(name=f"mail {tag}", email=email)
            ),
            metadata=platform.admin,
        )
    ).channel
    to = "+4915100" + tag[:5].translate(str.maketrans("abcdef", "123456"))
    sms = alert_pb2.SmsConfig(
        provider=alert_pb2.SmsConfig.PROVIDER_KANNEL,
        url=gateway.sendsms_url,
        account=gateway.username,
        token=gateway.password,
        to=[to],
    )
    setattr(sms, "from", "+15550199")
    text = (
        await alerts.CreateChannel(
            alert_pb2.CreateChannelRequest(channel=alert_pb2.Channel(name=f"sms {tag}", sms=sms)),
            metadata=platform.admin,
        )
    ).channel

    # Test sends.
    for channel in (mail, text):
        await alerts.TestChannel(
            alert_pb2.TestChannelRequest(id=channel.id), metadata=platform.admin
        )
    await eventually(lambda: _count(mailbox), lambda n: n >= 1, within_seconds=20)
    assert mailbox.message()["Subject"] == (
        f"[camfleet] TEST: Test notification from camfleet to channel mail {tag}"
    )
    texts = await eventually(lambda: _sms_to(gateway, to), bool, within_seconds=20)
    assert texts == [f"TEST: Test notification from camfleet to channel sms {tag}"]

    # A camera that is offline from the start fires a camera-offline rule at once.
    camera = await platform.new_camera(labels={"alerttest": tag})
    policy = (
        await alerts.CreateNotificationPolicy(
            alert_pb2.CreateNotificationPolicyRequest(
                policy=alert_pb2.NotificationPolicy(
                    name=f"policy {tag}",
                    channel_ids=[mail.id, text.id],
                    matchers=[alert_pb2.Matcher(name="camera", value=camera.id)],
                    group_wait=duration_pb2.Duration(seconds=0),
                )
            ),
            metadata=platform.admin,
        )
    ).policy
    rule = await offline_rule(platform, f"offline {tag}", tag)
    try:
        await eventually(lambda: _count(mailbox), lambda n: n >= 2, within_seconds=30)
        message = mailbox.message()
        assert message["Subject"].startswith("[camfleet] FIRING: "), message["Subject"]
        assert camera.name in message["Subject"]
        body, html, attachments = parts(message)
        assert attachments == []
        assert f"no snapshot: camera {camera.name} is not live (it is offline)" in body
        assert f"    rule: offline {tag}\n" in body
        assert camera.name in html

        texts = await eventually(
            lambda: _sms_to(gateway, to), lambda got: len(got) >= 2, within_seconds=20
        )
        assert len(texts) == 2, texts
        assert texts[1].startswith("FIRING: ") and camera.name in texts[1]

        for channel in (mail, text):
            # The attempt is logged once the server's answer is back: a moment after arrival.
            logged = await eventually(
                lambda channel_id=channel.id: alerts.ListDeliveryAttempts(
                    alert_pb2.ListDeliveryAttemptsRequest(filter=f'channel_id = "{channel_id}"'),
                    metadata=platform.admin,
                ),
                lambda got: len(got.attempts) >= 2,
                within_seconds=10,
            )
            assert len(logged.attempts) == 2 and all(a.ok for a in logged.attempts), logged
    finally:
        await alerts.DeleteAlertRule(
            alert_pb2.DeleteAlertRuleRequest(id=rule.id), metadata=platform.admin
        )
        await alerts.DeleteNotificationPolicy(
            alert_pb2.DeleteNotificationPolicyRequest(id=policy.id), metadata=platform.admin
        )


async def _count(mailbox: Mailbox) -> int:
    return len(mailbox.envelopes)


async def _sms_to(kannel: Kannel, to: str) -> list[str]:
    """The texts the carrier got for `to`, in order."""
    return [m.text for m in kannel.received() if m.receiver == to]
