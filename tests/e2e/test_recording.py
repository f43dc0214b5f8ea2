"""End to end, issue 4's "done when" for the control plane and serving side: a camera
publishes to the node agent's nginx-rtmp, the agent's recorder writes 2-second MPEG-TS
segments, the control plane indexes them, and the signed URLs it hands out play through the
node's nginx: downloads (with Range), exported clips, VOD playlists. Restarts of the agent and
of the control plane lose and duplicate nothing. Real processes, both backends."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from camfleet.v1 import camera_pb2, recording_pb2

from tests.support.agent_node import FFMPEG, FFPROBE, run
from tests.support.recording_node import camera as publishing
from tests.support.recordings import all_recordings
from tests.support.stack import Stack, recordings, running_stack, ts

pytestmark = pytest.mark.timeout(600)

R = recording_pb2
SEGMENT_S = 2
# The minute on the embedded backend; a shorter stream on PostgreSQL keeps the suite's
# time in check (the assertions are the same).
STREAM_S = {"sqlite": 60, "postgres": 24}


@pytest.fixture(params=["sqlite", "postgres"])
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    async with running_stack(str(request.param), ["--segment-seconds", str(SEGMENT_S)]) as running:
        yield running


async def recorded_camera(stack: Stack, name: str) -> camera_pb2.Camera:
    resp = await stack.cameras.CreateCamera(
        camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=name, recording_enabled=True)),
        metadata=stack.admin,
    )
    return resp.camera


async def listed(stack: Stack, camera_id: str) -> list[R.Recording]:
    """Every indexed segment of the camera in the last hour, through paged ListRecordings."""
    now = datetime.now(UTC)
    return await all_recordings(
        recordings(stack),
        R.ListRecordingsRequest(
            camera_id=camera_id,
            start_time=ts(now - timedelta(hours=1)),
            end_time=ts(now + timedelta(minutes=1)),
            page_size=7,
        ),
        stack.admin,
    )


def node_index(stack: Stack, camera_id: str) -> list[str]:
    """Segment ids in the node's own index (its SQLite file), oldest first."""
    db = sqlite3.connect(f"file:{stack.node_dir / 'recordings.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT id FROM segments WHERE camera_id = ? ORDER BY start", (camera_id,)
        ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()
    return [str(r[0]) for r in rows]


async def until_listed(stack: Stack, camera_id: str, count: int, within_s: float = 60) -> None:
    """Until the control plane lists at least `count` segments of the camera."""
    deadline = time.monotonic() + within_s
    while len(await listed(stack, camera_id)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} segments\n{stack.log_text()}"
        await asyncio.sleep(0.5)


async def settled(stack: Stack, camera_id: str, within_s: float = 60) -> list[R.Recording]:
    """The listed segments once they are exactly the node's index (every report delivered)."""
    deadline = time.monotonic() + within_s
    while True:
        found = await listed(stack, camera_id)
        node = node_index(stack, camera_id)
        if node and [r.id for r in found] == node:
            return found
        assert time.monotonic() < deadline, (
            f"index differs: node {len(node)}, control plane {len(found)}: "
            f"missing {sorted(set(node) - {r.id for r in found})}, "
            f"extra {sorted({r.id for r in found} - set(node))}\n{stack.log_text()}"
        )
        await asyncio.sleep(0.5)


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as resp:
        return resp.status, await resp.read()


async def ffprobe_duration(source: str) -> float:
    code, out = await run(
        [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", source],
        limit_s=60,
    )
    assert code == 0, out
    return float(out.strip())


def start(r: R.Recording | R.TimelineSpan) -> datetime:
    return r.start_time.ToDatetime(UTC)


def end(r: R.Recording | R.TimelineSpan) -> datetime:
    return r.end_time.ToDatetime(UTC)


async def test_a_streamed_camera_is_recorded_indexed_and_served(
    stack: Stack, tmp_path: Path
) -> None:
    seconds = STREAM_S[stack.backend]
    camera = await recorded_camera(stack, "recorded-lobby")
    async with publishing(stack.rtmp_url(camera.stream_key), seconds=seconds) as publisher:
        await until_listed(stack, camera.id, 2)
        got = await stack.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id), metadata=stack.admin
        )
        assert got.camera.recording_state == R.RECORDING_STATE_RECORDING
        await asyncio.to_thread(publisher.wait, seconds + 60)
    found = await settled(stack, camera.id)
    # Every segment once, in order, back to back.
    assert len({r.id for r in found}) == len(found) >= (seconds // SEGMENT_S) * 0.8
    recorded_s = sum(r.duration.ToTimedelta().total_seconds() for r in found)
    span_s = (end(found[-1]) - start(found[0])).total_seconds()
    print(
        f"{len(found)} segments, {recorded_s:.1f} s of media over {span_s:.1f} s, "
        f"published {seconds} s"
    )
    assert recorded_s >= seconds - 6

    # Coverage: recorded ÷ expected over the whole recording (from its first to its last
    # recorded instant: once the publisher stopped, with recording still on, the camera's
    # silence is a CAMERA_STOPPED gap, expected and not recorded).
    line = await recordings(stack).GetTimeline(
        R.GetTimelineRequest(
            camera_id=camera.id,
            start_time=ts(start(found[0])),
            end_time=ts(end(found[-1])),
        ),
        metadata=stack.admin,
    )
    print(
        f"timeline: {len(line.spans)} spans, gaps {[g.reason for g in line.gaps]}, "
        f"coverage {line.coverage:.4f}"
    )
    assert line.coverage >= 0.99, line

    # Each segment decodes, fetched through its signed download URL.
    urls = []
    for recording in found:
        resp = await recordings(stack).GetDownloadUrl(
            R.GetDownloadUrlRequest(id=recording.id), metadata=stack.admin
        )
        urls.append(resp.url)
        code, out = await run([FFMPEG, "-v", "error", "-i", resp.url, "-f", "null", "-"], 60)
        assert code == 0, (recording.id, out)

    # Range, and a tampered URL.
    first = found[0]
    status, body = await get(urls[0], {"Range": "bytes=0-187"})
    assert (status, len(body), body[:1]) == (206, 188, b"G")  # one TS packet, sync byte
    prefix, expires, sig, name = urls[0].rsplit("/", 3)
    tampered = f"{prefix}/{expires}/{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}/{name}"
    assert (await get(tampered))[0] == 403
    longer = f"{prefix}/{int(expires) + 60}/{sig}/{name}"
    assert (await get(longer))[0] == 403

    # An exported clip lasts what was asked, within a second.
    asked = (start(first) + timedelta(seconds=3), start(first) + timedelta(seconds=13))
    clip = await recordings(stack).ExportClip(
        R.ExportClipRequest(camera_id=camera.id, start_time=ts(asked[0]), end_time=ts(asked[1])),
        metadata=stack.admin,
    )
    status, data = await get(clip.url)
    assert status == 200, data[:300]
    (tmp_path / "clip.mp4").write_bytes(data)
    duration = await ffprobe_duration(str(tmp_path / "clip.mp4"))
    print(f"clip: asked 10.000 s, got {duration:.3f} s")
    assert abs(duration - 10.0) <= 1.0

    # The VOD playlist plays through its signed URL, across every segment.
    vod = await recordings(stack).GetPlaybackUrl(
        R.GetPlaybackUrlRequest(
            camera_id=camera.id, start_time=ts(start(first)), end_time=ts(end(found[-1]))
        ),
        metadata=stack.admin,
    )
    assert abs(await ffprobe_duration(vod.url) - recorded_s) <= 1.0
    code, out = await run(
        [FFMPEG, "-v", "error", "-i", vod.url, "-c", "copy", "-f", "null", "-"], 120
    )
    assert code == 0, out


async def test_agent_and_control_plane_restarts_lose_and_duplicate_nothing(stack: Stack) -> None:
    camera = await recorded_camera(stack, "recorded-dock")
    url = stack.rtmp_url(camera.stream_key)
    async with publishing(url, seconds=300):
        await until_listed(stack, camera.id, 3)
        # What was indexed before the kill is never lost. (A loaded machine's recorder can be
        # seconds behind the live edge: what it had not yet written dies with the agent.)
        indexed = max(end(r) for r in await listed(stack, camera.id))
        # The agent dies mid-segment (its nginx goes with it, so the camera reconnects).
        agent_killed = datetime.now(UTC)
        stack.kill_agent()
        await stack.start_agent()
    agent_back = datetime.now(UTC)
    async with publishing(url, seconds=300):
        # A segment recorded after the restart (not the partial one recovered from before).
        deadline = time.monotonic() + 60
        while not [r for r in await listed(stack, camera.id) if start(r) > agent_back]:
            assert time.monotonic() < deadline, stack.log_text()
            await asyncio.sleep(0.5)
        recording_again = datetime.now(UTC)
        before = len(await listed(stack, camera.id))
        await until_listed(stack, camera.id, before + 2)
        # The control plane dies; the agent keeps recording and spools its reports.
        server_killed = datetime.now(UTC)
        stack.kill_server()
        await asyncio.sleep(3 * SEGMENT_S)
        try:
            # Generous: on a loaded 2-core machine importing the server alone took 24 s.
            await stack.start_server(within_s=180)
        except TimeoutError:
            raise AssertionError(
                f"the control plane did not come back\n{stack.log_text()}"
            ) from None
        server_back = datetime.now(UTC)
        await until_listed(stack, camera.id, before + 2 + 3)
    # Nothing lost, nothing twice: the control plane lists exactly the node's own index.
    found = await settled(stack, camera.id)
    ids = [r.id for r in found]
    assert len(ids) == len(set(ids))
    line = await recordings(stack).GetTimeline(
        R.GetTimelineRequest(
            camera_id=camera.id, start_time=ts(start(found[0])), end_time=ts(end(found[-1]))
        ),
        metadata=stack.admin,
    )
    gaps = [(start(g), end(g), g.reason, g.cause) for g in line.gaps]
    shown = [(round((b - a).total_seconds(), 2), why) for a, b, why, _ in gaps]
    print(f"{len(found)} segments; gaps {shown}; coverage {line.coverage:.4f}")
    # Media is lost only around the agent's death (the recorder's partial segment, the
    # camera reconnecting); the control plane's death costs nothing. The timeline says why:
    # the node was lost (declared lost, or its new agent came back first and said it had
    # started after the node's last heartbeat), not an unexplained hole.
    for a, b, why, cause in gaps:
        lost_from = min(agent_killed - timedelta(seconds=2 * SEGMENT_S), indexed)
        assert lost_from <= a, (why, a, agent_killed, indexed)
        assert b <= recording_again, (why, b, recording_again)
        assert not (a < server_back and b > server_killed), (why, a, b)
        assert cause == R.GAP_CAUSE_NODE_LOST, (why, a, b)
