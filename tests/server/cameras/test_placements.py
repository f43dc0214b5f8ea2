"""CameraService.ListPlacements: a camera's placement history, newest first, paged; the errors
a caller sees for unknown cameras, bad ids and bad page tokens.

The history here is written into the placements table the way server/placement/store.py writes
it (one row per decision), so paging can be checked on a known, long history without waiting
for that many real moves; the scheduler's own tests (tests/server/placement/) check that real
decisions land there.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from camfleet.v1 import camera_pb2, common_pb2

from server.db.engine import session_factory
from server.db.models import PlacementRow
from tests.support.assertions import refused
from tests.support.platform import Metadata, Platform

INVALID = grpc.StatusCode.INVALID_ARGUMENT
# (stored reason, the API's value), in the order the history below is written.
REASONS = [
    ("placed", camera_pb2.PLACEMENT_REASON_PLACED),
    ("node_lost", camera_pb2.PLACEMENT_REASON_NODE_LOST),
    ("drain", camera_pb2.PLACEMENT_REASON_DRAIN),
    ("handover_done", camera_pb2.PLACEMENT_REASON_HANDOVER_DONE),
    ("rebalance", camera_pb2.PLACEMENT_REASON_REBALANCE),
    ("selector", camera_pb2.PLACEMENT_REASON_SELECTOR),
    ("unplaced", camera_pb2.PLACEMENT_REASON_UNPLACED),
    ("published", camera_pb2.PLACEMENT_REASON_PUBLISHED),
]
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


async def _pull_camera(platform: Platform) -> camera_pb2.Camera:
    return (
        await platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(
                    name=f"hist-{secrets.token_hex(5)}",
                    ingest_mode=camera_pb2.INGEST_MODE_PULL,
                    source_url="rtsp://127.0.0.1:8554/none",
                    # no node carries this label: the scheduler leaves the camera alone
                    node_selector={"test": secrets.token_hex(6)},
                )
            ),
            metadata=platform.admin,
        )
    ).camera


async def _write_history(platform: Platform, camera_id: str, count: int, start: int = 0) -> None:
    """`count` decisions for the camera, a minute apart, epochs start+1.. (reasons cycling)."""
    sessions = session_factory(platform.plane.engine)
    async with sessions.begin() as session:
        for i in range(start, start + count):
            session.add(
                PlacementRow(
                    camera_id=camera_id,
                    from_node_id=f"node-{i}" if i else "",
                    to_node_id=f"node-{i + 1}",
                    reason=REASONS[i % len(REASONS)][0],
                    message=f"decision {i + 1}",
                    epoch=i + 1,
                    time=T0 + timedelta(minutes=i),
                )
            )


async def _page(
    platform: Platform,
    camera_id: str,
    page_size: int = 0,
    page_token: str = "",
    metadata: Metadata | None = None,
) -> camera_pb2.ListPlacementsResponse:
    return await platform.cameras.ListPlacements(  # type: ignore[no-any-return]
        camera_pb2.ListPlacementsRequest(
            camera_id=camera_id, page_size=page_size, page_token=page_token
        ),
        metadata=metadata or platform.admin,
    )


async def test_history_is_newest_first_with_every_field(platform: Platform) -> None:
    cam = await _pull_camera(platform)
    await _write_history(platform, cam.id, len(REASONS))
    listed = (await _page(platform, cam.id)).placements
    assert [p.epoch for p in listed] == list(range(len(REASONS), 0, -1))
    assert [p.reason for p in reversed(listed)] == [value for _, value in REASONS]
    newest, oldest = listed[0], listed[-1]
    assert (newest.camera_id, newest.from_node_id, newest.to_node_id) == (
        cam.id,
        f"node-{len(REASONS) - 1}",
        f"node-{len(REASONS)}",
    )
    assert newest.message == f"decision {len(REASONS)}"
    assert newest.time.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=len(REASONS) - 1)
    assert oldest.from_node_id == ""  # placed from nowhere


async def test_pages_follow_each_other_even_while_history_grows(platform: Platform) -> None:
    cam = await _pull_camera(platform)
    await _write_history(platform, cam.id, 7)
    first = await _page(platform, cam.id, page_size=3)
    assert [p.epoch for p in first.placements] == [7, 6, 5] and first.next_page_token
    # Two more decisions between pages neither repeat nor skip a row of the next pages.
    await _write_history(platform, cam.id, 2, start=7)
    second = await _page(platform, cam.id, page_size=3, page_token=first.next_page_token)
    assert [p.epoch for p in second.placements] == [4, 3, 2]
    third = await _page(platform, cam.id, page_size=3, page_token=second.next_page_token)
    assert [p.epoch for p in third.placements] == [1] and third.next_page_token == ""
    assert [p.epoch for p in (await _page(platform, cam.id, page_size=2)).placements] == [9, 8]


async def test_a_camera_without_history_has_an_empty_list(platform: Platform) -> None:
    cam = await _pull_camera(platform)
    resp = await _page(platform, cam.id)
    assert list(resp.placements) == [] and resp.next_page_token == ""


async def test_viewers_may_read_history(platform: Platform) -> None:
    cam = await _pull_camera(platform)
    await _write_history(platform, cam.id, 2)
    viewer = await platform.as_role(common_pb2.ROLE_VIEWER)
    assert [p.epoch for p in (await _page(platform, cam.id, metadata=viewer)).placements] == [2, 1]


async def test_unknown_cameras_and_bad_requests(platform: Platform) -> None:
    missing = str(uuid.uuid4())
    refusal = await refused(_page(platform, missing), grpc.StatusCode.NOT_FOUND)
    assert refusal.message == f"camera {missing} does not exist"
    refusal = await refused(_page(platform, ""), INVALID)
    assert refusal.message == "camera_id: is required" and list(refusal.fields) == ["camera_id"]
    refusal = await refused(_page(platform, "cam-1' OR 1=1"), INVALID)
    assert refusal.message.startswith("camera_id: must be a UUID")

    cam, other = await _pull_camera(platform), await _pull_camera(platform)
    await _write_history(platform, cam.id, 3)
    token = (await _page(platform, cam.id, page_size=1)).next_page_token
    refusal = await refused(_page(platform, other.id, page_token=token), INVALID)
    assert refusal.message == (
        "page_token: does not belong to this query (camera_id changed); start again without "
        "page_token"
    )
    for junk in ("not-a-token", "x" * 10_000, token[:-2]):
        refusal = await refused(_page(platform, cam.id, page_token=junk), INVALID)
        assert refusal.message.startswith("page_token: "), refusal.message
    refusal = await refused(_page(platform, cam.id, page_size=-1), INVALID)
    assert refusal.message.startswith("page_size: must not be negative (got -1)")
    # Above the maximum is coerced, not refused (AIP-158).
    assert len((await _page(platform, cam.id, page_size=1_000_000)).placements) == 3
