"""A node agent's backlog, made for tests and benchmarks of its restart (issue 17 item 3):
segment files it never indexed, reports waiting in its spool; and what the control plane then
sees of the node."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from camfleet.v1 import camera_pb2, node_pb2, recording_pb2

from node_agent.desired import RecordingProfile
from node_agent.outbox import Outbox
from node_agent.recording import wire
from node_agent.recording.index import Segment
from node_agent.recording.tiers import StorageTier
from node_agent.spool import Spool
from tests.support.agent_node import FFMPEG, run
from tests.support.recordings import all_recordings
from tests.support.stack import Stack, recordings, ts

R = recording_pb2


async def recorded_camera(stack: Stack, name: str) -> camera_pb2.Camera:
    resp = await stack.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=name, recording_enabled=True)),
        metadata=stack.admin,
    )
    return resp.camera


async def node(stack: Stack) -> node_pb2.Node:
    resp = await stack.nodes.ListNodes(node_pb2.ListNodesRequest(), metadata=stack.admin)
    [found] = [n for n in resp.nodes if n.name == stack.node_name]
    return found


async def heartbeat_age_s(stack: Stack) -> float | None:
    """The control plane's own view of the node's last heartbeat (its Prometheus metric)."""
    url = f"http://{stack.env['CAMFLEET_METRICS_LISTEN']}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith("camfleet_node_heartbeat_age_seconds{"):
            return float(line.rsplit(" ", 1)[1])
    return None


async def agent_gauge(listen: str, name: str) -> float | None:
    """A gauge without labels on an agent's /metrics (`--metrics-listen`)."""
    async with aiohttp.ClientSession() as session, session.get(f"http://{listen}/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def listed(stack: Stack, camera_id: str) -> list[R.Recording]:
    """Every recording of the camera at the control plane (paged ListRecordings)."""
    return await all_recordings(
        recordings(stack),
        R.ListRecordingsRequest(
            camera_id=camera_id,
            start_time=ts(datetime(2000, 1, 1, tzinfo=UTC)),
            end_time=ts(datetime.now(UTC) + timedelta(days=1)),
            page_size=500,
        ),
        stack.admin,
    )


def node_index(stack: Stack) -> dict[str, str]:
    """The node's own index (its SQLite file): segment id -> relative path."""
    db = sqlite3.connect(f"file:{stack.node_dir / 'recordings.db'}?mode=ro", uri=True)
    try:
        return {str(i): str(p) for i, p in db.execute("SELECT id, path FROM segments")}
    except sqlite3.OperationalError:  # not created yet
        return {}
    finally:
        db.close()


async def registered_and_stopped(stack: Stack) -> None:
    """The agent's first start (it registers), then a clean stop: a node that has been here."""
    await stack.start_agent()
    assert stack.agent is not None
    stack.agent.stop(grace_s=15)
    stack.agent = None


async def a_real_segment(path: Path) -> None:
    """Two seconds of H.264 in MPEG-TS, as a recorder writes them."""
    argv = [
        FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "mpegts",
        str(path),
    ]  # fmt: skip
    code, out = await run(argv, limit_s=60)
    assert code == 0, out


def unindexed_files(stack: Stack, camera_id: str, sample: Path, count: int) -> set[str]:
    """`count` copies of `sample` where a killed recorder leaves its files, 2 s apart and
    ending a minute ago; their paths relative to the hot tier."""
    ended = datetime.now(UTC) - timedelta(minutes=1)
    paths = set()
    for n in range(count):
        end = ended - timedelta(seconds=2 * (count - n))
        stamp = f"{end:%Y%m%dT%H%M%S}.{end.microsecond // 1000:03d}Z"
        relative = f"{camera_id}/{end:%Y-%m-%d}/{stamp}-original-00001.ts"
        target = stack.node_dir / "recordings" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample, target)
        os.utime(target, (end.timestamp(), end.timestamp()))
        paths.add(relative)
    return paths


async def spool_reports(stack: Stack, camera_id: str, count: int) -> None:
    """`count` CLOSED reports in the stopped agent's spool, as a node that recorded for an hour
    without its control plane would hold (files need not exist: the control plane stores the
    reports)."""
    spool = Spool(stack.node_dir / "spool.db")
    try:
        outbox = Outbox(spool)
        first = datetime.now(UTC) - timedelta(seconds=2 * count + 60)
        for n in range(count):
            start = first + timedelta(seconds=2 * n)
            segment = Segment(
                id=str(uuid.uuid4()),
                camera_id=camera_id,
                start=start,
                end=start + timedelta(seconds=2),
                duration_s=2.0,
                size_bytes=500_000,
                sha256="0" * 64,
                tier=StorageTier.HOT,
                profile=RecordingProfile.ORIGINAL,
                container="mpegts",
                recovered=False,
                relative_path=f"{camera_id}/x/{n}.ts",
                path=Path("/nonexistent"),
            )
            await wire.segment_closed(outbox, segment)
    finally:
        spool.close()
