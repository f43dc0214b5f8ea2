"""Camera.node_selector through CameraService: label syntax, the update mask, what Get, List and
the event stream return; and the placement fields being output only."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable

import grpc
from camfleet.v1 import camera_pb2, event_pb2

from tests.support.assertions import audit_since, eventually, now_filter, refused
from tests.support.platform import Platform, mask

PUSH = camera_pb2.INGEST_MODE_PUSH
PULL = camera_pb2.INGEST_MODE_PULL
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _name() -> str:
    return f"sel-{secrets.token_hex(5)}"


async def _create(platform: Platform, **fields: object) -> camera_pb2.Camera:
    return (
        await platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=_name(), **fields)),  # type: ignore[arg-type]
            metadata=platform.admin,
        )
    ).camera


async def _get(platform: Platform, camera_id: str) -> camera_pb2.Camera:
    return (
        await platform.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera_id), metadata=platform.admin
        )
    ).camera


def _update_call(
    platform: Platform, camera: camera_pb2.Camera, *paths: str
) -> Awaitable[camera_pb2.UpdateCameraResponse]:
    return platform.cameras.UpdateCamera(  # type: ignore[no-any-return]
        camera_pb2.UpdateCameraRequest(camera=camera, update_mask=mask(*paths)),
        metadata=platform.admin,
    )


async def _update(platform: Platform, camera: camera_pb2.Camera, *paths: str) -> camera_pb2.Camera:
    return (await _update_call(platform, camera, *paths)).camera


async def test_selector_is_stored_and_returned_by_create_get_and_list(platform: Platform) -> None:
    tag = uuid.uuid4().hex
    selector = {"site": "north", "gpu": "true", "rack.zone": "A-1_b"}
    cam = await _create(platform, labels={"t": tag}, node_selector=selector)
    assert dict(cam.node_selector) == selector
    assert dict((await _get(platform, cam.id)).node_selector) == selector
    listed = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(filter=f'labels.t = "{tag}"'), metadata=platform.admin
    )
    assert [dict(c.node_selector) for c in listed.cameras] == [selector]
    plain = await _create(platform)
    assert dict(plain.node_selector) == {}


async def test_selector_limits_are_inclusive(platform: Platform) -> None:
    """16 pairs, 63-character keys and values, and empty values are all within the syntax."""
    selector = {f"k{i}": "v" for i in range(14)} | {"k" * 63: "V" * 63, "empty": ""}
    cam = await _create(platform, node_selector=selector)
    assert dict((await _get(platform, cam.id)).node_selector) == selector


async def test_bad_selectors_are_refused_naming_the_key_and_create_nothing(
    platform: Platform,
) -> None:
    name = _name()
    bad_keys = ["Site", "", "a b", "k" * 64, "ключ", "a=b", "a,b", "a/b", "a\x00"]
    for key in bad_keys:
        refusal = await refused(
            platform.cameras.CreateCamera(
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(name=name, node_selector={key: "v"})
                ),
                metadata=platform.admin,
            ),
            INVALID,
        )
        assert "keys are 1\u201363 characters of a-z, 0-9" in refusal.message, refusal.message
        [field] = refusal.fields
        assert field.startswith("camera.node_selector["), field
        assert repr(key[:64]) in field, (key, field)
    for value in ("north east", "v" * 64, "a\x00b", "nörth", "a=b"):
        refusal = await refused(
            platform.cameras.CreateCamera(
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(name=name, node_selector={"site": value})
                ),
                metadata=platform.admin,
            ),
            INVALID,
        )
        assert refusal.message.startswith("camera.node_selector['site']: values are up to 63")
        assert list(refusal.fields) == ["camera.node_selector['site']"]
    refusal = await refused(
        platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(name=name, node_selector={f"k{i}": "v" for i in range(17)})
            ),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert refusal.message == "camera.node_selector: at most 16 pairs, got 17"
    # None of these made a camera.
    listed = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(filter=f'name = "{name}"'), metadata=platform.admin
    )
    assert listed.total_size == 0


async def test_update_mask_node_selector_changes_only_the_selector(platform: Platform) -> None:
    cam = await _create(platform, description="d0", node_selector={"site": "north"})
    since = now_filter()
    got = await _update(
        platform,
        camera_pb2.Camera(id=cam.id, description="ignored", node_selector={"site": "south"}),
        "node_selector",
    )
    assert dict(got.node_selector) == {"site": "south"} and got.description == "d0"
    # Another field's mask leaves the selector alone; an empty selector in the mask clears it.
    kept = await _update(platform, camera_pb2.Camera(id=cam.id, description="d1"), "description")
    assert dict(kept.node_selector) == {"site": "south"} and kept.description == "d1"
    cleared = await _update(platform, camera_pb2.Camera(id=cam.id), "node_selector")
    assert dict(cleared.node_selector) == {}
    assert dict((await _get(platform, cam.id)).node_selector) == {}
    rows = await audit_since(platform, since, "camera.update", f'target = "cameras/{cam.id}"')
    assert [r.details["fields"] for r in rows].count("node_selector") == 2


async def test_a_bad_selector_in_an_update_changes_nothing(platform: Platform) -> None:
    cam = await _create(platform, node_selector={"site": "north"})
    refusal = await refused(
        _update_call(
            platform,
            camera_pb2.Camera(id=cam.id, name="renamed", node_selector={"Site": "south"}),
            "name",
            "node_selector",
        ),
        INVALID,
    )
    assert refusal.message.startswith("camera.node_selector['Site']: keys are 1")
    assert await _get(platform, cam.id) == cam


async def test_a_selector_no_node_matches_is_accepted(platform: Platform) -> None:
    """Not an error: a pull camera whose selector matches no node is created and waits."""
    cam = await _create(
        platform,
        ingest_mode=PULL,
        source_url="rtsp://127.0.0.1:8554/cam",
        node_selector={"test": f"nowhere-{secrets.token_hex(3)}"},
    )
    got = await _get(platform, cam.id)
    assert got.node_id == "" and got.handover_node_id == ""
    assert got.status == camera_pb2.CAMERA_STATUS_OFFLINE
    # The scheduler says why it waits (no node at all READY on this plane, or none matching).
    wanted = f"test={cam.node_selector['test']}"
    waiting = await eventually(
        lambda: _get(platform, cam.id), lambda c: c.placement_reason != "", 10
    )
    assert waiting.placement_reason in {"no READY node", f"no READY node matches {wanted}"}
    assert waiting.node_id == ""


async def test_placement_fields_are_output_only(platform: Platform) -> None:
    """placement_epoch, placement_reason and handover_node_id sent by a caller are ignored, on
    create and on an update with '*'."""
    forged = {
        "placement_epoch": 41,
        "placement_reason": "forged",
        "handover_node_id": str(uuid.uuid4()),
    }
    cam = await _create(platform, ingest_mode=PUSH, **forged)
    assert (cam.placement_epoch, cam.placement_reason, cam.handover_node_id) == (0, "", "")
    updated = await _update(
        platform,
        camera_pb2.Camera(id=cam.id, name=cam.name, active=True, ingest_mode=PUSH, **forged),  # type: ignore[arg-type]
        "*",
    )
    assert (updated.placement_epoch, updated.placement_reason, updated.handover_node_id) == (
        0,
        "",
        "",
    )


async def test_selector_travels_in_camera_events(platform: Platform) -> None:
    revision = (
        await platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
        )
    ).revision
    cam = await _create(platform, node_selector={"site": "north"})
    await _update(
        platform, camera_pb2.Camera(id=cam.id, node_selector={"site": "west"}), "node_selector"
    )
    seen = await platform.events_until(
        platform.admin,
        revision,
        lambda e: e.camera.id == cam.id and e.type == event_pb2.EVENT_TYPE_CAMERA_UPDATED,
    )
    mine = [e for e in seen if e.camera.id == cam.id]
    assert [(e.type, dict(e.camera.node_selector)) for e in mine] == [
        (event_pb2.EVENT_TYPE_CAMERA_CREATED, {"site": "north"}),
        (event_pb2.EVENT_TYPE_CAMERA_UPDATED, {"site": "west"}),
    ]
    assert "node_selector" in mine[-1].message
