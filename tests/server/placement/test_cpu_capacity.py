"""Transcoding counts against a node's CPU cores in placement: each camera weighs its live
ladder's cores (server/placement/cost.py, a table measured by bench/bench_ladder.py), a node
that said its cores never gets more than their usable share, and a camera no node has room for
waits with a sentence saying so (the camera's placement_reason, as the API shows it)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from server.cameras.convert import camera_to_proto
from server.db.models import NodeRow
from server.nodes.convert import node_to_proto
from server.placement.cost import ladder_cores, usable_cores
from server.placement.fleet import PlanCamera, PlanNode
from server.placement.planner import Planner
from tests.server.placement.conftest import Fleet
from tests.server.placement.test_scheduler import settled

NOW = 10_000.0
COPY_AND_360P = ladder_cores(("source", "360p"))
COPY_ONLY = ladder_cores(("source",))
BOTH_ENCODED = ladder_cores(("720p", "360p"))
FULL = (
    "every READY node is full: its live ladder needs 0.18 CPU cores to transcode and no node "
    "has that free (cameras may fill 90% of a node's cores)"
)


def two_cores(name: str = "a", **kw: object) -> PlanNode:
    return PlanNode(id=f"id-{name}", name=name, ready=True, cpu_cores=2.0, **kw)  # type: ignore[arg-type]


def camera(name: str, cores: float, on: str | None = None) -> PlanCamera:
    return PlanCamera(
        id=f"cam-{name}", name=name, pull=True, active=True, node_id=on and f"id-{on}", cores=cores
    )


def placed_on(planner: Planner, node_id: str) -> list[PlanCamera]:
    return [c for c in planner.cameras.values() if c.node_id == node_id]


def test_the_measured_table_prices_the_ladders_as_bench_ladder_measured_them() -> None:
    # bench/README.md: copy + 360p 0.164 cores per camera, 720p + 360p 0.637, nginx 0.008.
    assert 0.16 <= COPY_AND_360P <= 0.19
    assert COPY_ONLY < 0.02
    assert 0.6 <= BOTH_ENCODED <= 0.7


def test_a_two_core_node_takes_about_ten_copy_and_360p_cameras_not_thirty() -> None:
    planner = Planner()
    planner.set_node(two_cores())
    for i in range(30):
        planner.set_camera(camera(str(i), COPY_AND_360P))
    planner.place_waiting(NOW)
    on_node = placed_on(planner, "id-a")
    assert len(on_node) == 10
    assert sum(c.cores for c in on_node) <= usable_cores(2.0) <= 2.0
    waiting = [c for c in planner.cameras.values() if c.node_id is None]
    assert len(waiting) == 20
    assert {c.waiting for c in waiting} == {FULL}
    # Asking again changes nothing: the sentence holds no load, so no event per change.
    assert planner.place_waiting(NOW) == []


def test_a_copy_only_camera_still_fits_on_a_node_full_of_transcoding() -> None:
    planner = Planner()
    planner.set_node(two_cores())
    for i in range(11):
        planner.set_camera(camera(str(i), COPY_AND_360P))
    planner.place_waiting(NOW)
    [left] = [c.id for c in planner.cameras.values() if c.node_id is None]
    planner.set_camera(camera("copy", COPY_ONLY))
    [decision] = planner.plan_camera("cam-copy", NOW)
    assert decision.to_node_id == "id-a"
    assert decision.message == "copy placed on a"
    # The transcoding camera still waits: a copy is no encode.
    assert planner.cameras[left].node_id is None
    assert planner.plan_camera(left, NOW) == []


def test_a_node_that_did_not_say_its_cores_has_no_core_limit() -> None:
    planner = Planner()
    planner.set_node(PlanNode(id="id-old", name="old", ready=True))
    for i in range(30):
        planner.set_camera(camera(str(i), COPY_AND_360P))
    planner.place_waiting(NOW)
    assert len(placed_on(planner, "id-old")) == 30


def test_transcoding_goes_where_the_cores_are_and_rebalance_respects_them() -> None:
    planner = Planner()
    planner.set_node(two_cores("small"))
    planner.set_node(PlanNode(id="id-big", name="big", ready=True, cpu_cores=8.0))
    for i in range(20):
        planner.set_camera(camera(str(i), COPY_AND_360P))
    planner.place_waiting(NOW)
    # Shares of usable cores, not camera counts: big (7.2 usable) takes about four times more.
    assert len(placed_on(planner, "id-big")) == 16
    assert len(placed_on(planner, "id-small")) == 4
    # A full small node is never a rebalance target for a transcoding camera.
    full = Planner()
    full.set_node(two_cores("small"))
    full.set_node(PlanNode(id="id-busy", name="busy", ready=True))
    for i in range(10):
        full.set_camera(camera(f"s{i}", COPY_AND_360P, on="small"))
    for i in range(14):
        full.set_camera(camera(f"b{i}", COPY_AND_360P, on="busy"))
    assert full.rebalance(5, NOW + 1000) == []


@settings(max_examples=150, deadline=None)
@given(
    cores=st.lists(st.sampled_from([0.0, 1.0, 2.0, 4.0]), min_size=1, max_size=4),
    costs=st.lists(st.sampled_from([COPY_ONLY, COPY_AND_360P, BOTH_ENCODED]), max_size=60),
)
def test_no_node_is_given_more_transcoding_than_its_cores_allow(
    cores: list[float], costs: list[float]
) -> None:
    planner = Planner()
    for i, n in enumerate(cores):
        planner.set_node(PlanNode(id=f"id-{i}", name=f"n{i}", ready=True, cpu_cores=n))
    for i, cost in enumerate(costs):
        planner.set_camera(camera(str(i), cost))
    planner.place_waiting(NOW)
    for node in planner.nodes.values():
        used = sum(c.cores for c in placed_on(planner, node.id))
        if node.cpu_cores:
            assert used <= usable_cores(node.cpu_cores) + 1e-9
    for waiting in (c for c in planner.cameras.values() if c.node_id is None):
        assert planner.choose(waiting) is None
        assert "full" in waiting.waiting


async def test_the_scheduler_places_by_cores_and_says_why_a_camera_waits(fleet: Fleet) -> None:
    node = await fleet.node("two-cores", cpu_cores=2.0)
    fleet.start_scheduler()
    # The streaming settings' default ladder (source + 360p) for cameras without their own.
    cameras = [await fleet.camera(f"cam-{i}") for i in range(12)]
    rows = await settled(
        fleet,
        lambda rs: (
            sum(r.node_id == node for r in rs) == 10
            and sum(r.placement_reason == FULL for r in rs) == 2
        ),
        "ten cameras placed and two waiting for cores",
    )
    waiting = [r for r in rows if r.node_id is None]
    assert {r.id for r in waiting} <= set(cameras)
    # What a user reads on the camera (the API's placement_reason).
    assert camera_to_proto(waiting[0], show_secrets=False).placement_reason == FULL
    copy_only = await fleet.camera("copy-only", ladder=["source"])
    await settled(
        fleet,
        lambda rs: any(r.id == copy_only and r.node_id == node for r in rs),
        "a copy-only camera placed on the full node",
    )
    # A camera that drops its 360p rung frees room for a waiting one.
    placed = next(r for r in rows if r.node_id == node)
    await fleet.update_camera(placed.id, live_ladder=["source"])
    await settled(
        fleet,
        lambda rs: sum(r.node_id == node for r in rs) == 12,
        "a waiting camera placed in the room the dropped rung left",
    )
    async with fleet.sessions() as session:
        row = await session.get(NodeRow, node)
    assert row is not None and node_to_proto(row).cpu_cores == 2.0
