"""A camera's snapshot for alert e-mails (server/alerts/senders/snapshot.py) from a real live
camera: the control plane and a node agent with its nginx run as processes (tests/support/
stack.py), ffmpeg publishes a 720p test pattern to the node, and the snapshot source the wiring
builds (`camera_snapshots(CameraService)`, here on the same database) grabs a frame through the
signed HLS URL at the node. The frame then travels in an e-mail to a real aiosmtpd. A camera
that is not live, unknown or badly named has no snapshot, and says why."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from camfleet.v1 import camera_pb2

from server.alerts.model import SmtpSecurity
from server.alerts.senders.email import send_email
from server.alerts.senders.snapshot import NoSnapshot, SnapshotSource, camera_snapshots
from server.audit.log import AuditLog
from server.cameras.service import CameraService
from server.common.secrets_store import load_or_create_secret
from server.config import sqlite_url
from server.db.engine import create_engine, session_factory
from server.db.fast_reads import FastReads
from server.nodes.registry import NodeRegistry
from tests.server.alerts.test_email import (  # noqa: F401 — smtp_server and tls are fixtures
    Mailbox,
    Tls,
    _jpeg_size,
    channel,
    notification,
    parts,
    smtp_server,
    tls,
)
from tests.server.alerts.test_text import alert
from tests.support.agent_node import publishing
from tests.support.stack import Stack, running_stack

S = camera_pb2


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    async with running_stack("sqlite") as running:
        yield running


@pytest.fixture(scope="module")
def ffmpeg_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log of ffmpeg's runs: the snapshot source runs ffmpeg through a script that notes each
    run in it, then executes the real ffmpeg."""
    log = tmp_path_factory.mktemp("ffmpeg") / "ffmpeg-runs.log"
    log.touch()
    return log


@pytest.fixture(scope="module")
async def snapshots(stack: Stack, ffmpeg_runs: Path) -> AsyncIterator[SnapshotSource]:
    """The snapshot source as server/alerts/wiring.py builds it, on a CameraService over the
    stack's database (its playback secret, its nodes' URLs)."""
    wrapper = ffmpeg_runs.with_name("ffmpeg")
    wrapper.write_text(f'#!/bin/sh\necho run >> "{ffmpeg_runs}"\nexec ffmpeg "$@"\n')
    wrapper.chmod(0o755)
    engine = create_engine(sqlite_url(stack.root / "control-plane"), pool_size=2)
    sessions = session_factory(engine)
    reads = FastReads(engine)
    registry = NodeRegistry(sessions, AuditLog(sessions), on_change=lambda *args: None)
    cameras = CameraService(
        sessions,
        reads,
        ingest_rtmp_url="rtmp://127.0.0.1:1935/live",
        hls_base_url="http://127.0.0.1:8080",
        playback_secret=await load_or_create_secret(sessions, "playback"),
        playback_ttl=timedelta(minutes=5),
        locate_node=registry.ready_node_urls,
    )
    try:
        yield camera_snapshots(cameras, ffmpeg=str(wrapper))
    finally:
        reads.close()
        await engine.dispose()


async def status(stack: Stack, camera_id: str) -> int:
    resp = await stack.cameras.GetCamera(S.GetCameraRequest(id=camera_id), metadata=stack.admin)  # type: ignore[misc]
    return int(resp.camera.status)


async def until_status(stack: Stack, camera_id: str, wanted: int, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while (now := await status(stack, camera_id)) != wanted:
        assert time.monotonic() < deadline, f"camera status {now}, not {wanted}\n{stack.log_text()}"
        await asyncio.sleep(0.2)


def count_runs(log: Path) -> int:
    return len(log.read_text().splitlines())


async def no_snapshot(snapshots: SnapshotSource, camera_id: str) -> str:
    with pytest.raises(NoSnapshot) as caught:
        await snapshots(camera_id)
    return str(caught.value)


async def test_a_live_camera_snapshot_arrives_by_mail(
    stack: Stack,
    snapshots: SnapshotSource,
    ffmpeg_runs: Path,
    smtp_server: Mailbox,  # noqa: F811 — the fixture imported above
    tls: Tls,  # noqa: F811
) -> None:
    camera = await stack.new_camera("lobby-" + uuid.uuid4().hex[:6])
    # Not published yet: offline, no snapshot.
    why = await no_snapshot(snapshots, camera.id)
    assert why == f"camera {camera.name} is not live (it is offline)"

    async with publishing(stack.rtmp_url(camera.stream_key), 120, size="1280x720"):
        await until_status(stack, camera.id, S.CAMERA_STATUS_ONLINE)
        started = time.monotonic()
        jpeg = await snapshots(camera.id)
        took = time.monotonic() - started
        assert jpeg is not None
        assert jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")
        assert await _jpeg_size(jpeg) == (1280, 720)
        print(f"snapshot of a live camera: {len(jpeg)} bytes in {took:.2f} s")
        runs = count_runs(ffmpeg_runs)
        assert runs >= 1
        # Asked again within seconds (another channel of the same alert): the same frame, no
        # new grab.
        assert await snapshots(camera.id) == jpeg
        assert count_runs(ffmpeg_runs) == runs

        # The same source behind the e-mail sender: the frame is attached.
        note = notification(alert(camera.id, camera.name), summary=f"camera {camera.name}")
        result = await send_email(
            channel(smtp_server.port, snapshot=True),
            note,
            snapshots=snapshots,
            tls_context=tls.client,
        )
        assert result.ok, result
        text, _, attachments = parts(smtp_server.message())
        assert [a.get_filename() for a in attachments] == [f"snapshot-{camera.id}.jpg"]
        data = attachments[0].get_content()
        assert isinstance(data, bytes) and await _jpeg_size(data) == (1280, 720)
        assert "no snapshot" not in text

    # The publisher stopped: the camera goes offline and has no snapshot again.
    await until_status(stack, camera.id, S.CAMERA_STATUS_OFFLINE)
    assert "is not live" in await no_snapshot(snapshots, camera.id)
    mail = await send_email(
        channel(smtp_server.port, SmtpSecurity.STARTTLS, snapshot=True),
        notification(alert(camera.id, camera.name)),
        snapshots=snapshots,
        tls_context=tls.client,
    )
    assert mail.ok, mail
    text, _, attachments = parts(smtp_server.message())
    assert attachments == []
    assert f"no snapshot: camera {camera.name} is not live (it is offline)" in text


async def test_unknown_or_bad_camera_ids_have_no_snapshot(snapshots: SnapshotSource) -> None:
    assert await no_snapshot(snapshots, str(uuid.uuid4())) == "the camera no longer exists"
    assert await no_snapshot(snapshots, "../etc") == "the alert names no valid camera id"
    assert await no_snapshot(snapshots, "") == "the alert names no valid camera id"
