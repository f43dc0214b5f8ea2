"""The pure planner over many fleet shapes: where a camera goes (load, capacity, selectors,
cordon, drain, readiness), why it waits, failover spreading a lost node's cameras, drain and
rebalance handovers (bounded, with hysteresis and a quiet period), and, over random fleets, the
invariant that every active pull camera ends on a node allowed to take it or waits because none
may."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from server.placement.fleet import Action, Decision, PlanCamera, PlanNode
from server.placement.model import PlacementReason
from server.placement.planner import Planner

NOW = 10_000.0


def fleet(*nodes: PlanNode) -> Planner:
    planner = Planner()
    for node in nodes:
        planner.set_node(node)
    return planner


def node(name: str, *, capacity: int = 0, ready: bool = True, **kw: object) -> PlanNode:
    return PlanNode(id=f"id-{name}", name=name, ready=ready, capacity=capacity, **kw)  # type: ignore[arg-type]


def pull(name: str, on: str | None = None, **kw: object) -> PlanCamera:
    return PlanCamera(
        id=f"cam-{name}", name=name, pull=True, active=True, node_id=on and f"id-{on}", **kw
    )  # type: ignore[arg-type]


def add(planner: Planner, *cameras: PlanCamera) -> None:
    for camera in cameras:
        planner.set_camera(camera)


def targets(decisions: list[Decision]) -> Counter[str | None]:
    return Counter(d.to_node_id for d in decisions)


def test_a_new_camera_goes_to_the_least_loaded_ready_node() -> None:
    planner = fleet(node("a"), node("b"), node("c"))
    add(planner, pull("1", "a"), pull("2", "a"), pull("3", "b"))
    add(planner, pull("new"))
    [decision] = planner.plan_camera("cam-new", NOW)
    assert decision.action is Action.MOVE
    assert (decision.from_node_id, decision.to_node_id) == (None, "id-c")
    assert decision.reason is PlacementReason.PLACED
    assert decision.message == "new placed on c"
    assert decision.epoch == 0
    assert planner.cameras["cam-new"].epoch == 1
    assert planner.load == {"id-a": 2, "id-b": 1, "id-c": 1}


def test_capacity_weighs_load_and_is_a_hard_limit() -> None:
    planner = fleet(node("small", capacity=2), node("big", capacity=10))
    add(planner, pull("1", "big"), pull("2", "big"))
    # small: (0+1)/2 = 0.5; big: (2+1)/10 = 0.3
    add(planner, pull("x"))
    assert planner.plan_camera("cam-x", NOW)[0].to_node_id == "id-big"
    full = fleet(node("one", capacity=1))
    add(full, pull("1", "one"), pull("2"))
    [wait] = full.plan_camera("cam-2", NOW)
    assert wait.action is Action.WAIT
    assert wait.waiting == "every READY node is full"
    assert full.cameras["cam-2"].node_id is None


def test_capacity_zero_is_unlimited_and_push_cameras_count_in_load() -> None:
    planner = fleet(node("a"), node("b"))
    homed = PlanCamera(id="push-1", name="p", pull=False, active=True, node_id="id-a")
    add(planner, homed, pull("x"))
    assert planner.load["id-a"] == 1
    assert planner.plan_camera("push-1", NOW) == []  # push cameras are never placed
    assert planner.plan_camera("cam-x", NOW)[0].to_node_id == "id-b"


def test_selectors_pick_matching_nodes_and_explain_when_none_matches() -> None:
    north = node("n1", labels={"site": "north", "gpu": "yes"})
    planner = fleet(node("s1", labels={"site": "south"}), north)
    add(planner, pull("x", selector={"site": "north"}), pull("y", selector={"site": "east"}))
    assert planner.plan_camera("cam-x", NOW)[0].to_node_id == "id-n1"
    [wait] = planner.plan_camera("cam-y", NOW)
    assert wait.waiting == "no READY node matches site=east"
    assert wait.message == "y waits: no READY node matches site=east"
    # The same reason again is no new decision.
    assert planner.plan_camera("cam-y", NOW) == []


def test_cordoned_draining_and_unready_nodes_take_no_new_cameras() -> None:
    planner = fleet(node("c", cordoned=True), node("d", draining=True), node("lost", ready=False))
    add(planner, pull("x"))
    [wait] = planner.plan_camera("cam-x", NOW)
    assert wait.waiting == "every READY node is cordoned or draining"
    assert fleet(node("lost", ready=False)).why_none(pull("x")) == "no READY node"
    # A cordoned node keeps the cameras it has.
    add(planner, pull("kept", "c"))
    assert planner.plan_camera("cam-kept", NOW) == []


def test_a_deactivated_camera_is_taken_off_its_node() -> None:
    planner = fleet(node("a"))
    add(planner, PlanCamera(id="cam-x", name="x", pull=True, active=False, node_id="id-a"))
    [off] = planner.plan_camera("cam-x", NOW)
    assert (off.action, off.to_node_id, off.reason) == (Action.MOVE, None, PlacementReason.UNPLACED)
    assert planner.load["id-a"] == 0


def test_failover_spreads_a_lost_nodes_cameras_evenly() -> None:
    planner = fleet(node("a"), node("b"), node("c"), node("dead"))
    add(planner, *(pull(str(i), "dead") for i in range(99)))
    planner.set_node(node("dead", ready=False))
    decisions = planner.failover("id-dead", NOW)
    assert len(decisions) == 99
    assert targets(decisions) == {"id-a": 33, "id-b": 33, "id-c": 33}
    assert {d.reason for d in decisions} == {PlacementReason.NODE_LOST}
    assert decisions[0].message.startswith("node dead lost; ")
    assert planner.cameras_on("id-dead") == []


def test_failover_with_nowhere_to_go_takes_cameras_off_with_a_reason() -> None:
    planner = fleet(node("dead"), node("other", labels={"site": "b"}))
    add(planner, pull("x", "dead", selector={"site": "a"}))
    planner.set_node(node("dead", ready=False))
    [off] = planner.failover("id-dead", NOW)
    assert (off.action, off.to_node_id) == (Action.MOVE, None)
    assert off.waiting == "no READY node matches site=a"
    assert planner.waiting() == ["cam-x"]
    # When a matching node comes, the waiting camera is placed.
    planner.set_node(node("new", labels={"site": "a"}))
    [placed] = planner.place_waiting(NOW)
    assert placed.to_node_id == "id-new"


def test_failover_cancels_handovers_to_the_lost_node() -> None:
    planner = fleet(node("a"), node("b"))
    add(planner, pull("x", "a", handover_node_id="id-b", epoch=3))
    planner.set_node(node("b", ready=False))
    [cancel] = planner.failover("id-b", NOW)
    assert cancel.action is Action.CANCEL_HANDOVER
    assert cancel.epoch == 3
    camera = planner.cameras["cam-x"]
    assert (camera.node_id, camera.handover_node_id, camera.epoch) == ("id-a", None, 4)


def test_drain_hands_every_camera_over_and_spreads_them() -> None:
    planner = fleet(node("a"), node("b"), node("old"))
    add(planner, *(pull(str(i), "old") for i in range(6)))
    planner.set_node(node("old", draining=True, cordoned=True))
    decisions = planner.drain("id-old", NOW)
    assert {d.action for d in decisions} == {Action.HANDOVER}
    assert targets(decisions) == {"id-a": 3, "id-b": 3}
    # Until the handovers finish, the cameras stay on the old node, and count on both.
    assert len(planner.cameras_on("id-old")) == 6
    assert planner.load == {"id-a": 3, "id-b": 3, "id-old": 6}
    assert planner.drain("id-old", NOW) == []  # nothing twice


def test_drain_without_another_node_waits_and_keeps_the_cameras_running() -> None:
    planner = fleet(node("only", draining=True))
    add(planner, pull("x", "only"))
    assert planner.drain("id-only", NOW) == []
    assert planner.cameras["cam-x"].node_id == "id-only"


def test_labels_no_longer_matching_hand_the_camera_over() -> None:
    planner = fleet(node("a", labels={"site": "n"}), node("b", labels={"site": "n"}))
    add(planner, pull("x", "a", selector={"site": "n"}))
    planner.set_node(node("a", labels={"site": "s"}))
    [move] = planner.plan_camera("cam-x", NOW)
    assert (move.action, move.handover_node_id) == (Action.HANDOVER, "id-b")
    assert move.reason is PlacementReason.SELECTOR


def test_rebalance_is_bounded_and_stops_within_one_camera() -> None:
    planner = fleet(node("busy"), node("idle"))
    add(planner, *(pull(str(i), "busy") for i in range(10)))
    first = planner.rebalance(2, NOW)
    assert len(first) == 2
    assert {(d.action, d.to_node_id, d.reason) for d in first} == {
        (Action.HANDOVER, "id-idle", PlacementReason.REBALANCE)
    }
    more = planner.rebalance(100, NOW)
    # Counted as they will be once the handovers finish: five each.
    assert len(first) + len(more) == 5
    assert planner.settled_load("id-busy") == planner.settled_load("id-idle") == 5
    assert planner.load == {"id-busy": 10, "id-idle": 5}


def test_rebalance_has_hysteresis_and_a_quiet_period() -> None:
    planner = fleet(node("a"), node("b"))
    add(planner, pull("1", "a"), pull("2", "a"), pull("3", "b"))
    assert planner.rebalance(10, NOW) == []  # 2 vs 1: not worth a move
    recent = fleet(node("a"), node("b"))
    add(recent, *(pull(str(i), "a", moved_at=NOW - 10) for i in range(4)))
    assert recent.rebalance(10, NOW) == []
    assert len(recent.rebalance(10, NOW + 400)) > 0


def test_rebalance_respects_selectors() -> None:
    planner = fleet(node("a", labels={"site": "x"}), node("b"))
    add(planner, *(pull(str(i), "a", selector={"site": "x"}) for i in range(5)))
    assert planner.rebalance(10, NOW) == []


node_shapes = st.builds(
    lambda i, ready, cordoned, capacity, site: PlanNode(
        id=f"n{i}",
        name=f"n{i}",
        ready=ready,
        cordoned=cordoned,
        capacity=capacity,
        labels={"site": site},
    ),
    st.integers(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0, 1, 3, 10]),
    st.sampled_from(["a", "b"]),
)


@settings(max_examples=200, deadline=None)
@given(
    nodes=st.lists(node_shapes, max_size=6, unique_by=lambda n: n.id),
    wanted=st.lists(st.sampled_from([None, "a", "b"]), max_size=40),
)
def test_every_camera_ends_on_an_allowed_node_or_waits_for_a_reason(
    nodes: list[PlanNode], wanted: list[str | None]
) -> None:
    planner = fleet(*nodes)
    for i, site in enumerate(wanted):
        add(planner, pull(str(i), selector={"site": site} if site else {}))
    planner.place_waiting(NOW)
    per_node: Counter[str] = Counter()
    for camera in planner.cameras.values():
        if camera.node_id is None:
            assert camera.waiting
            assert planner.choose(camera) is None
            continue
        chosen = planner.nodes[camera.node_id]
        assert chosen.schedulable and chosen.matches(camera.selector)
        per_node[chosen.id] += 1
    for node_id, count in per_node.items():
        capacity = planner.nodes[node_id].capacity
        assert capacity == 0 or count <= capacity
        assert planner.load[node_id] == count
    # A second pass changes nothing.
    assert [d for d in planner.place_waiting(NOW) if d.action is not Action.WAIT] == []


def test_a_handover_not_taken_within_the_timeout_is_cancelled() -> None:
    planner = fleet(node("a"), node("b"))
    add(planner, pull("x", "a", handover_node_id="id-b", moved_at=NOW, epoch=2))
    assert planner.expire_handovers(NOW + 59, 60) == []
    [cancel] = planner.expire_handovers(NOW + 61, 60)
    assert cancel.action is Action.CANCEL_HANDOVER
    assert cancel.message == "handover of x to b cancelled: not ONLINE there within 60 s"
    camera = planner.cameras["cam-x"]
    assert (camera.node_id, camera.handover_node_id, camera.epoch) == ("id-a", None, 3)
    assert planner.load == {"id-a": 1, "id-b": 0}


def test_a_first_placement_counts_as_a_move_for_the_quiet_period() -> None:
    planner = fleet(node("a"))
    add(planner, *(pull(str(i)) for i in range(4)))
    planner.place_waiting(NOW)
    planner.set_node(node("b"))
    assert planner.rebalance(10, NOW + 1) == []
    assert len(planner.rebalance(10, NOW + 301)) == 2
