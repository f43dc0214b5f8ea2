"""bench_chaos's verdict counts only what is wrong: two nodes' segments of the same time are a
duplicate when no handover between them was open (one ran the camera unassigned), not when a
make-before-break handover had both assigned; and a stream Envoy reset when its replica died
is a broken connection, not an INTERNAL status of the platform's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import grpc
from camfleet.v1 import recording_pb2
from google.protobuf import timestamp_pb2

from bench.chaos_index import Handovers, index_findings
from bench.chaos_observers import proxy_reset

T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
CAM = "11111111-1111-1111-1111-111111111111"


def _seg(
    rid: str, node: str, at: float, seconds: float = 2, sha256: str = ""
) -> recording_pb2.Recording:
    start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    start.FromDatetime(T0 + timedelta(seconds=at))
    end.FromDatetime(T0 + timedelta(seconds=at + seconds))
    return recording_pb2.Recording(
        id=rid, camera_id=CAM, node_id=node, start_time=start, end_time=end, sha256=sha256
    )


def _findings(
    recs: list[recording_pb2.Recording],
    handovers: Handovers,
) -> tuple[list[str], list[str], list[str], list[str]]:
    fleet = SimpleNamespace(nodes=[])
    window = (T0, T0 + timedelta(minutes=1))
    return index_findings(fleet, [CAM], {CAM: recs}, *window, handovers)  # type: ignore[arg-type]


def test_two_nodes_recording_the_same_time_outside_a_handover_is_a_duplicate() -> None:
    recs = [_seg("a1", "node-a", 10), _seg("b1", "node-b", 10), _seg("a2", "node-a", 12)]
    _, dup, overlap, _ = _findings(recs, {})
    assert len(dup) == 1 and "no handover between them" in dup[0]
    assert overlap == []


def test_a_handovers_overlap_is_reported_apart_not_as_a_duplicate() -> None:
    recs = [_seg("a1", "node-a", 10), _seg("b1", "node-b", 10)]
    at = T0.timestamp()
    windows = {CAM: [(at + 5, at + 20, frozenset(("node-a", "node-b")))]}
    _, dup, overlap, _ = _findings(recs, windows)
    assert dup == [] and len(overlap) == 1
    # A handover between other nodes does not excuse this pair.
    other = {CAM: [(at + 5, at + 20, frozenset(("node-a", "node-c")))]}
    assert len(_findings(recs, other)[1]) == 1


def test_one_nodes_file_indexed_twice_or_two_recorders_are_duplicates() -> None:
    same_bytes = [_seg("a1", "node-a", 10, sha256="ab"), _seg("a2", "node-a", 10.1, sha256="ab")]
    assert "the same node's media indexed twice" in _findings(same_bytes, {})[1][0]
    two_recorders = [_seg("a1", "node-a", 10, sha256="ab"), _seg("a2", "node-a", 10.2, 1.9)]
    assert "the same node's media indexed twice" in _findings(two_recorders, {})[1][0]


def test_one_nodes_adjacent_slivers_are_not_a_duplicate() -> None:
    # A restart's last sliver and the next run's first, a fraction of a second each: both end
    # within SAME_S, but they hold other seconds.
    recs = [_seg("a1", "node-a", 10, 0.1, "ab"), _seg("a2", "node-a", 10.12, 0.15, "cd")]
    _, dup, overlap, slivers = _findings(recs, {})
    assert dup == [] and overlap == [] and len(slivers) == 1


def test_the_same_id_twice_is_a_duplicate() -> None:
    recs = [_seg("a1", "node-a", 10), _seg("a1", "node-a", 10)]
    _, dup, _, _ = _findings(recs, {})
    assert any("listed 2 times" in line for line in dup)


def test_a_stream_reset_by_the_proxy_is_not_an_internal_status() -> None:
    reset = grpc.aio.AioRpcError(
        grpc.StatusCode.INTERNAL,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="Stream removed (RST_STREAM (Received RST_STREAM with error code 2))",
        debug_error_string="",
    )
    internal = grpc.aio.AioRpcError(
        grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(), "boom", ""
    )
    assert proxy_reset(reset) and not proxy_reset(internal)
