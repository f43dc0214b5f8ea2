"""The platform settings on the agent (node_agent.settings): what is in force over the flags,
what the assignment file keeps across a restart, the applier carrying a change to recording and
nginx, and the collector taking a new segment length live, without a restart."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from pathlib import Path

from camfleet.v1 import agent_pb2
from google.protobuf.duration_pb2 import Duration

from node_agent.assignment import CurrentAssignment
from node_agent.convert import assignment_from_proto
from node_agent.desired import (
    AssignedCamera,
    Assignment,
    Ingest,
    NodeSettings,
    assignment_from_json,
    assignment_to_json,
)
from node_agent.recording.collector import SegmentLength, SegmentWriter, collect
from node_agent.settings import InForce, SettingsApplier, in_force
from node_agent.state import DataDir
from tests.node_agent.recording.test_collector import T0, approx, write_stream

FLAGS = InForce(
    hls_fragment_s=1.0,
    hls_playlist_length_s=6.0,
    segment_s=10.0,
    min_free_bytes=1 << 30,
    warm_after_s=86400.0,
)


def test_unset_settings_leave_the_flags_in_force() -> None:
    assert in_force(FLAGS, NodeSettings()) == FLAGS


def test_set_settings_override_the_flags() -> None:
    settings = NodeSettings(
        hls_fragment_s=2.0,
        hls_playlist_length_s=20.0,
        segment_s=4.0,
        free_space_floor_bytes=5 << 30,
        warm_after_s=3600.0,
    )
    assert in_force(FLAGS, settings) == InForce(2.0, 20.0, 4.0, 5 << 30, 3600.0)


def test_a_fragment_without_a_playlist_length_gets_six_fragments() -> None:
    assert in_force(FLAGS, NodeSettings(hls_fragment_s=2.0)).hls == (2.0, 12.0)
    # Never a playlist shorter than one fragment.
    assert in_force(FLAGS, NodeSettings(hls_fragment_s=4.0, hls_playlist_length_s=1.0)).hls == (
        4.0,
        4.0,
    )


def test_values_the_agent_cannot_use_keep_the_flags() -> None:
    broken = NodeSettings(segment_s=0.2, free_space_floor_bytes=-1, hls_fragment_s=600.0)
    assert in_force(FLAGS, broken) == FLAGS


def test_the_wire_settings_unset_fields_are_none() -> None:
    wire = agent_pb2.Assignment(
        version=3,
        settings=agent_pb2.AgentSettings(
            segment_length=Duration(seconds=2), free_space_floor_bytes=123
        ),
    )
    assert assignment_from_proto(wire).settings == NodeSettings(
        segment_s=2.0, free_space_floor_bytes=123
    )
    assert assignment_from_proto(agent_pb2.Assignment(version=1)).settings == NodeSettings()


def test_settings_are_stored_with_the_assignment(tmp_path: Path) -> None:
    settings = NodeSettings(hls_fragment_s=2.0, segment_s=4.0)
    assignment = Assignment(
        version=7,
        cameras=(AssignedCamera("c1", ingest=Ingest.PUSH, stream_key="k1", record=True),),
        settings=settings,
    )
    assert assignment_from_json(assignment_to_json(assignment)) == assignment
    # A file an agent wrote before settings came with assignments: no settings, flags hold.
    document = json.loads(assignment_to_json(assignment))
    del document["settings"]
    assert assignment_from_json(json.dumps(document).encode()).settings == NodeSettings()


async def test_an_agent_restarted_without_the_control_plane_keeps_its_settings(
    tmp_path: Path,
) -> None:
    data = DataDir(tmp_path / "data")
    data.create()
    first = CurrentAssignment(data)
    first.load()
    result = await first.apply(Assignment(version=2, settings=NodeSettings(segment_s=3.0)))
    assert result.accepted
    restarted = CurrentAssignment(data)
    restarted.load()
    assert restarted.assignment.settings == NodeSettings(segment_s=3.0)
    assert in_force(FLAGS, restarted.assignment.settings).segment_s == 3.0


async def test_the_applier_applies_what_changed_and_the_latest_wins() -> None:
    recording: list[tuple[float, int, float]] = []
    hls: list[tuple[float, float]] = []

    async def apply_recording(values: InForce) -> None:
        recording.append(values.recording)

    async def apply_hls(fragment: float, playlist: float) -> None:
        await asyncio.sleep(0.05)  # a reload takes a moment
        hls.append((fragment, playlist))

    applier = SettingsApplier(FLAGS, FLAGS, recording=apply_recording, hls=apply_hls)
    applier.start()
    try:
        applier.want(NodeSettings())  # nothing changed: nothing applied
        await applier.settled()
        assert recording == [] and hls == []

        applier.want(NodeSettings(segment_s=4.0))
        await applier.settled()
        assert recording == [(4.0, 1 << 30, 86400.0)] and hls == []

        applier.want(NodeSettings(segment_s=4.0, hls_fragment_s=2.0))
        # A newer assignment while nginx reloads: applied after, and only the latest.
        applier.want(NodeSettings(segment_s=4.0, hls_fragment_s=3.0))
        await applier.settled()
        assert hls[-1] == (3.0, 18.0) and recording == [(4.0, 1 << 30, 86400.0)]
        assert applier.current == InForce(3.0, 18.0, 4.0, 1 << 30, 86400.0)

        # Settings cleared on the platform: back to the flags.
        applier.want(NodeSettings())
        await applier.settled()
        assert applier.current == FLAGS and recording[-1] == FLAGS.recording
    finally:
        await applier.stop()


def test_the_segment_length_file_is_followed_and_bad_values_ignored(tmp_path: Path) -> None:
    source = tmp_path / "segment-seconds"
    length = SegmentLength(10.0, source)
    assert length.refresh() == 10.0  # no file yet
    source.write_text("4\n")
    assert length.refresh() == 4.0
    for bad in ("0.1", "junk", "99999"):
        time.sleep(0.01)  # a new mtime
        source.write_text(bad)
        assert length.refresh() == 4.0


def test_the_collector_takes_a_new_segment_length_without_a_restart(tmp_path: Path) -> None:
    hls = tmp_path / "hls"
    source = tmp_path / "segment-seconds"
    source.write_text("4")
    starts = [T0 + i for i in range(4)]
    write_stream(hls, starts, listed=4)
    out = io.StringIO()
    length = SegmentLength(10.0, source)
    writer = SegmentWriter(str(tmp_path / "seg-%05d.ts"), length.refresh(), out)
    worker = threading.Thread(
        target=collect,
        args=(hls, writer, T0, [False], 2.5),
        kwargs={"length": length},
    )
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not out.getvalue():  # the first 4 s segment is out: the run is under way
            assert time.monotonic() < deadline, "the collector wrote nothing"
            time.sleep(0.05)
        source.write_text("2")
        starts += [T0 + i for i in range(4, 10)]
        write_stream(hls, starts, listed=10)
    finally:
        worker.join(timeout=30)
    assert not worker.is_alive()
    times = [tuple(map(float, line.split(",")[1:])) for line in out.getvalue().splitlines()]
    # One run throughout: the new length from the next segment on, no second lost between.
    assert times == [
        approx((T0, T0 + 4)),
        approx((T0 + 4, T0 + 6)),
        approx((T0 + 6, T0 + 8)),
        approx((T0 + 8, T0 + 10)),
    ]
