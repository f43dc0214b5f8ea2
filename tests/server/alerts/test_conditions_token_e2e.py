"""The token_new_address rule end to end on the shared control plane (both backends): an API
token used from 127.0.0.1 and then from 127.0.0.2 (a loopback forwarder gives the second
connection its source address) is recorded by the real authenticator, and the rule's preview
over AlertService names the token and the new address. A preview stores nothing, so the shared
plane's alerts are untouched."""

from __future__ import annotations

from camfleet.v1 import alert_pb2, alert_pb2_grpc, camera_pb2, camera_pb2_grpc

from tests.support.assertions import eventually
from tests.support.platform import Platform, bearer
from tests.support.source_address import channel_from


async def test_a_token_used_from_a_second_address_is_previewed(platform: Platform) -> None:
    created, _ = await platform.new_api_token(["cameras.read"])
    token_id = created.api_token.id
    await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(), metadata=bearer(created.secret)
    )
    alerts = alert_pb2_grpc.AlertServiceStub(platform.channel)
    rule = alert_pb2.AlertRule(
        name="token elsewhere",
        condition=alert_pb2.AlertCondition(token_new_address=alert_pb2.TokenNewAddressCondition()),
    )

    async def mine() -> list[alert_pb2.PreviewedAlert]:
        resp = await alerts.PreviewAlertRule(
            alert_pb2.PreviewAlertRuleRequest(rule=rule), metadata=platform.admin
        )
        return [a for a in resp.alerts if a.labels.get("token") == token_id]

    # Its first address is not news.
    assert await mine() == []

    async with channel_from("127.0.0.2", platform.plane.port) as other:
        await camera_pb2_grpc.CameraServiceStub(other).ListCameras(
            camera_pb2.ListCamerasRequest(), metadata=bearer(created.secret)
        )
    # Recorded in the background (the call is not delayed by it).
    (alert,) = await eventually(mine, lambda found: len(found) == 1, within_seconds=15)
    assert alert.labels["address"] == "127.0.0.2"
    assert alert.labels["token_name"] == created.api_token.name
    assert alert.state == alert_pb2.ALERT_STATE_FIRING
    assert alert.summary == (
        f"API token {created.api_token.name} was used from a new address 127.0.0.2"
    )
