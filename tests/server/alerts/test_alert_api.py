"""AlertService through gRPC on both backends (the shared planes): rules, the preview, alerts
raised by the running evaluator, acknowledgements, permissions. Bad input is INVALID_ARGUMENT
with a sentence and the field named, unknown ids NOT_FOUND, never INTERNAL. Silences and
policies: test_alert_api_silences.py; channels and the delivery log:
test_alert_api_channels.py."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

import grpc
from camfleet.v1 import alert_pb2, alert_pb2_grpc, common_pb2, event_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from tests.support.assertions import eventually, refused
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


def offline_rule(tag: str, **fields: object) -> alert_pb2.AlertRule:
    """A camera-offline rule for the cameras labelled alerttest=<tag> only."""
    return alert_pb2.AlertRule(
        name=f"offline {tag}",
        condition=alert_pb2.AlertCondition(camera_offline=alert_pb2.CameraOfflineCondition()),
        severity=alert_pb2.ALERT_SEVERITY_CRITICAL,
        labels={"team": "night"},
        match_labels={"alerttest": tag},
        enabled=True,
        **fields,  # type: ignore[arg-type]
    )


async def test_rule_lifecycle_with_preview(platform: Platform) -> None:
    alerts, tag = api(platform), secrets.token_hex(4)
    camera = await platform.new_camera(labels={"alerttest": tag})  # new cameras are OFFLINE
    rule = offline_rule(tag, description="dark cameras")
    getattr(rule, "for").CopyFrom(secs(3600))  # held an hour before firing: pending now

    preview = await alerts.PreviewAlertRule(
        alert_pb2.PreviewAlertRuleRequest(rule=rule), metadata=platform.admin
    )
    assert preview.evaluated == 1
    [seen] = preview.alerts
    assert seen.labels["camera"] == camera.id
    assert seen.labels["camera_name"] == camera.name
    assert seen.state == alert_pb2.ALERT_STATE_PENDING
    assert camera.name in seen.summary

    created = (
        await alerts.CreateAlertRule(
            alert_pb2.CreateAlertRuleRequest(rule=rule), metadata=platform.admin
        )
    ).rule
    assert uuid.UUID(created.id)
    assert created.name == rule.name and created.description == "dark cameras"
    assert created.condition.WhichOneof("kind") == "camera_offline"
    assert getattr(created, "for").seconds == 3600
    assert created.severity == alert_pb2.ALERT_SEVERITY_CRITICAL
    assert dict(created.labels) == {"team": "night"}
    assert created.create_time.seconds > 0

    got = await alerts.GetAlertRule(
        alert_pb2.GetAlertRuleRequest(id=created.id), metadata=platform.admin
    )
    assert got.rule == created
    listed = await alerts.ListAlertRules(
        alert_pb2.ListAlertRulesRequest(filter=f'name = "offline {tag}"'), metadata=platform.admin
    )
    assert [r.id for r in listed.rules] == [created.id] and listed.total_size == 1

    change = alert_pb2.AlertRule(
        id=created.id, severity=alert_pb2.ALERT_SEVERITY_INFO, cooldown=secs(600)
    )
    updated = (
        await alerts.UpdateAlertRule(
            alert_pb2.UpdateAlertRuleRequest(rule=change, update_mask=mask("severity", "cooldown")),
            metadata=platform.admin,
        )
    ).rule
    assert updated.severity == alert_pb2.ALERT_SEVERITY_INFO
    assert updated.cooldown.seconds == 600
    # Not in the mask: kept.
    assert updated.condition == created.condition and updated.name == created.name
    assert getattr(updated, "for").seconds == 3600

    await alerts.DeleteAlertRule(
        alert_pb2.DeleteAlertRuleRequest(id=created.id), metadata=platform.admin
    )
    gone = await refused(
        alerts.GetAlertRule(alert_pb2.GetAlertRuleRequest(id=created.id), metadata=platform.admin),
        NOT_FOUND,
    )
    assert created.id in gone.message


async def test_bad_rules_name_the_field(platform: Platform) -> None:
    alerts = api(platform)

    async def create(rule: alert_pb2.AlertRule) -> dict[str, str]:
        got = await refused(
            alerts.CreateAlertRule(
                alert_pb2.CreateAlertRuleRequest(rule=rule), metadata=platform.admin
            ),
            INVALID,
        )
        assert got.message and got.fields
        return got.fields

    assert "rule" in await refused_fields(platform, alert_pb2.CreateAlertRuleRequest())
    no_condition = await create(alert_pb2.AlertRule(name="x"))
    assert "camera_offline" in no_condition["rule.condition"]
    year = alert_pb2.AlertRule(
        name=f"gap {secrets.token_hex(3)}",
        condition=alert_pb2.AlertCondition(
            recording_gap=alert_pb2.RecordingGapCondition(
                min_gap=secs(10), window=secs(365 * 86400)
            )
        ),
    )
    assert "7 days" in (await create(year))["rule.condition.recording_gap.window"]
    negative = offline_rule("x")
    getattr(negative, "for").CopyFrom(duration_pb2.Duration(seconds=-5))
    assert "rule.for" in await create(negative)
    absurd = alert_pb2.AlertRule(
        name="disk",
        condition=alert_pb2.AlertCondition(
            node_disk=alert_pb2.NodeDiskCondition(min_free_percent=-3)
        ),
    )
    assert "rule.condition.node_disk.min_free_percent" in await create(absurd)
    bad_enum = offline_rule("y")
    bad_enum.severity = 7  # type: ignore[assignment]
    assert "rule.severity" in await create(bad_enum)
    by = alert_pb2.AlertRule(
        name="logins",
        condition=alert_pb2.AlertCondition(
            failed_logins=alert_pb2.FailedLoginsCondition(by=9)  # type: ignore[arg-type]
        ),
    )
    assert "rule.condition.failed_logins.by" in await create(by)

    bad_id = await refused(
        alerts.GetAlertRule(alert_pb2.GetAlertRuleRequest(id="nope"), metadata=platform.admin),
        INVALID,
    )
    assert "id" in bad_id.fields
    missing = str(uuid.uuid4())
    for call in (
        alerts.GetAlertRule(alert_pb2.GetAlertRuleRequest(id=missing), metadata=platform.admin),
        alerts.DeleteAlertRule(
            alert_pb2.DeleteAlertRuleRequest(id=missing), metadata=platform.admin
        ),
        alerts.UpdateAlertRule(
            alert_pb2.UpdateAlertRuleRequest(
                rule=alert_pb2.AlertRule(id=missing, name="n"), update_mask=mask("name")
            ),
            metadata=platform.admin,
        ),
    ):
        await refused(call, NOT_FOUND)
    no_mask = await refused(
        alerts.UpdateAlertRule(
            alert_pb2.UpdateAlertRuleRequest(rule=alert_pb2.AlertRule(id=missing)),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert "update_mask" in no_mask.fields
    bad_filter = await refused(
        alerts.ListAlertRules(
            alert_pb2.ListAlertRulesRequest(filter="colour = red"), metadata=platform.admin
        ),
        INVALID,
    )
    assert "filter" in bad_filter.fields


async def refused_fields(platform: Platform, request: alert_pb2.CreateAlertRuleRequest) -> set[str]:
    got = await refused(api(platform).CreateAlertRule(request, metadata=platform.admin), INVALID)
    return set(got.fields)


async def test_an_alert_fires_is_acknowledged_and_watched(platform: Platform) -> None:
    alerts, tag = api(platform), secrets.token_hex(4)
    camera = await platform.new_camera(labels={"alerttest": tag})
    revision = (
        await alerts.ListAlerts(alert_pb2.ListAlertsRequest(page_size=1), metadata=platform.admin)
    ).revision
    rule = (
        await alerts.CreateAlertRule(
            alert_pb2.CreateAlertRuleRequest(rule=offline_rule(tag)), metadata=platform.admin
        )
    ).rule
    by_rule = alert_pb2.ListAlertsRequest(filter=f'rule_id = "{rule.id}"')

    async def listed() -> alert_pb2.ListAlertsResponse:
        return await alerts.ListAlerts(by_rule, metadata=platform.admin)

    firing = await eventually(listed, lambda r: len(r.alerts) == 1, within_seconds=15)
    [alert] = firing.alerts
    assert alert.state == alert_pb2.ALERT_STATE_FIRING  # for 0: straight to firing
    assert alert.labels["camera"] == camera.id and alert.labels["team"] == "night"
    assert alert.labels["severity"] == "critical" and alert.rule_name == rule.name
    assert alert.fingerprint and firing.revision > 0
    by_label = await alerts.ListAlerts(
        alert_pb2.ListAlertsRequest(filter=f'labels.camera = "{camera.id}" AND state = FIRING'),
        metadata=platform.admin,
    )
    assert [a.id for a in by_label.alerts] == [alert.id]

    acked = (
        await alerts.AcknowledgeAlert(
            alert_pb2.AcknowledgeAlertRequest(id=alert.id, comment="on it"),
            metadata=platform.admin,
        )
    ).alert
    assert acked.acknowledged and acked.acknowledged_by == "admin"
    assert acked.acknowledge_comment == "on it" and acked.acknowledge_time.seconds > 0
    got = await alerts.GetAlert(alert_pb2.GetAlertRequest(id=alert.id), metadata=platform.admin)
    assert got.alert.acknowledged
    unacked = (
        await alerts.UnacknowledgeAlert(
            alert_pb2.UnacknowledgeAlertRequest(id=alert.id), metadata=platform.admin
        )
    ).alert
    assert not unacked.acknowledged and unacked.acknowledged_by == ""

    # Watchers with alerts.read see the alert's changes: firing, acknowledged, un-acknowledged.
    acks: list[bool] = []

    def unacknowledged_after_ack(e: event_pb2.Event) -> bool:
        if e.type == event_pb2.EVENT_TYPE_ALERT_CHANGED and e.alert.id == alert.id:
            acks.append(e.alert.acknowledged)
        return len(acks) >= 2 and acks[-2] and not acks[-1]

    events = await platform.events_until(platform.admin, revision, unacknowledged_after_ack)
    mine = [
        e for e in events if e.type == event_pb2.EVENT_TYPE_ALERT_CHANGED and e.alert.id == alert.id
    ]
    assert mine[0].alert.state == alert_pb2.ALERT_STATE_FIRING
    assert mine[0].subject == f"alerts/{alert.id}" and rule.name in mine[0].message
    assert acks == [False, True, False]

    await alerts.DeleteAlertRule(
        alert_pb2.DeleteAlertRuleRequest(id=rule.id), metadata=platform.admin
    )
    ended = await alerts.GetAlert(alert_pb2.GetAlertRequest(id=alert.id), metadata=platform.admin)
    assert ended.alert.state == alert_pb2.ALERT_STATE_RESOLVED
    late = await refused(
        alerts.AcknowledgeAlert(
            alert_pb2.AcknowledgeAlertRequest(id=alert.id), metadata=platform.admin
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "resolved" in late.message

    await refused(
        alerts.GetAlert(alert_pb2.GetAlertRequest(id=str(uuid.uuid4())), metadata=platform.admin),
        NOT_FOUND,
    )
    bad_order = await refused(
        alerts.ListAlerts(alert_pb2.ListAlertsRequest(order_by="colour"), metadata=platform.admin),
        INVALID,
    )
    assert "order_by" in bad_order.fields


async def test_alerts_need_their_permissions(platform: Platform) -> None:
    alerts = api(platform)
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    denied = await refused(
        alerts.ListAlerts(alert_pb2.ListAlertsRequest(), metadata=viewer),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "alerts.read" in denied.message
    reader = (("authorization", f"Bearer {await platform.api_token(['alerts.read'])}"),)
    await alerts.ListAlertRules(alert_pb2.ListAlertRulesRequest(), metadata=reader)
    denied = await refused(
        alerts.CreateAlertRule(
            alert_pb2.CreateAlertRuleRequest(rule=offline_rule("v")), metadata=reader
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "alerts.write" in denied.message


def _odd_requests() -> list[tuple[str, object]]:
    """Requests a careless or hostile client sends: out-of-range numbers, NaN, huge strings,
    times past the year 9999, unknown enum values, ids of nothing."""
    nan, ghost, huge = float("nan"), str(uuid.uuid4()), "x" * 100_000
    late = timestamp_pb2.Timestamp(seconds=10**12)
    quality = alert_pb2.AlertCondition(
        stream_quality=alert_pb2.StreamQualityCondition(min_fps=nan, min_bitrate_kbps=-(2**62))
    )
    rule = alert_pb2.AlertRule(name=huge, condition=quality, labels={"Bad Key": "v" * 500})
    odd_for = alert_pb2.AlertRule(
        name="n",
        condition=alert_pb2.AlertCondition(camera_error={}),
        cooldown=duration_pb2.Duration(seconds=10**11),
    )
    return [
        ("CreateAlertRule", alert_pb2.CreateAlertRuleRequest(rule=rule)),
        ("CreateAlertRule", alert_pb2.CreateAlertRuleRequest(rule=odd_for)),
        ("PreviewAlertRule", alert_pb2.PreviewAlertRuleRequest(rule=rule)),
        ("ListAlertRules", alert_pb2.ListAlertRulesRequest(page_size=-1, page_token="garbage")),
        ("ListAlerts", alert_pb2.ListAlertsRequest(filter=huge[:3000], order_by="severity,")),
        ("AcknowledgeAlert", alert_pb2.AcknowledgeAlertRequest(id=ghost, comment="\x00")),
        (
            "CreateSilence",
            alert_pb2.CreateSilenceRequest(
                silence=alert_pb2.Silence(
                    matchers=[alert_pb2.Matcher(name="camera", value="a", operator=9)],  # type: ignore[arg-type]
                    end_time=late,
                )
            ),
        ),
        (
            "UpdateSilence",
            alert_pb2.UpdateSilenceRequest(
                silence=alert_pb2.Silence(id=ghost, end_time=late), update_mask=mask("end_time")
            ),
        ),
        ("ListSilences", alert_pb2.ListSilencesRequest(page_token="%%%")),
        (
            "CreateChannel",
            alert_pb2.CreateChannelRequest(
                channel=alert_pb2.Channel(
                    name="c", webhook=alert_pb2.WebhookConfig(url="http://[::1", secret="whsec_!")
                )
            ),
        ),
        (
            "UpdateChannel",
            alert_pb2.UpdateChannelRequest(
                channel=alert_pb2.Channel(id=ghost), update_mask=mask("email.to")
            ),
        ),
        (
            "CreateNotificationPolicy",
            alert_pb2.CreateNotificationPolicyRequest(
                policy=alert_pb2.NotificationPolicy(
                    name="p", channel_ids=["not an id"], order=2**31 - 1, group_by=["a", "..."]
                )
            ),
        ),
        ("ListNotifications", alert_pb2.ListNotificationsRequest(filter='alert_id = "x" AND')),
        ("ListDeliveryAttempts", alert_pb2.ListDeliveryAttemptsRequest(filter="ok = maybe")),
    ]


async def test_odd_requests_are_refused_clearly_never_internal(platform: Platform) -> None:
    alerts = api(platform)
    for method, request in _odd_requests():
        try:
            await getattr(alerts, method)(request, metadata=platform.admin)
        except grpc.aio.AioRpcError as err:
            assert err.code() in (INVALID, NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION), (
                f"{method}: {err.code().name} {err.details()}"
            )
            assert err.details(), method
        else:
            raise AssertionError(f"{method} accepted {request}")
