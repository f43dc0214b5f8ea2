"""Transcoding counts against a node's CPU cores in placement: each camera weighs its live
ladder's cores (server/placement/cost.py, a table measured by bench/bench_ladder.py) and goes
where cores are free. When no node has cores left, cameras are still placed (recording comes
first; a ladder runs only while watched), on the node with the most room, and the placement
event says the node is past its cores (server/placement/choice.py's rules)."""

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
BEYOND = "beyond its CPU cores"


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


def test_a_two_core_node_takes_ten_transcoding_cameras_within_its_cores_the_rest_beyond() -> None:
    planner = Planner()
    planner.set_node(two_cores())
    for i in range(30):
        planner.set_camera(camera(f"{i:02}", COPY_AND_360P))
    decisions = planner.place_waiting(NOW)
    # Every camera records: none waits for cores.
    assert len(placed_on(planner, "id-a")) == 30
    assert not [c for c in planner.cameras.values() if c.node_id is None]
    within = [d for d in decisions if BEYOND not in d.message]
    beyond = [d for d in decisions if BEYOND in d.message]
    assert len(within) == 10 and len(beyond) == 20
    assert sum(planner.cameras[d.camera_id].cores for d in within) <= usable_cores(2.0)
    # What the operator reads in the placement event.
    assert beyond[0].message.startswith(
        f"{planner.cameras[beyond[0].camera_id].name} placed on a, "
    )
    assert "it records, and live transcoding there falls behind" in beyond[0].message


def test_a_copy_only_camera_fits_within_a_node_full_of_transcoding() -> None:
    planner = Planner()
    planner.set_node(two_cores())
    for i in range(10):
        planner.set_camera(camera(str(i), COPY_AND_360P))
    planner.place_waiting(NOW)
    planner.set_camera(camera("copy", COPY_ONLY))
    [decision] = planner.plan_camera("cam-copy", NOW)
    assert decision.to_node_id == "id-a"
    assert decision.message == "copy placed on a"
    # Another transcoding camera does not fit within the cores: placed beyond them.
    planner.set_camera(camera("more", COPY_AND_360P))
    [decision] = planner.plan_camera("cam-more", NOW)
    assert decision.to_node_id == "id-a" and BEYOND in decision.message


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
def test_no_node_goes_past_its_cores_while_another_has_room(
    cores: list[float], costs: list[float]
) -> None:
    planner = Planner()
    for i, n in enumerate(cores):
        planner.set_node(PlanNode(id=f"id-{i}", name=f"n{i}", ready=True, cpu_cores=n))
    for i, cost in enumerate(costs):
        planner.set_camera(camera(str(i), cost))
    planner.place_waiting(NOW)
    # Every camera is placed: cores never make one wait.
    assert all(c.node_id is not None for c in planner.cameras.values())
    used = {n.id: sum(c.cores for c in placed_on(planner, n.id)) for n in planner.nodes.values()}
    past = [
        n for n in planner.nodes.values() if used[n.id] > usable_cores(n.cpu_cores) + 1e-9 > 1e-9
    ]
    if past:
        # A node went past its cores only when no node had room for the camera that did it:
        # room only shrinks, so at the end no node has room for the costliest camera.
        assert 0.0 not in cores
        assert all(
            usable_cores(n.cpu_cores) - used[n.id] < max(costs) for n in planner.nodes.values()
        )


async def test_the_scheduler_places_by_cores_and_records_every_camera(fleet: Fleet) -> None:
    node = await fleet.node("two-cores", cpu_cores=2.0)
    fleet.start_scheduler()
    # The streaming settings' default ladder (source + 360p) for cameras without their own:
    # ten fit within the node's cores, the other two are placed beyond them, not left waiting.
    cameras = [await fleet.camera(f"cam-{i}") for i in range(12)]
    rows = await settled(
        fleet,
        lambda rs: sum(r.node_id == node for r in rs) == 12,
        "all twelve cameras placed on the two-core node",
    )
    assert {r.id for r in rows if r.node_id == node} >= set(cameras)
    assert all(camera_to_proto(r, show_secrets=False).placement_reason == "" for r in rows)
    copy_only = await fleet.camera("copy-only", ladder=["source"])
    await settled(
        fleet,
        lambda rs: any(r.id == copy_only and r.node_id == node for r in rs),
        "a copy-only camera placed on the full node",
    )
    async with fleet.sessions() as session:
        row = await session.get(NodeRow, node)
    assert row is not None and node_to_proto(row).cpu_cores == 2.0
