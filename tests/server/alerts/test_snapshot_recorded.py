"""An offline camera's alert snapshot (server/alerts/senders/snapshot.py with recorded.py's
NewestSegments, as the wiring builds it): the last keyframe of its newest recorded segment,
fetched through the segment's signed download URL at the node. The control plane and a node
agent run as processes (tests/support/stack.py); ffmpeg publishes red for 4 seconds, then blue
until it stops, so a frame from the end of the recording is blue and one from its start red."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from camfleet.v1 import camera_pb2, recording_pb2

from harness.processes import stop_by_pid
from server.alerts.senders.recorded import NewestSegments
from server.alerts.senders.snapshot import NoSnapshot, SnapshotSource, camera_snapshots
from server.audit.log import AuditLog
from server.cameras.service import CameraService
from server.common.secrets_store import load_or_create_secret
from server.config import sqlite_url
from server.db.engine import create_engine, session_factory
from server.db.fast_reads import FastReads
from server.nodes.registry import NodeRegistry
from server.recordings.media import RecordingMedia
from tests.support.stack import Stack, recordings, running_stack

S = camera_pb2


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    async with running_stack("sqlite", ["--segment-seconds", "2"]) as running:
        yield running


@pytest.fixture(scope="module")
async def snapshots(stack: Stack) -> AsyncIterator[SnapshotSource]:
    """camera_snapshots as server/alerts/wiring.py builds it, on the stack's database."""
    engine = create_engine(sqlite_url(stack.root / "control-plane"), pool_size=2)
    sessions = session_factory(engine)
    reads = FastReads(engine)
    registry = NodeRegistry(sessions, AuditLog(sessions), on_change=lambda *args: None)
    secret = await load_or_create_secret(sessions, "playback")
    cameras = CameraService(
        sessions,
        reads,
        ingest_rtmp_url="rtmp://127.0.0.1:1935/live",
        hls_base_url="http://127.0.0.1:8080",
        playback_secret=secret,
        playback_ttl=timedelta(minutes=5),
        locate_node=registry.ready_node_urls,
    )
    media = RecordingMedia(sessions, playback_secret=secret, url_ttl=timedelta(minutes=5))
    try:
        yield camera_snapshots(cameras, recordings=NewestSegments(sessions, media))
    finally:
        reads.close()
        await engine.dispose()


def red_then_blue(url: str) -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "color=c=red:s=640x360:r=25:d=4",
        "-f", "lavfi", "-i", "color=c=blue:s=640x360:r=25:d=60",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
        "-f", "flv", url,
    ]  # fmt: skip


def mean_rgb(jpeg: bytes) -> tuple[int, int, int, tuple[int, int]]:
    """The frame's average colour (scaled to one pixel) and its size."""
    pixel = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-vf", "scale=1:1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        input=jpeg, capture_output=True, check=True,
    ).stdout  # fmt: skip
    size = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", "-"],
        input=jpeg, capture_output=True, check=True,
    ).stdout.decode().strip().split(",")  # fmt: skip
    return pixel[0], pixel[1], pixel[2], (int(size[0]), int(size[1]))


async def until(what: str, probe: object, within_s: float, stack: Stack) -> None:
    deadline = time.monotonic() + within_s
    while not await probe():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not within {within_s:g} s\n{stack.log_text()}"
        await asyncio.sleep(0.25)


async def test_an_offline_camera_shows_the_last_frame_it_recorded(
    stack: Stack, snapshots: SnapshotSource
) -> None:
    created = await stack.cameras.CreateCamera(
        S.CreateCameraRequest(
            camera=S.Camera(name="gate-" + uuid.uuid4().hex[:6], recording_enabled=True)
        ),
        metadata=stack.admin,
    )
    camera = created.camera
    # Never published, nothing recorded: no snapshot, and why.
    with pytest.raises(NoSnapshot) as caught:
        await snapshots(camera.id)
    assert str(caught.value) == (
        f"camera {camera.name} is not live (it is offline) and has recorded nothing"
    )

    async def status(wanted: int) -> bool:
        resp = await stack.cameras.GetCamera(S.GetCameraRequest(id=camera.id), metadata=stack.admin)
        return bool(resp.camera.status == wanted)

    async def blue_recorded() -> bool:
        # Segments that start after the red part (4 s) are blue.
        listed = await recordings(stack).ListRecordings(
            recording_pb2.ListRecordingsRequest(camera_id=camera.id, page_size=100),
            metadata=stack.admin,
        )
        return len(listed.recordings) >= 5

    publisher = subprocess.Popen(
        red_then_blue(stack.rtmp_url(camera.stream_key)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await until("ONLINE", lambda: status(S.CAMERA_STATUS_ONLINE), 30, stack)
        await until("5 segments recorded", blue_recorded, 60, stack)
    finally:
        stop_by_pid(publisher, grace_s=5)
    await until("OFFLINE", lambda: status(S.CAMERA_STATUS_OFFLINE), 30, stack)

    started = time.monotonic()
    jpeg = await snapshots(camera.id)
    took = time.monotonic() - started
    assert jpeg is not None and jpeg.startswith(b"\xff\xd8")
    red, green, blue, size = mean_rgb(jpeg)
    print(f"offline camera's snapshot from its recording: {len(jpeg)} bytes in {took:.2f} s")
    assert size == (640, 360)
    # The end of what it recorded (blue), not its start (red).
    assert blue > 150 and red < 80 and green < 80, (red, green, blue)
