"""A recording camera's make-before-break handover finishes on the target's first segment, not
on its ONLINE (server/cameras/status.py, fed by the recordings ingest): the old node stops only
once the new one writes. Only a segment of the handover's epoch counts; a camera that is not
recorded still finishes on ONLINE."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from server.cameras.model import CameraStatus
from server.db.models import PlacementRow, utcnow
from server.recordings.ingest import RecordingIngest
from server.recordings.reports import ReportedSegment, SegmentChange, SegmentReport
from tests.server.placement.conftest import Fleet


async def _handing_over(fleet: Fleet, *, recording: bool) -> tuple[str, str, str, int]:
    """A pull camera ONLINE on node a, handed over to node b: (camera, a, b, handover epoch)."""
    a, b = await fleet.node("a"), await fleet.node("b")
    camera_id = await fleet.camera("cam", node_id=a)
    await fleet.update_camera(
        camera_id, active=True, recording_enabled=recording, handover_node_id=b, placement_epoch=2
    )
    await fleet.status.set(camera_id, CameraStatus.ONLINE, "", a, utcnow())
    return camera_id, a, b, 2


def _segment(camera_id: str, epoch: int, end: datetime | None = None) -> SegmentReport:
    end = end or utcnow()
    segment = ReportedSegment(
        id=str(uuid.uuid4()),
        camera_id=camera_id,
        start=end - timedelta(seconds=2),
        end=end,
        duration_s=2.0,
        size_bytes=1000,
        epoch=epoch,
    )
    return SegmentReport(SegmentChange.CLOSED, segment)


async def _reasons(fleet: Fleet, camera_id: str) -> list[str]:
    async with fleet.sessions() as session:
        rows = await session.scalars(
            select(PlacementRow).where(PlacementRow.camera_id == camera_id)
        )
        return [r.reason for r in rows]


async def test_a_recording_camera_moves_on_the_targets_first_segment(fleet: Fleet) -> None:
    ingest = RecordingIngest(fleet.sessions, fleet.publisher, handovers=fleet.status)
    camera_id, a, b, epoch = await _handing_over(fleet, recording=True)

    # ONLINE on the target is not enough: it has not written anything yet.
    await fleet.status.set(camera_id, CameraStatus.ONLINE, "", b, utcnow())
    row = await fleet.get(camera_id)
    assert (row.node_id, row.handover_node_id) == (a, b)
    # The old node's source fails meanwhile: still its camera, in ERROR.
    await fleet.status.set(camera_id, CameraStatus.ERROR, "timed out", a, utcnow())
    # A segment of the target's from an earlier stint (an older epoch) is no sign either, nor
    # is one of the old node's.
    await ingest.segment_event(b, str(uuid.uuid4()), _segment(camera_id, epoch - 1), utcnow())
    await ingest.segment_event(a, str(uuid.uuid4()), _segment(camera_id, epoch), utcnow())
    row = await fleet.get(camera_id)
    assert (row.node_id, row.handover_node_id) == (a, b)

    await ingest.segment_event(b, str(uuid.uuid4()), _segment(camera_id, epoch), utcnow())
    row = await fleet.get(camera_id)
    assert (row.node_id, row.handover_node_id) == (b, None)
    assert row.placement_epoch == epoch + 1
    # It records there, so it is live there (its ONLINE report was held back).
    assert (row.status, row.status_reason) == (CameraStatus.ONLINE.value, "")
    assert "handover_done" in await _reasons(fleet, camera_id)


async def test_a_camera_not_recorded_moves_on_the_targets_online(fleet: Fleet) -> None:
    camera_id, _, b, epoch = await _handing_over(fleet, recording=False)
    await fleet.status.set(camera_id, CameraStatus.ONLINE, "", b, utcnow())
    row = await fleet.get(camera_id)
    assert (row.node_id, row.handover_node_id, row.placement_epoch) == (b, None, epoch + 1)


async def test_a_late_file_of_the_targets_earlier_stint_does_not_end_the_handover(
    fleet: Fleet,
) -> None:
    """The target recorded the camera before (then it was cut off, and the camera moved); its
    last file of that stint is indexed only now, under the epoch the node knows now, the
    handover's. It ended before the handover began: the old node goes on (CI 2026-12-06: it
    stopped 1.6 s before the new node's first segment)."""
    ingest = RecordingIngest(fleet.sessions, fleet.publisher, handovers=fleet.status)
    camera_id, a, b, epoch = await _handing_over(fleet, recording=True)
    began = utcnow()
    async with fleet.sessions.begin() as session:  # as the store records a drain's handover
        session.add(
            PlacementRow(
                camera_id=camera_id, from_node_id=a, to_node_id=b, reason="drain",
                message="cam moves from a to b: a drains", epoch=epoch, time=began,
            )
        )  # fmt: skip
    stale = _segment(camera_id, epoch, end=began - timedelta(seconds=5))
    await ingest.segment_event(b, str(uuid.uuid4()), stale, utcnow())
    row = await fleet.get(camera_id)
    assert (row.node_id, row.handover_node_id) == (a, b)
    # Its first file written since the handover began ends it.
    await ingest.segment_event(b, str(uuid.uuid4()), _segment(camera_id, epoch), utcnow())
    row = await fleet.get(camera_id)
    assert (row.node_id, row.handover_node_id) == (b, None)
