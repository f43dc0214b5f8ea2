"""ALERT_CHANGED in WatchEvents: an alert firing is an event with the alert, seen by watchers
with alerts.read, and kept from those without it (a viewer)."""

from __future__ import annotations

import asyncio
import secrets

from camfleet.v1 import alert_pb2, alert_pb2_grpc, camera_pb2, common_pb2, event_pb2, event_pb2_grpc

from tests.support.alert_rules import offline_rule
from tests.support.platform import Metadata, Platform, mask


async def _first(
    platform: Platform, metadata: Metadata, after: int, filter_text: str
) -> event_pb2.Event:
    """The first non-bookmark event after `after` matching `filter_text` (fails after 15 s)."""
    call = event_pb2_grpc.EventServiceStub(platform.channel).WatchEvents(
        event_pb2.WatchEventsRequest(after_revision=after, filter=filter_text), metadata=metadata
    )
    try:
        async with asyncio.timeout(15):
            async for resp in call:
                if resp.event.type != event_pb2.EVENT_TYPE_BOOKMARK:
                    return resp.event
    finally:
        call.cancel()
    raise AssertionError("the watch ended without an event")


async def test_a_firing_alert_is_an_event_only_for_alerts_readers(platform: Platform) -> None:
    alerts = alert_pb2_grpc.AlertServiceStub(platform.channel)
    tag = secrets.token_hex(4)
    camera = await platform.new_camera(labels={"alerttest": tag})  # OFFLINE from the start
    other = await platform.new_camera()
    start = (
        await alerts.ListAlerts(alert_pb2.ListAlertsRequest(page_size=1), metadata=platform.admin)
    ).revision
    rule = await offline_rule(platform, f"dark {tag}", tag)
    try:
        operator = await platform.as_role(common_pb2.ROLE_OPERATOR)
        event = await _first(platform, operator, start, "type = ALERT_CHANGED")
        assert event.alert.rule_id == rule.id
        assert event.alert.state == alert_pb2.ALERT_STATE_FIRING
        assert event.alert.labels["camera"] == camera.id
        assert event.subject == f"alerts/{event.alert.id}" and "firing" in event.message

        # A viewer (no alerts.read) watching alerts and the other camera gets the camera's
        # later change first: the alert's event, earlier in the log, was kept from it.
        await platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=other.id, description="after the alert"),
                update_mask=mask("description"),
            ),
            metadata=platform.admin,
        )
        viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
        seen = await _first(
            platform, viewer, start, f'type = ALERT_CHANGED OR subject = "cameras/{other.id}"'
        )
        assert seen.type == event_pb2.EVENT_TYPE_CAMERA_UPDATED and seen.camera.id == other.id
        assert seen.revision > event.revision
    finally:
        await alerts.DeleteAlertRule(
            alert_pb2.DeleteAlertRuleRequest(id=rule.id), metadata=platform.admin
        )
