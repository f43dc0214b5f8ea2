"""What the agent keeps in its data directory: the credential, the last good assignment and the
playback key, owner-only, replaced atomically, and damaged files handled without a crash."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from node_agent.convert import assignment_from_proto
from node_agent.credentials import Credential, load_credential, save_credential
from node_agent.desired import (
    AssignedCamera,
    Assignment,
    Ingest,
    PlaybackPolicy,
    RecordingProfile,
    RevokedGrant,
)
from node_agent.errors import ConfigError
from node_agent.state import (
    DataDir,
    load_assignment,
    load_playback_secret,
    save_assignment,
    save_playback_secret,
    write_private,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    d = DataDir(tmp_path / "node")
    d.create()
    return d


def test_new_data_dir_is_owner_only(data_dir: DataDir) -> None:
    assert mode(data_dir.root) == 0o700


def test_credential_round_trip_owner_only(data_dir: DataDir) -> None:
    assert load_credential(data_dir) is None
    save_credential(data_dir, Credential("node-1", "cfn_secret"))
    assert mode(data_dir.credential) == 0o600
    assert json.loads(data_dir.credential.read_text()) == {
        "node_id": "node-1",
        "credential": "cfn_secret",
    }
    assert load_credential(data_dir) == Credential("node-1", "cfn_secret")
    # No temporary file is left behind.
    assert sorted(p.name for p in data_dir.root.iterdir()) == ["credential.json"]


def test_credential_metadata_is_a_bearer_token() -> None:
    assert Credential("n", "cfn_x").metadata == (("authorization", "Bearer cfn_x"),)


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"node_id": "n"}', b'{"node_id": 1, "credential": "x"}', b"\xff"],
)
def test_damaged_credential_is_a_clear_error(data_dir: DataDir, content: bytes) -> None:
    data_dir.credential.write_bytes(content)
    with pytest.raises(ConfigError, match=r"credential\.json is damaged; delete it"):
        load_credential(data_dir)


def test_too_open_credential_is_tightened(data_dir: DataDir) -> None:
    data_dir.credential.write_text('{"node_id": "n", "credential": "cfn_x"}')
    os.chmod(data_dir.credential, 0o644)
    assert load_credential(data_dir) == Credential("n", "cfn_x")
    assert mode(data_dir.credential) == 0o600


def test_rewrite_keeps_owner_only_even_over_an_open_file(data_dir: DataDir) -> None:
    path = data_dir.root / "x.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o666)
    write_private(path, b"new")
    assert path.read_bytes() == b"new"
    assert mode(path) == 0o600


def test_assignment_round_trip_owner_only(data_dir: DataDir) -> None:
    assert load_assignment(data_dir) is None
    assignment = Assignment(
        version=7,
        cameras=(
            AssignedCamera("c1", "front door", Ingest.PUSH, stream_key="k" * 32),
            AssignedCamera(
                "c2",
                ingest=Ingest.PULL,
                source_url="rtsp://cam/2",
                record=True,
                record_profile=RecordingProfile.LOW,
                retention_max_age_s=86400.5,
                retention_max_bytes=1 << 30,
            ),
        ),
        revoked_grants=(RevokedGrant("u-1", 1_764_000_000.25), RevokedGrant("t-2")),
        playback=PlaybackPolicy(max_url_ttl_s=600, max_clip_s=120, exports_per_node=4),
    )
    save_assignment(data_dir, assignment)
    assert mode(data_dir.assignment) == 0o600
    assert load_assignment(data_dir) == assignment
    # The agent's own format (JSON of the typed assignment), not the wire's.
    stored = json.loads(data_dir.assignment.read_bytes())
    assert stored["version"] == 7
    assert [c["ingest"] for c in stored["cameras"]] == ["push", "pull"]
    assert stored["cameras"][1]["record_profile"] == "LOW"
    assert sorted(p.name for p in data_dir.root.iterdir()) == ["assignment.json"]


def test_an_assignment_an_agent_upgraded_in_place_stored_still_loads(data_dir: DataDir) -> None:
    # What agents before the JSON file wrote: the wire's Assignment, serialized, in assignment.bin.
    not_before = Timestamp()
    not_before.FromMicroseconds(1_764_000_000_250_000)
    old = agent_pb2.Assignment(
        version=12,
        cameras=[
            agent_pb2.AssignedCamera(
                camera_id="c1",
                name="gate",
                ingest=agent_pb2.ASSIGNED_INGEST_PUSH,
                stream_key="k" * 32,
                record=True,
                record_profile=recording_pb2.RECORDING_PROFILE_HIGH,
                retention_max_age=Duration(seconds=3600),
                retention_max_bytes=1 << 20,
            )
        ],
        revoked_grants=[agent_pb2.RevokedGrant(principal="u-1", not_before=not_before)],
        playback=agent_pb2.PlaybackPolicy(max_url_ttl=Duration(seconds=600)),
    )
    old_file = data_dir.root / "assignment.bin"
    old_file.write_bytes(old.SerializeToString(deterministic=True))
    os.chmod(old_file, 0o600)

    loaded = load_assignment(data_dir)
    assert loaded == Assignment(
        version=12,
        cameras=(
            AssignedCamera(
                "c1",
                "gate",
                Ingest.PUSH,
                stream_key="k" * 32,
                record=True,
                record_profile=RecordingProfile.HIGH,
                retention_max_age_s=3600.0,
                retention_max_bytes=1 << 20,
            ),
        ),
        revoked_grants=(RevokedGrant("u-1", 1_764_000_000.25),),
        playback=PlaybackPolicy(max_url_ttl_s=600.0),
    )
    # The next save writes the new file and drops the old one; it reads back the same.
    save_assignment(data_dir, loaded)
    assert sorted(p.name for p in data_dir.root.iterdir()) == ["assignment.json"]
    assert load_assignment(data_dir) == loaded


def test_a_damaged_old_assignment_file_reads_as_none(data_dir: DataDir) -> None:
    (data_dir.root / "assignment.bin").write_bytes(b"\xff\xff\xff garbage")
    assert load_assignment(data_dir) is None


def test_an_assignment_as_sent_becomes_typed_with_defaults_for_what_is_unset() -> None:
    sent = agent_pb2.Assignment(
        version=3,
        cameras=[
            agent_pb2.AssignedCamera(
                camera_id="c1", ingest=agent_pb2.ASSIGNED_INGEST_PUSH, stream_key="key"
            ),
            # A value this agent does not know (a newer control plane): NACKed by validation.
            agent_pb2.AssignedCamera(camera_id="c2", ingest=7),  # type: ignore[arg-type]
            agent_pb2.AssignedCamera(
                camera_id="c3", record_profile=recording_pb2.RECORDING_PROFILE_LOW
            ),
            # A profile this agent does not know records the original stream.
            agent_pb2.AssignedCamera(camera_id="c4", record_profile=99),  # type: ignore[arg-type]
        ],
        revoked_grants=[agent_pb2.RevokedGrant(principal="u-1")],
    )
    typed = assignment_from_proto(sent)
    assert typed.version == 3
    assert [c.ingest for c in typed.cameras][:2] == [Ingest.PUSH, Ingest.UNSPECIFIED]
    # Unset (UNSPECIFIED) and unknown profiles record the original stream.
    assert [c.record_profile for c in typed.cameras] == [
        RecordingProfile.ORIGINAL,
        RecordingProfile.ORIGINAL,
        RecordingProfile.LOW,
        RecordingProfile.ORIGINAL,
    ]
    assert typed.revoked_grants == (RevokedGrant("u-1", 0.0),)
    assert typed.playback == PlaybackPolicy()


def test_damaged_assignment_reads_as_none(data_dir: DataDir) -> None:
    data_dir.assignment.write_bytes(b"\xff\xff\xff garbage")
    assert load_assignment(data_dir) is None


def test_playback_secret_round_trip_owner_only(data_dir: DataDir) -> None:
    assert load_playback_secret(data_dir) is None
    secret = os.urandom(32)
    save_playback_secret(data_dir, secret)
    assert mode(data_dir.playback_key) == 0o600
    assert data_dir.playback_key.read_text().strip() == secret.hex()
    assert load_playback_secret(data_dir) == secret


@pytest.mark.parametrize("content", [b"", b"zz-not-hex", b"\xff\xfe"])
def test_damaged_playback_key_reads_as_none(data_dir: DataDir, content: bytes) -> None:
    data_dir.playback_key.write_bytes(content)
    assert load_playback_secret(data_dir) is None
