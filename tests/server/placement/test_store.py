"""The placement store and the camera status rules for pull cameras, on SQLite and PostgreSQL:
an applied decision changes the camera row and writes its history row, its CAMERA_PLACED event
and its audit entry in one transaction; a decision made against an older picture is skipped; a
deposed leader's batch writes nothing; a handover finishes when the target node reports the
camera ONLINE, and other nodes' reports never move a pull camera."""

from __future__ import annotations

from datetime import timedelta

import pytest
from camfleet.v1 import event_pb2
from sqlalchemy import select

from server.cameras.model import CameraStatus
from server.db.models import AuditLogRow, EventRow, PlacementRow, utcnow
from server.leader.model import NotLeader
from server.nodes.assignments import AssignmentBuilder
from server.placement.fleet import Action, Decision
from server.placement.model import PlacementReason
from server.placement.store import PlacementStore
from tests.server.placement.conftest import Fleet


def move(camera_id: str, to: str | None, epoch: int = 0, src: str | None = None) -> Decision:
    return Decision(
        camera_id, Action.MOVE, src, to, PlacementReason.PLACED, "cam placed on a", epoch
    )


async def history(fleet: Fleet, camera_id: str) -> list[PlacementRow]:
    async with fleet.sessions() as session:
        return list(
            await session.scalars(
                select(PlacementRow)
                .where(PlacementRow.camera_id == camera_id)
                .order_by(PlacementRow.id)
            )
        )


async def placed_events(fleet: Fleet, camera_id: str) -> list[event_pb2.Event]:
    """The camera's CAMERA_PLACED events as committed (the outbox's rows)."""
    async with fleet.sessions() as session:
        rows = await session.scalars(
            select(EventRow)
            .where(EventRow.subject == f"cameras/{camera_id}", EventRow.kind == "camera.placed")
            .order_by(EventRow.revision)
        )
        return [event_pb2.Event.FromString(row.payload) for row in rows]


async def test_a_move_writes_the_row_history_event_and_audit(fleet: Fleet) -> None:
    node = await fleet.node("a")
    camera = await fleet.camera("cam")
    applied = await fleet.store.apply([move(camera, node)])
    assert [r.id for r in applied.rows] == [camera] and applied.skipped == []

    row = await fleet.get(camera)
    assert (row.node_id, row.placement_epoch, row.handover_node_id) == (node, 1, None)
    [placed] = await history(fleet, camera)
    assert (placed.from_node_id, placed.to_node_id, placed.reason, placed.epoch) == (
        "",
        node,
        "placed",
        1,
    )
    [event] = await placed_events(fleet, camera)
    assert event.placement.to_node_id == node and event.placement.epoch == 1
    assert event.message == "cam placed on a"
    async with fleet.sessions() as session:
        audit = list(
            await session.scalars(
                select(AuditLogRow).where(AuditLogRow.target == f"cameras/{camera}")
            )
        )
    assert [a.action for a in audit] == ["camera.placed"]


async def test_a_decision_made_against_an_older_picture_is_skipped(fleet: Fleet) -> None:
    node = await fleet.node("a")
    camera = await fleet.camera("cam")
    await fleet.store.apply([move(camera, node)])
    stale = await fleet.store.apply([move(camera, node, epoch=0)])
    assert stale.rows == [] and len(stale.skipped) == 1
    assert (await fleet.get(camera)).placement_epoch == 1
    assert len(await history(fleet, camera)) == 1


async def test_a_deposed_leaders_batch_writes_nothing(fleet: Fleet) -> None:
    node = await fleet.node("a")
    camera = await fleet.camera("cam")
    await fleet.leadership.close()  # no longer leads
    with pytest.raises(NotLeader):
        await PlacementStore(fleet.sessions, fleet.recorder, fleet.leadership.fence).apply(
            [move(camera, node)]
        )
    row = await fleet.get(camera)
    assert (row.node_id, row.placement_epoch) == (None, 0)
    assert await history(fleet, camera) == []


async def test_a_handover_finishes_when_the_target_reports_online(fleet: Fleet) -> None:
    old, new = await fleet.node("old"), await fleet.node("new")
    camera = await fleet.camera("cam")
    await fleet.store.apply([move(camera, old)])
    at = utcnow()
    await fleet.status.set(camera, CameraStatus.ONLINE, "", old, at)
    handover = Decision(
        camera, Action.HANDOVER, old, new, PlacementReason.DRAIN, "drain", 1, handover_node_id=new
    )
    await fleet.store.apply([handover])
    row = await fleet.get(camera)
    assert (row.node_id, row.handover_node_id, row.placement_epoch) == (old, new, 2)

    # The target warming up does not touch the camera's status: the old node still serves it.
    assert await fleet.status.set(camera, CameraStatus.CONNECTING, "", new, at) is None
    assert (await fleet.get(camera)).status == CameraStatus.ONLINE.value
    await fleet.status.set(camera, CameraStatus.ONLINE, "", new, at + timedelta(seconds=1))
    row = await fleet.get(camera)
    assert (row.node_id, row.handover_node_id, row.placement_epoch) == (new, None, 3)
    assert row.status == CameraStatus.ONLINE.value
    reasons = [(p.reason, p.from_node_id, p.to_node_id) for p in await history(fleet, camera)]
    assert reasons == [("placed", "", old), ("drain", old, new), ("handover_done", old, new)]
    # The old node stopping it is no longer heard.
    late = at + timedelta(seconds=2)
    assert await fleet.status.set(camera, CameraStatus.OFFLINE, "gone", old, late) is None


async def test_another_nodes_report_never_moves_a_pull_camera(fleet: Fleet) -> None:
    mine, other = await fleet.node("mine"), await fleet.node("other")
    camera = await fleet.camera("cam")
    await fleet.store.apply([move(camera, mine)])
    for status in (CameraStatus.CONNECTING, CameraStatus.ONLINE, CameraStatus.ERROR):
        assert await fleet.status.set(camera, status, "", other, utcnow()) is None
    assert (await fleet.get(camera)).node_id == mine
    # Reconnecting with the camera among its streams does not take it either.
    await fleet.status.reconcile_node(other, {camera: CameraStatus.ONLINE}, utcnow(), "gone")
    row = await fleet.get(camera)
    assert (row.node_id, row.status) == (mine, CameraStatus.OFFLINE.value)


async def test_a_pull_camera_placed_back_on_a_node_that_still_pulls_it_comes_online(
    fleet: Fleet,
) -> None:
    """The node was cut off: its pull camera was taken off it, and its publish, when the link
    came back, was not heard. Placed back (a new epoch restarts no puller, so no event comes),
    the assignment's ACK reconciles it to what the node streams; other cameras stay as they
    are."""
    node = await fleet.node("edge")
    camera, idle = await fleet.camera("pulled"), await fleet.camera("idle", pull=False)
    await fleet.store.apply([move(camera, node)])
    await fleet.status.set(idle, CameraStatus.ONLINE, "", node, utcnow())
    await fleet.store.apply([move(camera, None, epoch=1, src=node)])
    assert await fleet.status.set(camera, CameraStatus.ONLINE, "", node, utcnow()) is None
    await fleet.store.apply([move(camera, node, epoch=2)])
    assert (await fleet.get(camera)).status != CameraStatus.ONLINE.value

    changed = await fleet.status.reconcile_node(node, {camera: CameraStatus.ONLINE}, utcnow(), None)
    assert [r.id for r in changed] == [camera]
    row = await fleet.get(camera)
    assert (row.node_id, row.status, row.status_reason) == (node, CameraStatus.ONLINE.value, "")
    assert (await fleet.get(idle)).status == CameraStatus.ONLINE.value  # not in `live`: kept


async def test_a_push_camera_is_homed_where_it_publishes(fleet: Fleet) -> None:
    first, second = await fleet.node("first"), await fleet.node("second")
    camera = await fleet.camera("pushed", pull=False)
    await fleet.status.set(camera, CameraStatus.CONNECTING, "", first, utcnow())
    await fleet.status.set(camera, CameraStatus.CONNECTING, "", second, utcnow())
    row = await fleet.get(camera)
    assert (row.node_id, row.placement_epoch) == (second, 2)
    homes = [(p.reason, p.from_node_id, p.to_node_id) for p in await history(fleet, camera)]
    assert homes == [("published", "", first), ("published", first, second)]


async def test_both_nodes_of_a_handover_are_assigned_the_camera_with_its_epoch(
    fleet: Fleet,
) -> None:
    old, new = await fleet.node("old"), await fleet.node("new")
    camera = await fleet.camera("cam")
    await fleet.store.apply([move(camera, old)])
    handover = Decision(
        camera, Action.HANDOVER, old, new, PlacementReason.DRAIN, "drain", 1, handover_node_id=new
    )
    await fleet.store.apply([handover])
    builder = AssignmentBuilder(fleet.sessions)
    for node in (old, new):
        assignment = await builder.current(node)
        assert assignment is not None
        assert [(c.camera_id, c.epoch) for c in assignment.cameras] == [(camera, 2)]
    await fleet.status.set(camera, CameraStatus.ONLINE, "", new, utcnow())
    old_assignment, new_assignment = await builder.current(old), await builder.current(new)
    assert old_assignment is not None and new_assignment is not None
    assert old_assignment.cameras == ()
    assert [(c.camera_id, c.epoch) for c in new_assignment.cameras] == [(camera, 3)]
