"""node_agent.recording.index: the node's SQLite index of segments, and its tiers."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from camfleet.v1 import recording_pb2

from node_agent.desired import RecordingProfile
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.recording.tiers import DirectoryTier, StorageTier, UnsafePath, node_tiers

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOT = StorageTier.HOT
WARM = StorageTier.WARM


def segment(
    camera: str,
    start_s: float,
    length_s: float = 10.0,
    *,
    tier: StorageTier = HOT,
    name: str = "",
) -> Segment:
    start = T0 + timedelta(seconds=start_s)
    relative = f"{camera}/{name or uuid.uuid4().hex}.ts"
    return Segment(
        id=str(uuid.uuid4()),
        camera_id=camera,
        start=start,
        end=start + timedelta(seconds=length_s),
        duration_s=length_s,
        size_bytes=1000,
        sha256="0" * 64,
        tier=tier,
        profile=RecordingProfile.ORIGINAL,
        container="mpegts",
        recovered=False,
        relative_path=relative,
        path=Path("/unused"),
    )


@pytest.fixture
def index(tmp_path: Path) -> SegmentIndex:
    return SegmentIndex(tmp_path / "recordings.db", node_tiers(tmp_path, tmp_path / "warm"))


def test_get_and_path_where_the_file_is(index: SegmentIndex, tmp_path: Path) -> None:
    s = segment("cam", 0)
    index.add(s)
    found = index.get(s.id)
    assert found is not None
    assert (found.start, found.end, found.duration_s) == (s.start, s.end, 10.0)
    assert found.start.tzinfo is not None
    assert found.path == tmp_path / "recordings" / s.relative_path
    assert index.get(str(uuid.uuid4())) is None

    moved = index.moved(s.id, WARM, s.relative_path)
    assert moved is not None and moved.tier == WARM
    assert moved.path == tmp_path / "warm" / s.relative_path


def test_for_camera_is_overlap_oldest_first(index: SegmentIndex) -> None:
    later, first, middle = segment("cam", 20), segment("cam", 0), segment("cam", 10)
    for s in (later, first, middle, segment("other", 5)):
        index.add(s)
    got = index.for_camera("cam", T0 + timedelta(seconds=5), T0 + timedelta(seconds=20))
    # [start, end): the segment starting exactly at the end is outside.
    assert [s.id for s in got] == [first.id, middle.id]
    assert index.for_camera("nobody", T0, T0 + timedelta(days=1)) == []
    with pytest.raises(ValueError):
        index.for_camera("cam", datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_reported_flag_survives_reopening(tmp_path: Path) -> None:
    tiers = node_tiers(tmp_path, None)
    index = SegmentIndex(tmp_path / "recordings.db", tiers)
    a, b = segment("cam", 0), segment("cam", 10)
    index.add(a)
    index.add(b)
    index.add(a)  # idempotent
    index.mark_reported(a.id)
    index.close()
    again = SegmentIndex(tmp_path / "recordings.db", tiers)
    assert [s.id for s in again.unreported()] == [b.id]
    assert len(again) == 2
    assert again.remove(a.id) is True
    assert again.remove(a.id) is False
    again.close()


def test_tier_refuses_paths_outside_its_root(tmp_path: Path) -> None:
    tier = DirectoryTier(tmp_path / "hot")
    for bad in ("../x.ts", "/etc/passwd", "a/../../x.ts", ""):
        with pytest.raises(UnsafePath):
            tier.path_for(bad)


def test_tier_store_and_remove(tmp_path: Path) -> None:
    source = tmp_path / "source.ts"
    source.write_bytes(b"x" * 5000)
    warm = DirectoryTier(tmp_path / "warm", WARM)
    stored = warm.store(source, "cam/day/a.ts")
    assert stored.read_bytes() == source.read_bytes()
    assert warm.files() == ["cam/day/a.ts"]
    warm.remove("cam/day/a.ts")
    assert warm.files() == []
    # Empty directories go with the last file; the root stays.
    assert list((tmp_path / "warm").iterdir()) == []


def test_the_domain_enums_keep_the_numbers_earlier_agents_stored() -> None:
    # The index's tier and profile columns hold these numbers; agents before the domain enums
    # wrote camfleet.v1's. A renumbered member would misread every existing index.
    for tier in StorageTier:
        assert tier == recording_pb2.StorageTier.Value(f"STORAGE_TIER_{tier.name}")
    for profile in RecordingProfile:
        assert profile == recording_pb2.RecordingProfile.Value(f"RECORDING_PROFILE_{profile.name}")


def test_an_index_an_earlier_agent_wrote_reads_as_domain_values(tmp_path: Path) -> None:
    path, tiers = tmp_path / "recordings.db", node_tiers(tmp_path, tmp_path / "warm")
    fresh = SegmentIndex(path, tiers)
    assert len(fresh) == 0  # creates the schema, which has not changed
    fresh.close()
    # A row as an agent before the domain enums wrote it: the wire enums' numbers.
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO segments (id, camera_id, start, end, duration, size, sha256, tier, "
            "profile, container, recovered, path, reported, created) "
            "VALUES ('s1', 'cam', ?, ?, 10.0, 1000, ?, ?, ?, 'mpegts', 0, 'cam/a.ts', 1, 0)",
            (
                T0.timestamp(),
                T0.timestamp() + 10,
                "0" * 64,
                recording_pb2.STORAGE_TIER_WARM,
                recording_pb2.RECORDING_PROFILE_MEDIUM,
            ),
        )
    db.close()
    index = SegmentIndex(path, tiers)
    found = index.get("s1")
    assert found is not None
    assert found.tier is StorageTier.WARM
    assert found.profile is RecordingProfile.MEDIUM
    assert found.path == tmp_path / "warm" / "cam/a.ts"
    assert index.paths(StorageTier.WARM) == {"cam/a.ts"}
    # What this agent writes is the same numbers again.
    index.add(segment("cam", 20, tier=HOT, name="b"))
    index.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT path, tier, profile FROM segments ORDER BY path").fetchall()
    db.close()
    assert rows == [("cam/a.ts", 2, 3), ("cam/b.ts", 1, 1)]
