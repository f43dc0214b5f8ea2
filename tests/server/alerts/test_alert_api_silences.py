"""AlertService's silences and notification policies through gRPC on both backends: create,
list by state, update by field mask, expire or delete; bad input named by field, unknown ids
NOT_FOUND, a channel in use by a policy FAILED_PRECONDITION to delete."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from camfleet.v1 import alert_pb2, alert_pb2_grpc
from google.protobuf import duration_pb2, timestamp_pb2

from tests.support.assertions import refused
from tests.support.platform import Platform, mask

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def api(platform: Platform) -> alert_pb2_grpc.AlertServiceStub:
    return alert_pb2_grpc.AlertServiceStub(platform.channel)


def secs(value: float) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(value))


def ts(moment: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(moment)
    return out


async def test_silences(platform: Platform) -> None:
    alerts = api(platform)
    now = datetime.now(UTC)
    matcher = alert_pb2.Matcher(name="camera", value=str(uuid.uuid4()))
    silence = alert_pb2.Silence(
        matchers=[matcher], end_time=ts(now + timedelta(hours=1)), comment="maintenance"
    )
    created = (
        await alerts.CreateSilence(
            alert_pb2.CreateSilenceRequest(silence=silence), metadata=platform.admin
        )
    ).silence
    assert uuid.UUID(created.id) and created.author == "admin"
    assert created.state == alert_pb2.SILENCE_STATE_ACTIVE
    assert created.matchers[0].operator == alert_pb2.Matcher.OPERATOR_EQUAL
    assert created.comment == "maintenance" and created.matched_alerts == 0

    active = await alerts.ListSilences(
        alert_pb2.ListSilencesRequest(filter="state = ACTIVE", page_size=1000),
        metadata=platform.admin,
    )
    assert created.id in [s.id for s in active.silences]
    changed = (
        await alerts.UpdateSilence(
            alert_pb2.UpdateSilenceRequest(
                silence=alert_pb2.Silence(id=created.id, comment="longer"),
                update_mask=mask("comment"),
            ),
            metadata=platform.admin,
        )
    ).silence
    assert changed.comment == "longer" and changed.end_time == created.end_time
    expired = (
        await alerts.ExpireSilence(
            alert_pb2.ExpireSilenceRequest(id=created.id), metadata=platform.admin
        )
    ).silence
    assert expired.state == alert_pb2.SILENCE_STATE_EXPIRED
    ended = await alerts.ListSilences(
        alert_pb2.ListSilencesRequest(filter="state = EXPIRED", page_size=1000),
        metadata=platform.admin,
    )
    assert created.id in [s.id for s in ended.silences]

    async def bad(s: alert_pb2.Silence) -> dict[str, str]:
        got = await refused(
            alerts.CreateSilence(
                alert_pb2.CreateSilenceRequest(silence=s), metadata=platform.admin
            ),
            INVALID,
        )
        return got.fields

    assert "silence.end_time" in await bad(alert_pb2.Silence(matchers=[matcher]))
    assert "silence.matchers" in await bad(alert_pb2.Silence(end_time=ts(now + timedelta(hours=1))))
    assert "silence.end_time" in await bad(
        alert_pb2.Silence(
            matchers=[matcher],
            start_time=ts(now + timedelta(hours=2)),
            end_time=ts(now + timedelta(hours=1)),
        )
    )
    assert "silence.end_time" in await bad(
        alert_pb2.Silence(matchers=[matcher], end_time=ts(now + timedelta(days=800)))
    )
    bad_filter = await refused(
        alerts.ListSilences(
            alert_pb2.ListSilencesRequest(filter="state = SOON"), metadata=platform.admin
        ),
        INVALID,
    )
    assert "filter" in bad_filter.fields
    await refused(
        alerts.ExpireSilence(
            alert_pb2.ExpireSilenceRequest(id=str(uuid.uuid4())), metadata=platform.admin
        ),
        NOT_FOUND,
    )


async def test_notification_policies(platform: Platform) -> None:
    alerts = api(platform)
    channel = (
        await alerts.CreateChannel(
            alert_pb2.CreateChannelRequest(
                channel=alert_pb2.Channel(
                    name=f"policy hook {secrets.token_hex(3)}",
                    webhook=alert_pb2.WebhookConfig(url="http://127.0.0.1:9/hook"),
                )
            ),
            metadata=platform.admin,
        )
    ).channel
    policy = alert_pb2.NotificationPolicy(
        name=f"night {secrets.token_hex(3)}",
        channel_ids=[channel.id],
        severities=[alert_pb2.ALERT_SEVERITY_CRITICAL],
        matchers=[alert_pb2.Matcher(name="site", value="north")],
    )
    created = (
        await alerts.CreateNotificationPolicy(
            alert_pb2.CreateNotificationPolicyRequest(policy=policy), metadata=platform.admin
        )
    ).policy
    assert uuid.UUID(created.id) and list(created.channel_ids) == [channel.id]
    # alert.proto's defaults.
    assert list(created.group_by) == ["rule", "node"]
    assert created.group_wait.seconds == 30 and created.group_interval.seconds == 300
    assert created.repeat_interval.seconds == 4 * 3600 and created.send_resolved
    listed = await alerts.ListNotificationPolicies(
        alert_pb2.ListNotificationPoliciesRequest(page_size=1000), metadata=platform.admin
    )
    assert created.id in [p.id for p in listed.policies]
    quiet = (
        await alerts.CreateNotificationPolicy(
            alert_pb2.CreateNotificationPolicyRequest(
                policy=alert_pb2.NotificationPolicy(
                    name=f"firing only {secrets.token_hex(3)}",
                    channel_ids=[channel.id],
                    send_resolved=False,
                )
            ),
            metadata=platform.admin,
        )
    ).policy
    assert not quiet.send_resolved  # said so: unlike a policy that does not say
    await alerts.DeleteNotificationPolicy(
        alert_pb2.DeleteNotificationPolicyRequest(id=quiet.id), metadata=platform.admin
    )
    updated = (
        await alerts.UpdateNotificationPolicy(
            alert_pb2.UpdateNotificationPolicyRequest(
                policy=alert_pb2.NotificationPolicy(id=created.id, repeat_interval=secs(3600)),
                update_mask=mask("repeat_interval"),
            ),
            metadata=platform.admin,
        )
    ).policy
    assert updated.repeat_interval.seconds == 3600 and updated.name == created.name

    async def bad(p: alert_pb2.NotificationPolicy) -> dict[str, str]:
        got = await refused(
            alerts.CreateNotificationPolicy(
                alert_pb2.CreateNotificationPolicyRequest(policy=p), metadata=platform.admin
            ),
            INVALID,
        )
        return got.fields

    assert "policy.channel_ids" in await bad(alert_pb2.NotificationPolicy(name="none"))
    assert "policy.channel_ids[0]" in await bad(
        alert_pb2.NotificationPolicy(name="ghost", channel_ids=[str(uuid.uuid4())])
    )
    assert "policy.group_wait" in await bad(
        alert_pb2.NotificationPolicy(
            name="slow", channel_ids=[channel.id], group_wait=secs(30 * 86400)
        )
    )
    assert "policy.severities[0]" in await bad(
        alert_pb2.NotificationPolicy(name="sev", channel_ids=[channel.id], severities=[9])  # type: ignore[list-item]
    )

    # A channel a policy uses cannot go; once the policy is gone, it can.
    await refused(
        alerts.DeleteChannel(
            alert_pb2.DeleteChannelRequest(id=channel.id), metadata=platform.admin
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    await alerts.DeleteNotificationPolicy(
        alert_pb2.DeleteNotificationPolicyRequest(id=created.id), metadata=platform.admin
    )
    await refused(
        alerts.DeleteNotificationPolicy(
            alert_pb2.DeleteNotificationPolicyRequest(id=created.id), metadata=platform.admin
        ),
        NOT_FOUND,
    )
    await alerts.DeleteChannel(
        alert_pb2.DeleteChannelRequest(id=channel.id), metadata=platform.admin
    )
