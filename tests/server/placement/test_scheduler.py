"""The scheduler in process on SQLite and PostgreSQL, following the real event log: cameras are
placed as they are created, a lost node's cameras are spread over the others at once, a camera
no node may take waits with a reason until one can, a join rebalances gradually (bounded, make-
before-break, with hysteresis), label and selector changes, deactivation and a switch to push
re-place or unplace, cordon keeps new cameras off and drain hands every camera over."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import select

from server.cameras.model import CameraStatus
from server.db.engine import create_engine, session_factory
from server.db.models import CameraRow, PlacementRow, utcnow
from server.eventlog.sql_log import SqlEventLog
from server.events.publisher import EventPublisher
from server.leader.leadership import Leadership
from server.nodes.registry import NodeState
from server.placement.scheduler import placement_jobs
from server.placement.store import PlacementRecorder, PlacementStore
from tests.server.placement.conftest import Fleet
from tests.support.fleet_nodes import eventually


async def settled(
    fleet: Fleet, check: Callable[[list[CameraRow]], bool], what: str
) -> list[CameraRow]:
    async def probe() -> list[CameraRow] | None:
        rows = await fleet.cameras()
        return rows if check(rows) else None

    return await eventually(probe, what=what, within_s=30)


def per_node(rows: list[CameraRow]) -> Counter[str | None]:
    return Counter(r.node_id for r in rows)


async def finish_handovers(fleet: Fleet) -> None:
    """Each handover target reports its camera ONLINE, as its agent would."""
    for row in await fleet.cameras():
        if row.handover_node_id:
            await fleet.status.set(row.id, CameraStatus.ONLINE, "", row.handover_node_id, utcnow())


async def test_new_cameras_spread_and_a_lost_nodes_cameras_move_at_once(fleet: Fleet) -> None:
    a, b, c = [await fleet.node(n) for n in ("a", "b", "c")]
    fleet.start_scheduler()
    for i in range(9):
        await fleet.camera(f"cam-{i}")
    rows = await settled(
        fleet, lambda rs: per_node(rs) == {a: 3, b: 3, c: 3}, "three cameras on each node"
    )
    assert {r.placement_epoch for r in rows} == {1}

    await fleet.lose(c)
    rows = await settled(
        fleet, lambda rs: per_node(rs) == {a: 4, b: 5} or per_node(rs) == {a: 5, b: 4}, "moved"
    )
    moved = [r for r in rows if r.placement_epoch == 2]
    assert len(moved) == 3


async def test_a_camera_waits_with_a_reason_until_a_matching_node_joins(fleet: Fleet) -> None:
    await fleet.node("south", labels={"site": "south"})
    fleet.start_scheduler()
    camera = await fleet.camera("north-cam", selector={"site": "north"})
    await settled(
        fleet,
        lambda rs: rs[0].placement_reason == "no READY node matches site=north",
        "the waiting reason",
    )
    north = await fleet.node("north", labels={"site": "north"})
    row = (await settled(fleet, lambda rs: rs[0].node_id == north, "placed on north"))[0]
    assert (row.id, row.placement_reason) == (camera, "")


async def test_a_joining_node_gets_cameras_gradually_and_only_while_it_is_worth_it(
    fleet: Fleet,
) -> None:
    busy = await fleet.node("busy")
    fleet.start_scheduler(rebalance_moves_per_minute=600, rebalance_quiet_s=0)
    for i in range(6):
        await fleet.camera(f"cam-{i}")
    await settled(fleet, lambda rs: per_node(rs) == {busy: 6}, "all on the only node")
    idle = await fleet.node("idle")
    rows = await settled(
        fleet,
        lambda rs: sum(r.handover_node_id == idle for r in rs) == 3,
        "three handovers to the new node",
    )
    # Make-before-break: still on the busy node until the new one is ONLINE.
    assert per_node(rows) == {busy: 6}
    await finish_handovers(fleet)
    rows = await settled(fleet, lambda rs: per_node(rs) == {busy: 3, idle: 3}, "three each")
    assert all(r.handover_node_id is None for r in rows)


async def test_labels_selectors_deactivation_and_push_replace_or_unplace(fleet: Fleet) -> None:
    a = await fleet.node("a", labels={"site": "n"})
    b = await fleet.node("b", labels={"site": "n"})
    fleet.start_scheduler()
    picky = await fleet.camera("picky", selector={"site": "n"})
    row = (await settled(fleet, lambda rs: rs[0].node_id is not None, "placed"))[0]
    other = b if row.node_id == a else a
    # Its node's labels change: handed over to the node that still matches.
    await fleet.registry.set_labels(row.node_id, {"site": "s"}, None)
    await settled(fleet, lambda rs: rs[0].handover_node_id == other, "handover on labels")
    await finish_handovers(fleet)
    await settled(fleet, lambda rs: rs[0].node_id == other, "moved by labels")
    # Its selector changes to one no node matches: taken off, with the reason.
    await fleet.update_camera(picky, node_selector={"site": "x"})
    row = (await settled(fleet, lambda rs: rs[0].node_id is None, "taken off"))[0]
    assert row.placement_reason == "no READY node matches site=x"
    await fleet.update_camera(picky, node_selector={})
    await settled(fleet, lambda rs: rs[0].node_id is not None, "placed again")
    await fleet.update_camera(picky, active=False)
    await settled(fleet, lambda rs: rs[0].node_id is None, "deactivated: unplaced")
    await fleet.update_camera(picky, active=True)
    await settled(fleet, lambda rs: rs[0].node_id is not None, "activated: placed")
    await fleet.update_camera(picky, ingest_mode="push")
    await settled(fleet, lambda rs: rs[0].node_id is None, "push: unplaced")


async def test_cordon_keeps_new_cameras_off_and_drain_hands_everything_over(
    fleet: Fleet,
) -> None:
    old = await fleet.node("old")
    fleet.start_scheduler()
    for i in range(3):
        await fleet.camera(f"cam-{i}")
    await settled(fleet, lambda rs: per_node(rs) == {old: 3}, "on the only node")
    await fleet.registry.set_schedulable(old, cordoned=True, draining=True, live=None)
    new = await fleet.node("new")
    await fleet.camera("late")
    rows = await settled(
        fleet,
        lambda rs: (
            sum(r.handover_node_id == new for r in rs) == 3 and per_node(rs) == {old: 3, new: 1}
        ),
        "handovers from the drained node; the new camera on the new node",
    )
    await finish_handovers(fleet)
    rows = await settled(fleet, lambda rs: per_node(rs) == {new: 4}, "drained")
    assert {r.status for r in rows if r.name != "late"} == {CameraStatus.ONLINE.value}
    assert await fleet.registry.all_states() == {
        old: NodeState.READY.value,
        new: NodeState.READY.value,
    }


async def test_a_camera_waiting_for_room_gets_the_place_another_one_leaves(fleet: Fleet) -> None:
    node = await fleet.node("small", capacity=1)
    fleet.start_scheduler()
    first = await fleet.camera("first")
    await settled(fleet, lambda rs: rs[0].node_id == node, "the first camera placed")
    second = await fleet.camera("second")
    rows = await settled(
        fleet,
        lambda rs: any(r.placement_reason == "every READY node is full" for r in rs),
        "the second camera waits for room",
    )
    assert {r.id: r.node_id for r in rows} == {first: node, second: None}
    await fleet.update_camera(first, active=False)
    rows = await settled(
        fleet, lambda rs: {r.id: r.node_id for r in rs} == {first: None, second: node}, "swap"
    )


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_only_the_leader_places_and_the_next_leader_carries_on(fleet: Fleet) -> None:
    """Two replicas on one PostgreSQL database, each with the scheduler registered as its
    singleton job: every camera is placed once, by whichever leads, also across a change of
    leader."""
    engine = create_engine(fleet.database_url)
    sessions = session_factory(engine)
    events = SqlEventLog(engine, sessions, poll_s=0.1)
    await events.start()
    other = Leadership.for_engine(engine, sessions)
    publisher = EventPublisher(events)
    recorder = PlacementRecorder(publisher.camera_changed, publisher.camera_placed)
    try:
        fleet.leadership.run_while_leader(placement_jobs(fleet.sessions, fleet.events, fleet.store))
        await other.start()
        other.run_while_leader(
            placement_jobs(sessions, events, PlacementStore(sessions, recorder, other.fence))
        )
        assert fleet.leadership.is_leader and not other.is_leader
        a = await fleet.node("a")
        first = [await fleet.camera(f"first-{i}") for i in range(3)]
        await settled(fleet, lambda rs: per_node(rs) == {a: 3}, "placed by the first leader")

        await fleet.leadership.close()  # hands over at once
        await eventually(lambda: _leads(other), what="the other replica leads")
        b = await fleet.node("b")
        await fleet.camera("second")
        rows = await settled(
            fleet, lambda rs: all(r.node_id for r in rs) and b in per_node(rs), "placed again"
        )
        assert {r.id: r.placement_epoch for r in rows if r.id in first} == dict.fromkeys(first, 1)
        async with fleet.sessions() as session:
            placed = Counter(await session.scalars(select(PlacementRow.camera_id)))
        assert set(placed.values()) == {1}, placed
    finally:
        await other.close()
        await events.close()
        await engine.dispose()


async def _leads(leadership: Leadership) -> bool:
    return leadership.is_leader
