"""The plan of a clip spanning several nodes (server/recordings/clip_plan.py): which node
assembles it and which segments it fetches from the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.recordings.clip_plan import PlanSegment, assembler, held, plan

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def seg(name: str, node: str, start: float, end: float, *, cold: bool = False) -> PlanSegment:
    return PlanSegment(name, node, at(start), at(end), cold=cold)


def run(node: str, start: float, end: float, step: float = 2.0) -> list[PlanSegment]:
    """Back-to-back segments of `node` over [start, end)."""
    out, t = [], start
    while t < end:
        out.append(seg(f"{node}-{t:g}", node, t, min(t + step, end)))
        t += step
    return out


def test_a_failover_is_assembled_where_most_of_it_is_and_fetches_the_rest() -> None:
    # Node a recorded 0-20, failed; b took over at 25 (a 5 s hole) and recorded to 30.
    rows = run("a", 0, 20) + run("b", 25, 30)
    assert held(rows, at(0), at(30)) == {"a": 20.0, "b": 5.0}
    assert assembler(rows, at(0), at(30), ready={"a", "b"}) == "a"
    chosen = plan(rows, at(0), at(30), "a")
    assert chosen.assembler == "a"
    assert [p.id for p in chosen.parts] == ["b-25", "b-27", "b-29"]
    # Asked for the end of the range only, b holds most of it: it fetches a's segments.
    assert assembler(rows, at(17), at(30), ready={"a", "b"}) == "b"
    assert [p.id for p in plan(rows, at(17), at(30), "b").parts] == ["a-16", "a-18"]


def test_only_a_ready_node_assembles() -> None:
    rows = run("a", 0, 20) + run("b", 20, 24)
    # a holds most but is lost: b assembles and fetches a's (cold) segments.
    assert assembler(rows, at(0), at(24), ready={"b"}) == "b"
    # All of it in the cold tier of nodes that are gone: any ready node assembles.
    cold = [seg("x", "gone", 0, 10, cold=True)]
    assert assembler(cold, at(0), at(10), ready={"c", "d"}) == "c"
    assert [p.id for p in plan(cold, at(0), at(10), "c").parts] == ["x"]
    assert assembler(rows, at(0), at(24), ready=set()) is None


def test_ties_go_to_the_lowest_node_id() -> None:
    rows = run("b", 0, 10) + run("a", 10, 20)
    assert assembler(rows, at(0), at(20), ready={"a", "b"}) == "a"


def test_overlap_of_a_make_before_break_move_is_not_fetched_twice() -> None:
    # b started recording at 16 while a went on to 20 (make-before-break): b's segment 16-18
    # adds nothing to a's; 18-20 neither; 20-22 does.
    rows = run("a", 0, 20) + run("b", 16, 24)
    chosen = plan(rows, at(0), at(24), "a")
    assert [p.id for p in chosen.parts] == ["b-20", "b-22"]
    # A segment adding less than the rounding tolerance is not fetched either.
    rows = [*run("a", 0, 20), seg("b-tiny", "b", 10, 20.3)]
    assert plan(rows, at(0), at(20.3), "a").parts == ()
    # A segment that extends past the assembler's by more is, once (not its twin from c).
    rows = [*run("a", 0, 20), seg("b-x", "b", 18, 26), seg("c-x", "c", 18, 26)]
    assert [p.id for p in plan(rows, at(0), at(26), "a").parts] == ["b-x"]


def test_segments_outside_the_range_are_not_fetched() -> None:
    rows = run("a", 0, 10) + run("b", 10, 40)
    chosen = plan(rows, at(0), at(14), "a")
    assert [p.id for p in chosen.parts] == ["b-10", "b-12"]


def test_a_range_on_one_node_fetches_nothing() -> None:
    rows = run("a", 0, 30)
    assert assembler(rows, at(0), at(30), ready={"a", "b"}) == "a"
    assert plan(rows, at(0), at(30), "a").parts == ()
