"""End to end: a camera publishes with ffmpeg to the node agent's nginx-rtmp; the control plane
sees it go CONNECTING then ONLINE; signed HLS plays; crashes of each part are survived.

Everything runs as real processes (control plane, node agent, nginx, ffmpeg) on each backend.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, suppress
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from camfleet.playback import Grant, playback_signature
from camfleet.v1 import audit_pb2, audit_pb2_grpc, camera_pb2, event_pb2, node_pb2, stream_pb2

from tests.support import agent_node
from tests.support.agent_node import FFPROBE, ffmpeg_publish_argv, http_get, run
from tests.support.assertions import eventually
from tests.support.stack import LOST_AFTER_S, Stack, running_stack

pytestmark = pytest.mark.timeout(300)

BACKENDS = ["sqlite", "postgres"]
S = camera_pb2


@pytest.fixture(params=BACKENDS)
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    async with running_stack(str(request.param)) as running:
        yield running


def publishing(
    stack: Stack, key: str, seconds: float = 120
) -> AbstractAsyncContextManager[subprocess.Popen[bytes]]:
    """The issue's publisher: 720p25 test pattern, x264, a keyframe every second."""
    return agent_node.publishing(stack.rtmp_url(key), seconds, size="1280x720")


class Watcher:
    """A WatchEvents client that remembers what it saw."""

    def __init__(self, stack: Stack, after: int) -> None:
        self.stack = stack
        self.events: list[event_pb2.Event] = []
        self.last_revision = after
        self._changed = asyncio.Condition()
        self._call = stack.watch(after)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for resp in self._call:
                self.last_revision = resp.event.revision
                if resp.event.type != event_pb2.EVENT_TYPE_BOOKMARK:
                    self.events.append(resp.event)
                    async with self._changed:
                        self._changed.notify_all()
        except grpc.aio.AioRpcError:
            pass  # the control plane went away; the test resumes with last_revision

    async def until(self, seen: Callable[[], bool], within_s: float = 30.0) -> None:
        """Wait until `seen()` holds for the events received."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(seen)

    def statuses(self, camera_id: str) -> list[int]:
        return [
            e.camera.status
            for e in self.events
            if e.type == event_pb2.EVENT_TYPE_CAMERA_STATUS_CHANGED and e.camera.id == camera_id
        ]

    async def until_status(self, camera_id: str, status: int, within_s: float = 30.0) -> None:
        await self.until(lambda: status in self.statuses(camera_id), within_s)

    def close(self) -> None:
        self._call.cancel()
        self._task.cancel()


async def _camera(stack: Stack, camera_id: str) -> camera_pb2.Camera:
    resp = await stack.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=stack.admin
    )
    return resp.camera


async def _playlist(stack: Stack, path: str, within_s: float = 20.0) -> str:
    """The playlist at `path` once it names at least one segment."""
    async with asyncio.timeout(within_s):
        while True:
            status, body = await http_get(stack.http_listen, path)
            if status == 200 and b".ts" in body:
                return body.decode()
            await asyncio.sleep(0.2)


def _newest_segment(playlist: str) -> int:
    """Number of the newest segment (nginx-rtmp names them 0.ts, 1.ts, ...)."""
    numbers = [int(m) for m in re.findall(r"^(\d+)\.ts$", playlist, re.MULTILINE)]
    assert numbers, playlist
    return max(numbers)


async def _ffprobe(data: bytes, tmp: str) -> dict[str, object]:
    path = os.path.join(tmp, "segment.ts")
    await asyncio.to_thread(Path(path).write_bytes, data)
    code, out = await run(
        [FFPROBE, "-v", "error", "-show_streams", "-of", "json", path], limit_s=20
    )
    assert code == 0, out
    return dict(json.loads(out[out.index("{") :]))


async def test_publish_goes_online_and_signed_hls_plays(stack: Stack, tmp_path: object) -> None:
    camera = await stack.new_camera("lobby")
    watcher = Watcher(stack, await stack.revision())
    try:
        started = time.monotonic()
        async with publishing(stack, camera.stream_key):
            await watcher.until_status(camera.id, S.CAMERA_STATUS_ONLINE)
            online_after = time.monotonic() - started
            statuses = watcher.statuses(camera.id)
            assert statuses[:2] == [S.CAMERA_STATUS_CONNECTING, S.CAMERA_STATUS_ONLINE], statuses
            print(f"publish -> ONLINE at the watcher: {online_after:.2f} s")

            urls = await stack.cameras.GetStreamUrls(
                camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=stack.admin
            )
            assert urls.rtmp_publish_url == stack.rtmp_url(camera.stream_key)
            url = urlsplit(urls.hls_playback_url)
            assert url.netloc == stack.http_listen
            playlist = await _playlist(stack, url.path)
            segment = next(line for line in playlist.splitlines() if line.endswith(".ts"))
            status, data = await http_get(
                stack.http_listen, url.path.rsplit("/", 1)[0] + "/" + segment
            )
            assert status == 200 and len(data) > 1000
            probe = await _ffprobe(data, str(tmp_path))
            video = next(s for s in probe["streams"] if s["codec_type"] == "video")  # type: ignore[attr-defined]
            assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)

            # Tampered, unsigned and expired URLs are refused before a byte is sent.
            _, _, cam, grant, expires, sig, name = url.path.split("/")
            tampered = f"/hls/{cam}/{grant}/{int(expires) + 60}/{sig}/{name}"
            assert (await http_get(stack.http_listen, tampered))[0] == 403
            assert (await http_get(stack.http_listen, f"/hls/{cam}/index.m3u8"))[0] == 403
            secret = bytes.fromhex((stack.node_dir / "playback.key").read_text().strip())
            past = int(time.time()) - 5
            signed = Grant.decode(grant)
            assert signed is not None
            past_sig = playback_signature(secret, cam, past, signed)
            expired = f"/hls/{cam}/{grant}/{past}/{past_sig}/{name}"
            assert (await http_get(stack.http_listen, expired))[0] == 403

            live = await stack.streams.GetStream(
                stream_pb2.GetStreamRequest(camera_id=camera.id), metadata=stack.admin
            )
            assert live.stream.status == S.CAMERA_STATUS_ONLINE
            assert (live.stream.width, live.stream.height) == (1280, 720)
            assert live.stream.video_codec.upper().startswith("H264")
        # Stopping the publisher: OFFLINE.
        await watcher.until_status(camera.id, S.CAMERA_STATUS_OFFLINE)
        assert (await _camera(stack, camera.id)).status == S.CAMERA_STATUS_OFFLINE
    finally:
        watcher.close()


async def test_a_wrong_key_is_refused_and_audited(stack: Stack) -> None:
    code, _ = await run(ffmpeg_publish_argv(stack.rtmp_url("not-a-real-key-123"), 5), limit_s=30)
    assert code != 0
    assert stack.channel is not None
    rows = await audit_pb2_grpc.AuditServiceStub(stack.channel).ListAuditLogs(
        audit_pb2.ListAuditLogsRequest(filter='action = "stream.publish_refused"'),
        metadata=stack.admin,
    )
    assert any(r.details["key_prefix"] == "not-a-" for r in rows.audit_logs), rows


async def test_a_deactivated_camera_cannot_publish(stack: Stack) -> None:
    camera = await stack.new_camera("back-door")
    await stack.cameras.DeactivateCamera(
        camera_pb2.DeactivateCameraRequest(id=camera.id), metadata=stack.admin
    )
    code, _ = await run(ffmpeg_publish_argv(stack.rtmp_url(camera.stream_key), 5), limit_s=30)
    assert code != 0
    assert (await _camera(stack, camera.id)).status == S.CAMERA_STATUS_OFFLINE


async def test_killed_nginx_is_restarted_and_publishing_works_again(stack: Stack) -> None:
    camera = await stack.new_camera("yard")
    old = stack.nginx_pid()
    os.kill(old, signal.SIGKILL)
    async with asyncio.timeout(30):
        while True:
            try:
                if stack.nginx_pid() != old:
                    break
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.1)
    watcher = Watcher(stack, await stack.revision())
    try:
        async with asyncio.timeout(60):
            while S.CAMERA_STATUS_ONLINE not in watcher.statuses(camera.id):
                # nginx may take a moment to listen again; ffmpeg simply fails until then.
                async with publishing(stack, camera.stream_key, seconds=60):
                    with suppress(TimeoutError):
                        await watcher.until_status(camera.id, S.CAMERA_STATUS_ONLINE, 15)
    finally:
        watcher.close()


async def test_a_killed_agent_makes_the_node_lost_and_its_cameras_offline(stack: Stack) -> None:
    camera = await stack.new_camera("gate")
    watcher = Watcher(stack, await stack.revision())
    try:
        async with publishing(stack, camera.stream_key):
            await watcher.until_status(camera.id, S.CAMERA_STATUS_ONLINE)
            stack.kill_agent()
            killed = time.monotonic()
            await watcher.until_status(
                camera.id, S.CAMERA_STATUS_OFFLINE, within_s=LOST_AFTER_S + 15
            )
            took = time.monotonic() - killed
        assert took >= LOST_AFTER_S * 0.5, f"OFFLINE after {took:.1f} s, before the grace"
        offline = await _camera(stack, camera.id)
        assert "lost" in offline.status_reason
        nodes = await stack.nodes.ListNodes(node_pb2.ListNodesRequest(), metadata=stack.admin)
        assert [n.state for n in nodes.nodes] == [node_pb2.NODE_STATE_LOST]
    finally:
        watcher.close()


async def test_streams_survive_a_control_plane_crash_and_spooled_events_arrive_once(
    stack: Stack,
) -> None:
    steady = await stack.new_camera("steady")
    flapping = await stack.new_camera("flapping")
    watcher = Watcher(stack, await stack.revision())
    # Publish the second camera once, so the node's assignment knows its key.
    async with publishing(stack, flapping.stream_key):
        await watcher.until_status(flapping.id, S.CAMERA_STATUS_ONLINE)
    await watcher.until_status(flapping.id, S.CAMERA_STATUS_OFFLINE)
    async with publishing(stack, steady.stream_key):
        await watcher.until_status(steady.id, S.CAMERA_STATUS_ONLINE)
        urls = await stack.cameras.GetStreamUrls(
            camera_pb2.GetStreamUrlsRequest(id=steady.id), metadata=stack.admin
        )
        path = urlsplit(urls.hls_playback_url).path
        before = _newest_segment(await _playlist(stack, path))
        watcher.close()
        resume_from = watcher.last_revision

        stack.kill_server()
        # While the control plane is down: live HLS goes on, and a known camera can publish
        # and stop (its events wait in the agent's spool).
        async with publishing(stack, flapping.stream_key, seconds=4) as proc:
            await asyncio.to_thread(proc.wait, 30)  # type: ignore[attr-defined]
        assert proc.returncode == 0, (
            "a known camera could not publish while the control plane was down"
        )  # type: ignore[attr-defined]
        during = _newest_segment(await _playlist(stack, path))
        assert during > before, "HLS stopped while the control plane was down"

        restarted = time.monotonic()
        restarted_at = datetime.now(UTC)
        await stack.start_server()
        nodes = await eventually(
            lambda: stack.nodes.ListNodes(node_pb2.ListNodesRequest(), metadata=stack.admin),
            lambda r: (
                r.nodes[0].state == node_pb2.NODE_STATE_READY
                and r.nodes[0].last_heartbeat_time.ToDatetime(tzinfo=UTC) > restarted_at
            ),
            within_seconds=30,
        )
        assert nodes.nodes[0].last_heartbeat_time.ToDatetime(tzinfo=UTC) > restarted_at
        print(f"agent reconnected {time.monotonic() - restarted:.2f} s after the restart began")
        # The Hello puts the live camera back ONLINE (it never stopped streaming).
        back = await eventually(
            lambda: _camera(stack, steady.id), lambda c: c.status == S.CAMERA_STATUS_ONLINE
        )
        assert back.status == S.CAMERA_STATUS_ONLINE

        # Spooled events arrived exactly once each.
        history = await eventually(
            lambda: stack.streams.ListStreamEvents(
                stream_pb2.ListStreamEventsRequest(camera_id=flapping.id), metadata=stack.admin
            ),
            lambda r: [e.type for e in r.events].count(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH) == 2,
            within_seconds=30,
        )
        history = await stack.streams.ListStreamEvents(
            stream_pb2.ListStreamEventsRequest(camera_id=flapping.id), metadata=stack.admin
        )
        types = [e.type for e in history.events]
        ids = [e.id for e in history.events]
        assert len(ids) == len(set(ids))
        # Two publishes: one before the crash, one (spooled) while the control plane was down.
        assert types.count(stream_pb2.STREAM_EVENT_TYPE_PUBLISH) == 2, history
        assert types.count(stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH) == 2, history
        spooled = [e for e in history.events if e.time.ToDatetime(tzinfo=UTC) < restarted_at]
        spooled = [e for e in spooled if e.receive_time.ToDatetime(tzinfo=UTC) > restarted_at]
        assert {e.type for e in spooled} >= {
            stream_pb2.STREAM_EVENT_TYPE_PUBLISH,
            stream_pb2.STREAM_EVENT_TYPE_UNPUBLISH,
        }, history

        # A watcher resuming from its last revision misses nothing that happened since.
        resumed = Watcher(stack, resume_from)
        try:
            await stack.cameras.UpdateCamera(
                camera_pb2.UpdateCameraRequest(
                    camera=camera_pb2.Camera(id=steady.id, location="after the crash"),
                    update_mask={"paths": ["location"]},
                ),
                metadata=stack.admin,
            )
            await resumed.until(
                lambda: any(e.camera.location == "after the crash" for e in resumed.events)
            )
            revisions = [e.revision for e in resumed.events]
            assert revisions == sorted(set(revisions)) and revisions[0] > resume_from
        finally:
            resumed.close()


async def test_rotating_the_key_of_a_live_camera_cuts_the_publisher(stack: Stack) -> None:
    camera = await stack.new_camera("rotated")
    watcher = Watcher(stack, await stack.revision())
    try:
        async with publishing(stack, camera.stream_key) as proc:
            await watcher.until_status(camera.id, S.CAMERA_STATUS_ONLINE)
            await stack.cameras.RotateStreamKey(
                camera_pb2.RotateStreamKeyRequest(id=camera.id), metadata=stack.admin
            )
            await watcher.until_status(camera.id, S.CAMERA_STATUS_OFFLINE)
            code = await asyncio.to_thread(proc.wait, 20)  # type: ignore[attr-defined]
            assert code != 0, "ffmpeg kept publishing with a rotated key"
        offline = await _camera(stack, camera.id)
        assert "no longer valid" in offline.status_reason
    finally:
        watcher.close()
