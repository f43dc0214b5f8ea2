"""End to end, the cold tier (issue 15 part 3) against a real S3 server, `rclone serve s3`
(SigV4 enforced), started by the test on a free loopback port over a temporary directory and
ended by PID: a node told a wrong secret keeps its segments and one event says why; a store
that is down keeps them too and the moves complete when it returns; then segments move, the
index says COLD with the object's key, and downloads (byte-identical), the VOD playlist
(ffprobe) and a clip work from the store through short-lived presigned URLs; an expired or
tampered presigned URL is refused; with its node dead, a cold segment still downloads (the
control plane presigns it); retention deletes in the store."""

from __future__ import annotations

import asyncio
import hashlib
import time
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from camfleet.v1 import camera_pb2, event_pb2, recording_pb2, settings_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask

from harness.object_store import ObjectStore
from node_agent.desired import ColdStorage
from node_agent.recording.cold_store import ColdStore
from tests.e2e.test_live_settings import listed, settings_service
from tests.e2e.test_recording import get, recorded_camera
from tests.support.agent_node import FFPROBE, run
from tests.support.recording_node import camera as publishing
from tests.support.stack import Stack, recordings, running_stack, ts

pytestmark = pytest.mark.timeout(900)

R = recording_pb2
BUCKET = "camfleet-cold"
PREFIX = "site-a/"


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with running_stack("sqlite", ["--segment-seconds", "2"]) as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> AsyncIterator[ObjectStore]:
    served = ObjectStore(tmp_path / "s3")
    served.start()
    served.bucket(BUCKET)
    try:
        yield served  # type: ignore[misc]
    finally:
        served.stop()


async def set_cold(stack: Stack, store: ObjectStore, secret: str, after_s: float = 1.0) -> None:
    service = settings_service(stack)
    current = await service.GetSettings(settings_pb2.GetSettingsRequest(), metadata=stack.admin)
    storage = settings_pb2.StorageSettings(
        cold_endpoint=store.endpoint,
        cold_bucket=BUCKET,
        cold_prefix=PREFIX,
        cold_access_key=store.access_key,
        cold_secret_key=secret,
        cold_after=Duration(seconds=int(after_s)),
        cold_region="us-east-1",
    )
    paths = ["cold_endpoint", "cold_bucket", "cold_prefix", "cold_access_key"]
    paths += ["cold_secret_key", "cold_after", "cold_region"]
    await service.UpdateSettings(
        settings_pb2.UpdateSettingsRequest(
            storage=storage,
            update_mask=FieldMask(paths=paths),
            version=current.settings.storage.revision.version,
        ),
        metadata=stack.admin,
    )


async def tier_events(stack: Stack, after: int, want: int, within_s: float) -> list[str]:
    """Messages of STORAGE_TIER_CHANGED events after revision `after`: until `want` of them
    arrived, or `within_s` passed."""
    found: list[str] = []
    call = stack.watch(after)
    try:
        async with asyncio.timeout(within_s):
            async for item in call:
                if item.event.type == event_pb2.EVENT_TYPE_STORAGE_TIER_CHANGED:
                    found.append(item.event.message)
                    if len(found) >= want:
                        break
    except TimeoutError:
        pass
    finally:
        call.cancel()
    return found


async def until(check: object, what: str, within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def vod_duration(url: str) -> float:
    """ffprobe's duration of a playlist whose segments redirect to the store (ffmpeg logs, at
    error level, that it opens a new connection for the other host: only fatal ones count)."""
    code, out = await run(
        [FFPROBE, "-v", "fatal", "-show_entries", "format=duration", "-of", "csv=p=0", url],
        limit_s=120,
    )
    assert code == 0, out
    return float(out.strip())


def objects(store: ObjectStore) -> dict[str, Path]:
    root = store.root / BUCKET
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*.ts") if p.is_file()}


async def test_segments_move_to_cold_play_from_there_and_retention_deletes_there(
    stack: Stack, store: ObjectStore
) -> None:
    camera = await recorded_camera(stack, "cold-lobby")
    async with publishing(stack.rtmp_url(camera.stream_key), seconds=14) as publisher:
        await asyncio.to_thread(publisher.wait, 120)

    async def some_listed() -> bool:
        return len(await listed(stack, camera.id)) >= 4

    await until(some_listed, "segments indexed")
    start_rev = await stack.revision()

    # A wrong secret: the store refuses, segments stay on the node, one event says why.
    await set_cold(stack, store, "not-the-secret")
    said = await tier_events(stack, start_rev, 1, within_s=60)
    assert len(said) == 1 and "refuses the access and secret keys" in said[0], said
    # Several housekeeping passes later (every 5 s), still that one event, nothing moved.
    assert len(await tier_events(stack, start_rev, 2, within_s=15)) == 1
    assert {r.tier for r in await listed(stack, camera.id)} == {R.STORAGE_TIER_HOT}
    assert objects(store) == {}

    # The store dies; the right secret arrives: segments stay, the event says it is unreachable.
    rev = await stack.revision()
    store.kill()
    await set_cold(stack, store, store.secret_key)
    said = await tier_events(stack, rev, 1, within_s=60)
    assert said and "cannot be reached" in said[0], said
    assert {r.tier for r in await listed(stack, camera.id)} == {R.STORAGE_TIER_HOT}

    # It returns: every segment moves, the index says COLD with the object's key.
    store.start()
    before = await listed(stack, camera.id)

    async def all_cold() -> bool:
        return {r.tier for r in await listed(stack, camera.id)} == {R.STORAGE_TIER_COLD}

    await until(all_cold, "every segment in the cold tier")
    moved = await listed(stack, camera.id)
    assert [r.id for r in moved] == [r.id for r in before]  # nothing lost, nothing added
    stored = objects(store)
    for r in moved:
        assert r.object_bucket == BUCKET and r.object_key.startswith(PREFIX)
        data = stored[r.object_key].read_bytes()
        assert hashlib.sha256(data).hexdigest() == r.sha256
    assert not list((stack.node_dir / "recordings").rglob("*.ts")), "local copies remain"
    said = await tier_events(stack, rev, 2, within_s=30)
    assert any("go again" in m for m in said), said

    # A download from cold: a redirect to a presigned URL, the same bytes.
    first = moved[0]
    url = (
        await recordings(stack).GetDownloadUrl(
            R.GetDownloadUrlRequest(id=first.id), metadata=stack.admin
        )
    ).url
    status, body = await get(url)
    assert status == 200 and body == stored[first.object_key].read_bytes()
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, allow_redirects=False) as resp,
    ):
        assert resp.status == 302
        presigned = resp.headers["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(presigned).query)
    assert int(query["X-Amz-Expires"][0]) <= 60
    # Tampered: another object under the same signature is refused.
    other = presigned.replace(first.object_key, moved[1].object_key)
    status, _ = await get(other)
    assert status == 403

    # The VOD playlist of a range in cold plays.
    vod = await recordings(stack).GetPlaybackUrl(
        R.GetPlaybackUrlRequest(
            camera_id=camera.id,
            start_time=moved[0].start_time,
            end_time=moved[-1].end_time,
        ),
        metadata=stack.admin,
    )
    assert await vod_duration(vod.url) > 0.8 * sum(
        r.duration.ToTimedelta().total_seconds() for r in moved
    )
    # A clip from cold.
    clip_end = moved[0].start_time.ToDatetime(UTC) + timedelta(seconds=3)
    clip = await recordings(stack).ExportClip(
        R.ExportClipRequest(
            camera_id=camera.id, start_time=moved[0].start_time, end_time=ts(clip_end)
        ),
        metadata=stack.admin,
    )
    status, data = await get(clip.url)
    assert status == 200 and data[4:8] == b"ftyp"

    # An expired presigned URL is refused by the store.
    cold = ColdStore(
        ColdStorage(store.endpoint, BUCKET, PREFIX, store.access_key, store.secret_key, 1.0)
    )
    # X-Amz-Date is in whole seconds, so a URL is up to a second old when made; a life of
    # 1 s was shorter than a loaded machine's round trip (CI: 400 on the first GET).
    life_s = 5
    made = time.monotonic()
    short = cold.presigned_get(BUCKET, first.object_key, life_s)
    assert (await get(short))[0] == 200
    await asyncio.sleep(max(0.0, made + life_s + 2 - time.monotonic()))
    status, refused = await get(short)
    assert status in (400, 403), refused

    # Its node dies: the segment in the store is still downloadable, presigned by the control
    # plane (the node's own URLs need the node).
    stack.kill_agent()
    direct: list[str] = []

    async def presigned_by_the_control_plane() -> bool:
        got = await recordings(stack).GetDownloadUrl(
            R.GetDownloadUrlRequest(id=first.id), metadata=stack.admin
        )
        direct[:] = [got.url]
        return got.url.startswith(f"{store.endpoint}/{BUCKET}/")

    await until(presigned_by_the_control_plane, "a download URL straight from the store", 90)
    status, body = await get(direct[0])
    assert status == 200 and body == stored[first.object_key].read_bytes()
    # And the VOD playlist of the range lists each segment where it lives: the control plane
    # writes it (inline) with presigned URLs of the objects, and it plays.
    gone = await recordings(stack).GetPlaybackUrl(
        R.GetPlaybackUrlRequest(
            camera_id=camera.id, start_time=moved[0].start_time, end_time=moved[-1].end_time
        ),
        metadata=stack.admin,
    )
    assert gone.url.startswith("data:application/vnd.apple.mpegurl;base64,")
    assert await vod_duration(gone.url) > 0.8 * sum(
        r.duration.ToTimedelta().total_seconds() for r in moved
    )
    await stack.start_agent()

    # Retention deletes in cold: an age limit of a second removes every object and row.
    await stack.cameras.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=camera.id, retention_max_age=Duration(seconds=1)),
            update_mask=FieldMask(paths=["retention_max_age"]),
        ),
        metadata=stack.admin,
    )

    async def none_left() -> bool:
        return not await listed(stack, camera.id) and not objects(store)

    await until(none_left, "retention to empty the cold tier")
    assert datetime.now(UTC) > moved[-1].end_time.ToDatetime(UTC)
