"""The timeline's arithmetic at a lost node: its node-lost gap starts at the node's last
heartbeat, a moment after the end of its last indexed segment (the one it was writing never
arrived). That moment is lost for the same reason, not an unexplained hole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.recordings.causes import GapCause
from server.recordings.timeline import Recorded, Stop, StoredGap, build

T0 = datetime(2026, 12, 6, 2, 15, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _timeline(
    lost_node: str, recorded_before_by: str, stops: list[Stop] | None = None
) -> list[tuple[float, float, GapCause]]:
    timeline = build(
        at(0),
        at(60),
        segments=[
            Recorded(at(0), at(16.06), node_id=recorded_before_by),
            Recorded(at(20.9), at(40), node_id="b", previous_node_id=recorded_before_by),
        ],
        stored_gaps=[
            StoredGap(at(16.28), at(20.9), GapCause.NODE_LOST, "node lost", lost_node, "b")
        ],
        stops=stops or [],
        now=at(60),
    )
    return [
        ((g.start - T0).total_seconds(), (g.end - T0).total_seconds(), g.cause)
        for g in timeline.gaps
    ]


def test_the_moment_before_a_lost_nodes_gap_is_lost_with_it() -> None:
    gaps = _timeline(lost_node="a", recorded_before_by="a")
    assert gaps == [
        (16.06, 16.28, GapCause.NODE_LOST),
        (16.28, 20.9, GapCause.NODE_LOST),
    ]


def test_a_hole_before_another_nodes_loss_stays_unexplained() -> None:
    # The camera was recorded by "c" up to the hole; "a" being lost does not explain it.
    gaps = _timeline(lost_node="a", recorded_before_by="c")
    assert (16.06, 16.28, GapCause.UNKNOWN) in gaps


def test_the_moment_is_lost_with_the_node_when_its_publisher_also_left_there() -> None:
    # Back from the partition, the node reports that the camera's publisher left it during the
    # loss: a stop of the node that recorded up to the hole, inside it.
    gaps = _timeline(lost_node="a", recorded_before_by="a", stops=[Stop(at(18), "a")])
    assert gaps == [
        (16.06, 16.28, GapCause.NODE_LOST),
        (16.28, 20.9, GapCause.NODE_LOST),
    ]


def test_a_stop_on_purpose_still_explains_a_hole_with_no_loss() -> None:
    timeline = build(
        at(0),
        at(60),
        segments=[
            Recorded(at(0), at(16), node_id="a"),
            Recorded(at(30), at(40), node_id="a", previous_node_id="a"),
        ],
        stored_gaps=[],
        stops=[Stop(at(16.5), "a")],
        now=at(60),
    )
    assert timeline.gaps == []
