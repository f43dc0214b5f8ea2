"""Helpers for the recording tests: an in-process agent whose assignment records cameras, a
720p25 publisher, and readers of what the agent indexed and spooled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path

from camfleet.v1 import agent_pb2, recording_pb2
from google.protobuf.duration_pb2 import Duration

from node_agent.agent import Agent
from node_agent.config import AgentConfig
from node_agent.convert import assignment_from_proto
from node_agent.credentials import Credential, save_credential
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.state import DataDir, save_assignment, save_playback_secret
from tests.support.agent_node import FFPROBE, loopback_config, publishing, running_agent


def recorded_camera(
    key: str,
    camera_id: str,
    *,
    profile: int = recording_pb2.RECORDING_PROFILE_ORIGINAL,
    max_bytes: int = 0,
    max_age_s: int = 0,
) -> agent_pb2.AssignedCamera:
    """A push camera with recording on."""
    return agent_pb2.AssignedCamera(
        camera_id=camera_id,
        name=key,
        ingest=agent_pb2.ASSIGNED_INGEST_PUSH,
        stream_key=key,
        record=True,
        record_profile=profile,  # type: ignore[arg-type]
        retention_max_bytes=max_bytes,
        retention_max_age=Duration(seconds=max_age_s),
    )


def prepare(root: Path, *cameras: agent_pb2.AssignedCamera, version: int = 3) -> None:
    """A data directory of a node that has been connected before, recording `cameras`."""
    data_dir = DataDir(root)
    data_dir.create()
    save_credential(data_dir, Credential("node-rec", "cfn_" + secrets.token_urlsafe(16)))
    sent = agent_pb2.Assignment(version=version, cameras=list(cameras))
    save_assignment(data_dir, assignment_from_proto(sent))
    save_playback_secret(data_dir, secrets.token_bytes(32))


def config(root: Path, **overrides: object) -> AgentConfig:
    """Loopback everything, no control plane listening, 2 s segments, quick housekeeping."""
    recording: dict[str, object] = {
        "name": "rec-node",
        "segment_s": 2.0,
        "min_free_bytes": 0,
        "housekeeping_interval_s": 1.0,
    }
    return loopback_config(root, **(recording | overrides))


def running(cfg: AgentConfig) -> AbstractAsyncContextManager[Agent]:
    """An Agent on `cfg`, stopped on exit; nothing it started may outlive it."""
    return running_agent(cfg)


def camera(
    url: str, seconds: float = 120.0
) -> AbstractAsyncContextManager[subprocess.Popen[bytes]]:
    """The brief's camera in the background: testsrc2 720p25, H.264 ultrafast, a keyframe every
    second; ended by PID on exit."""
    return publishing(url, seconds, size="1280x720", preset="ultrafast")


async def until(check: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    """Poll `check` until it holds (AssertionError naming `what` after `within_s`)."""
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def segments(agent: Agent, camera_id: str) -> list[Segment]:
    """Every indexed segment of `camera_id`, oldest first."""
    from datetime import UTC, datetime

    return agent.segments.for_camera(
        camera_id, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )


def spooled(agent: Agent) -> list[agent_pb2.ConnectRequest]:
    """What waits in the spool, oldest first."""
    assert agent.spool is not None
    return [agent_pb2.ConnectRequest.FromString(e.payload) for e in agent.spool.pending(0, 100_000)]


def segment_events(
    requests: list[agent_pb2.ConnectRequest], kind: int | None = None
) -> list[agent_pb2.SegmentEvent]:
    """The SegmentEvents among `requests` (of one type, if given)."""
    found = [r.segment_event for r in requests if r.WhichOneof("body") == "segment_event"]
    return [e for e in found if kind is None or e.type == kind]


def recorder_events(requests: list[agent_pb2.ConnectRequest]) -> list[agent_pb2.RecorderEvent]:
    """The RecorderEvents among `requests`."""
    return [r.recorder_event for r in requests if r.WhichOneof("body") == "recorder_event"]


async def probe(path: Path) -> dict[str, object]:
    """ffprobe's view of a file: format duration and the video stream's size (empty when it
    cannot be decoded)."""
    proc = await asyncio.create_subprocess_exec(
        FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
        str(path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        return {}
    data = json.loads(out)
    video = [s for s in data.get("streams", []) if s.get("codec_type") == "video"]
    return {
        "duration": float(data["format"].get("duration", 0.0)),
        "width": video[0]["width"] if video else 0,
        "height": video[0]["height"] if video else 0,
    }


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[None]:
    """A tmpfs of `size` mounted on `path` (root only), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def all_segments(index: SegmentIndex, camera_id: str) -> list[Segment]:
    return index.for_camera(
        camera_id, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )
