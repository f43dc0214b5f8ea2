"""Rules the API tests create on a shared plane: scoped to their own cameras by a label."""

from __future__ import annotations

from camfleet.v1 import alert_pb2, alert_pb2_grpc

from tests.support.platform import Platform


async def offline_rule(platform: Platform, name: str, tag: str) -> alert_pb2.AlertRule:
    """An enabled camera_offline rule (no pending period) over the cameras labelled
    alerttest=`tag` only, so other tests' offline cameras raise nothing."""
    alerts = alert_pb2_grpc.AlertServiceStub(platform.channel)
    created = await alerts.CreateAlertRule(
        alert_pb2.CreateAlertRuleRequest(
            rule=alert_pb2.AlertRule(
                name=name,
                condition=alert_pb2.AlertCondition(
                    camera_offline=alert_pb2.CameraOfflineCondition()
                ),
                match_labels={"alerttest": tag},
                enabled=True,
            )
        ),
        metadata=platform.admin,
    )
    return created.rule
