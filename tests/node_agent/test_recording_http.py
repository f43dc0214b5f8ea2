"""Recorded media served by a real node agent (in process) through its real nginx: segment
downloads with Range, VOD playlists that ffmpeg plays, exported MP4 clips, files found through
the index in whichever tier, and every bad URL refused (403/404) before a byte is sent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from camfleet.playback import (
    Grant,
    clip_resource,
    playback_signature,
    recording_resource,
    sign_resource,
    vod_resource,
)
from camfleet.v1 import agent_pb2
from google.protobuf import duration_pb2

from node_agent.agent import Agent
from node_agent.convert import policy_from_proto
from node_agent.desired import PlaybackPolicy, RecordingProfile
from node_agent.outbox import Outbox
from node_agent.recording.exports import ClipRequest, ExportCache
from node_agent.recording.index import Segment, SegmentIndex
from node_agent.recording.retention import Housekeeper
from node_agent.recording.store import SegmentStore
from node_agent.recording.tiers import StorageTier, node_tiers
from node_agent.recording_http import RecordedMedia, vod_playlist
from node_agent.spool import Spool
from tests.support.agent_node import FFMPEG, FFPROBE, assemblies, http_get, run
from tests.support.recording_node import (
    all_segments,
    camera,
    config,
    prepare,
    probe,
    recorded_camera,
    running,
    segments,
    small_disk,
    until,
)

pytestmark = pytest.mark.timeout(240)

WARM = StorageTier.WARM
HOT = StorageTier.HOT


@dataclass
class Recorded:
    """An agent that recorded one camera for a while, and what it indexed."""

    agent: Agent
    camera_id: str
    secret: bytes
    base: str

    def segments(self) -> list[Segment]:
        return segments(self.agent, self.camera_id)

    def expires(self, ttl_s: float = 600) -> int:
        return int(time.time() + ttl_s)

    def download(
        self,
        recording_id: str,
        expires: int | None = None,
        name: str = "a.ts",
        grant: Grant | None = None,
    ) -> str:
        exp, g = expires or self.expires(), grant or USER
        sig = sign_resource(self.secret, recording_resource(recording_id), exp, g)
        return f"/recordings/{recording_id}/{g.encode()}/{exp}/{sig}/{name}"

    def vod(self, start: datetime, end: datetime, file: str = "index.m3u8") -> str:
        s, e, exp = _ms(start), _ms(end), self.expires()
        sig = sign_resource(self.secret, vod_resource(self.camera_id, s, e), exp, USER)
        return f"/vod/{self.camera_id}/{s}-{e}/{USER.encode()}/{exp}/{sig}/{file}"

    def export(self, start: datetime, end: datetime, grant: Grant | None = None) -> str:
        s, e, exp, g = _ms(start), _ms(end), self.expires(), grant or USER
        sig = sign_resource(self.secret, clip_resource(self.camera_id, s, e), exp, g)
        return f"/exports/{self.camera_id}/{s}-{e}/{g.encode()}/{exp}/{sig}/clip.mp4"


# The grant URLs are signed for: a user, issued a minute ago.
USER = Grant((str(uuid.uuid4()),), int(time.time()) - 60)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture(scope="module")
async def recorded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recorded]:
    root = tmp_path_factory.mktemp("rec-http")
    camera_id = str(uuid.uuid4())
    prepare(root / "node", recorded_camera("key-http", camera_id))
    cfg = config(root / "node", warm_dir=root / "warm")
    async with running(cfg) as agent:
        assert agent.playback.value is not None
        rec = Recorded(agent, camera_id, agent.playback.value, f"http://{cfg.http_listen}")
        async with camera(f"rtmp://{cfg.rtmp_listen}/live/key-http", seconds=11) as publisher:
            await asyncio.to_thread(publisher.wait, 60)
        await until(lambda: len(rec.segments()) >= 4, "four closed segments", 30)
        yield rec


async def fetch(
    rec: Recorded, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, rec.base + path, headers=headers or {}) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


# --- downloads ------------------------------------------------------------------------------


async def test_a_signed_download_sends_the_segment_with_range_support(recorded: Recorded) -> None:
    segment = recorded.segments()[0]
    whole = segment.path.read_bytes()
    status, headers, body = await fetch(recorded, recorded.download(segment.id, name="cam.ts"))
    assert status == 200 and body == whole
    assert headers["Content-Type"] == "video/mp2t"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert 'filename="cam.ts"' in headers["Content-Disposition"]
    assert headers.get("Accept-Ranges") == "bytes"
    status, headers, body = await fetch(
        recorded, recorded.download(segment.id), {"Range": "bytes=100-1099"}
    )
    assert status == 206 and body == whole[100:1100]
    assert headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    status, headers, _ = await fetch(
        recorded, recorded.download(segment.id), {"Range": f"bytes={len(whole) + 10}-"}
    )
    assert status == 416
    status, headers, body = await fetch(recorded, recorded.download(segment.id), method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == len(whole)
    # A browser's preflight for a ranged request.
    status, headers, _ = await fetch(
        recorded, recorded.download(segment.id), {"Origin": "http://x"}, method="OPTIONS"
    )
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "*"
    assert "Range" in headers["Access-Control-Allow-Headers"]


async def test_a_segment_moved_to_the_warm_tier_still_downloads(recorded: Recorded) -> None:
    segment = recorded.segments()[1]
    whole = segment.path.read_bytes()
    index = recorded.agent.segments
    index.tier(WARM).store(segment.path, segment.relative_path)
    moved = index.moved(segment.id, WARM, segment.relative_path)
    assert moved is not None and moved.path != segment.path and moved.path.is_file()
    segment.path.unlink()
    status, _, body = await fetch(recorded, recorded.download(segment.id))
    assert status == 200 and body == whole


async def test_bad_download_urls_are_refused(recorded: Recorded) -> None:
    segment = recorded.segments()[0]
    good = recorded.download(segment.id)
    parts = good.split("/")  # '', recordings, id, grant, expires, sig, name
    grant, exp, sig = parts[3], parts[4], parts[5]
    tampered = "/".join([*parts[:5], sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB"), parts[6]])
    longer = "/".join([*parts[:4], str(int(exp) + 3600), *parts[5:]])
    # Another principal, or a later issue time (to dodge a revocation), under the same signature.
    someone = "/".join([*parts[:3], Grant(("someone",), USER.issued).encode(), *parts[4:]])
    reissued = "/".join([*parts[:3], Grant(USER.principals, USER.issued + 30).encode(), *parts[4:]])
    past = int(time.time()) - 1
    expired = recorded.download(segment.id, expires=past)
    # A live-HLS signature of the camera does not open a download, nor a download signature
    # the camera's live HLS.
    live_sig = playback_signature(recorded.secret, segment.id, int(exp), USER)
    live = f"/recordings/{segment.id}/{grant}/{exp}/{live_sig}/a.ts"
    rec_sig = sign_resource(recorded.secret, recording_resource(recorded.camera_id), int(exp), USER)
    hls = f"/hls/{recorded.camera_id}/{grant}/{exp}/{rec_sig}/index.m3u8"
    other = recorded.download(str(uuid.uuid4()))
    for path, wanted in [
        (tampered, 403),
        (longer, 403),
        (someone, 403),
        (reissued, 403),
        (expired, 403),
        (live, 403),
        (hls, 403),
        (other, 404),
    ]:
        status, _, body = await fetch(recorded, path)
        assert (status, segment.path.read_bytes()[:16] in body) == (wanted, False), path


@pytest.mark.parametrize(
    "template",
    [
        "/recordings/../../../etc/passwd",
        "/recordings/{id}/{grant}/{exp}/{sig}/..%2f..%2f..%2fetc%2fpasswd",
        "/recordings/{id}/{grant}/{exp}/{sig}/%2e%2e/a.ts",
        "/recordings/%2e%2e%2f%2e%2e%2fetc/{grant}/{exp}/{sig}/a.ts",
        "/recordings/{id}/{grant}/{exp}/{sig}/a.ts/../../../../etc/passwd",
        "/recordings/{id}/{grant}.%2e%2e/{exp}/{sig}/a.ts",
        "/_media/etc/passwd",
        "/_media{path}",
        "/vod/{cam}/1-2/{grant}/{exp}/{sig}/seg/..%2f..%2fetc%2fpasswd",
        "/exports/{cam}/0-1/{grant}/{exp}/{sig}/../../../etc/passwd",
        "/recordings/{id}/{grant}/{exp}/{sig}/a.ts?x=/etc/passwd",
    ],
)
async def test_traversal_never_reaches_a_file(recorded: Recorded, template: str) -> None:
    segment = recorded.segments()[0]
    parts = recorded.download(segment.id).split("/")
    path = template.format(
        id=segment.id,
        grant=parts[3],
        exp=parts[4],
        sig=parts[5],
        cam=recorded.camera_id,
        path=segment.path,
    )
    status, body = await http_get(recorded.base.removeprefix("http://"), path)
    if path.endswith("a.ts?x=/etc/passwd"):
        # The query is ignored: still exactly the signed segment, nothing else.
        assert status == 200 and body == segment.path.read_bytes()
        return
    assert status in (400, 403, 404), (path, status)
    assert b"root:" not in body and segment.path.read_bytes()[:188] not in body


# --- VOD ------------------------------------------------------------------------------------


async def test_the_vod_playlist_plays_across_segments(recorded: Recorded) -> None:
    segs = recorded.segments()[:3]
    start, end = segs[0].start, segs[-1].end
    status, headers, body = await fetch(recorded, recorded.vod(start, end))
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    text = body.decode()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    assert f"#EXT-X-TARGETDURATION:{int(max(s.duration_s for s in segs) + 0.999)}" in text
    # The warm-tier segment of the test above is in it too: found through the index.
    assert [line for line in text.splitlines() if line.startswith("seg/")] == [
        f"seg/{s.id}.ts" for s in segs
    ]
    code, out = await run(
        [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         recorded.base + recorded.vod(start, end)],
        limit_s=60,
    )  # fmt: skip
    assert code == 0, out
    assert float(out.strip()) == pytest.approx(sum(s.duration_s for s in segs), abs=0.5)
    # A segment the range does not hold is refused, even under a valid signature.
    later = recorded.segments()[3]
    status, _, _ = await fetch(recorded, recorded.vod(start, end, f"seg/{later.id}.ts"))
    assert status == 404
    status, _, _ = await fetch(recorded, recorded.vod(start, end, f"seg/{segs[1].id}.ts"))
    assert status == 200
    bad = recorded.vod(start, end).replace(str(_ms(end)), str(_ms(end) + 60_000))
    assert (await fetch(recorded, bad))[0] == 403


def test_discontinuities_mark_non_contiguous_segments() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)

    def seg(start_s: float, length_s: float) -> Segment:
        return Segment(
            id=str(uuid.uuid4()), camera_id="c", start=t0 + timedelta(seconds=start_s),
            end=t0 + timedelta(seconds=start_s + length_s), duration_s=length_s, size_bytes=1,
            sha256="", tier=HOT, profile=RecordingProfile.ORIGINAL, container="mpegts",
            recovered=False, relative_path="x", path=Path("/x"),
        )  # fmt: skip

    a, b, c = seg(0, 2), seg(2.01, 2), seg(10, 2.5)
    lines = vod_playlist([a, b, c]).splitlines()
    assert "#EXT-X-TARGETDURATION:3" in lines
    assert [x for x in lines if x.startswith(("seg/", "#EXT-X-DISC"))] == [
        f"seg/{a.id}.ts",
        f"seg/{b.id}.ts",
        "#EXT-X-DISCONTINUITY",
        f"seg/{c.id}.ts",
    ]
    # Wall-clock time at the start and after each discontinuity, for seeking by time.
    assert [x for x in lines if x.startswith("#EXT-X-PROGRAM-DATE-TIME")] == [
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T00:00:00.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T00:00:10.000Z",
    ]


# --- exports --------------------------------------------------------------------------------


async def test_an_exported_clip_has_the_duration_asked_for(
    recorded: Recorded, tmp_path: Path
) -> None:
    segs = recorded.segments()
    start = segs[0].start + timedelta(seconds=1)
    end = segs[3].end - timedelta(seconds=1)
    wanted = (end - start).total_seconds()
    url = recorded.export(start, end)
    status, headers, body = await fetch(recorded, url)
    assert status == 200, body[:200]
    assert headers["Content-Type"] == "video/mp4"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(body)
    info = await probe(clip)
    assert abs(float(str(info["duration"])) - wanted) <= 1.0, (info, wanted)
    assert (info["width"], info["height"]) == (1280, 720)
    # Cached: a second request (with Range) is served from the same file.
    cached = list((recorded.agent.data_dir.root / "exports").glob("*.mp4"))
    assert len(cached) == 1
    status, _, part = await fetch(recorded, url, {"Range": "bytes=0-7"})
    assert (status, part) == (206, body[:8])
    assert list((recorded.agent.data_dir.root / "exports").glob("*.mp4")) == cached
    # Decodes end to end.
    code, out = await run([FFMPEG, "-v", "error", "-i", str(clip), "-f", "null", "-"], 60)
    assert code == 0, out


async def test_exports_outside_recordings_or_badly_signed_are_refused(recorded: Recorded) -> None:
    segs = recorded.segments()
    later = segs[-1].end + timedelta(hours=1)
    status, _, _ = await fetch(recorded, recorded.export(later, later + timedelta(seconds=10)))
    assert status == 404
    good = recorded.export(segs[0].start, segs[1].end)
    status, _, _ = await fetch(recorded, good.replace(recorded.camera_id, str(uuid.uuid4())))
    assert status == 403


async def test_expired_exports_are_removed(tmp_path: Path) -> None:
    clock = [1000.0]
    media = RecordedMedia(lambda: b"k" * 32, _NoSegments(), tmp_path, now=lambda: clock[0])
    keep, gone = tmp_path / "c_1_2_2000.mp4", tmp_path / "c_1_2_999.mp4"
    keep.write_bytes(b"x")
    gone.write_bytes(b"x")
    media.remove_expired_exports()
    assert keep.exists() and not gone.exists()
    clock[0] = 2000.0
    media.remove_expired_exports()
    assert not keep.exists()


class _NoSegments:
    def get(self, segment_id: str) -> Segment | None:
        return None

    def for_camera(self, camera_id: str, start: datetime, end: datetime) -> list[Segment]:
        return []


# --- exports are bounded (issue 10, finding 5) ----------------------------------------------


@contextlib.asynccontextmanager
async def policy(agent: Agent, **fields: object) -> AsyncIterator[None]:
    """The agent's assignment with this playback policy, as the control plane would send it;
    the previous assignment (a newer version with the same content) afterwards."""
    before = agent.assignment.assignment
    sent = agent_pb2.PlaybackPolicy(**fields)  # type: ignore[arg-type]
    changed = replace(before, version=before.version + 1, playback=policy_from_proto(sent))
    assert (await agent.assignment.apply(changed)).accepted
    try:
        yield
    finally:
        assert (await agent.assignment.apply(replace(before, version=changed.version + 1))).accepted


async def burst(
    rec: Recorded, paths: list[str]
) -> tuple[list[tuple[int, dict[str, str], bytes]], int]:
    """GET every path at once; the answers, and the most clip assemblies seen running."""
    most = 0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, await asyncio.to_thread(assemblies, os.getpid()))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        answers = await asyncio.gather(*(fetch(rec, p) for p in paths))
    finally:
        done.set()
        await sampler
    return answers, most


def clip_ranges(rec: Recorded, count: int) -> list[tuple[datetime, datetime]]:
    """`count` different ranges over the whole recording (each its own clip)."""
    segs = rec.segments()
    return [(segs[0].start + timedelta(milliseconds=100 * i), segs[-1].end) for i in range(count)]


def clear_exports(rec: Recorded) -> None:
    for path in (rec.agent.data_dir.root / "exports").glob("*"):
        path.unlink()


async def test_one_user_assembles_one_clip_at_a_time(recorded: Recorded) -> None:
    """Eight clip URLs of one user fetched at once: one ffmpeg, the rest 429 with Retry-After
    and a sentence (the issue's reproduction ran eight ffmpeg and cached them all)."""
    clear_exports(recorded)
    user = Grant((str(uuid.uuid4()),), int(time.time()))
    paths = [recorded.export(a, b, user) for a, b in clip_ranges(recorded, 8)]
    answers, most = await burst(recorded, paths)
    statuses = sorted(status for status, _, _ in answers)
    assert most <= 1, statuses
    assert set(statuses) <= {200, 429} and statuses.count(429) >= 5, statuses
    for status, headers, body in answers:
        if status == 429:
            assert int(headers["Retry-After"]) > 0
            assert b"the limit per user is 1" in body, body
    assert len(list((recorded.agent.data_dir.root / "exports").glob("*.mp4"))) == statuses.count(
        200
    )


async def test_a_node_assembles_at_most_its_limit_of_clips(recorded: Recorded) -> None:
    clear_exports(recorded)
    paths = [
        recorded.export(a, b, Grant((str(uuid.uuid4()),), int(time.time())))
        for a, b in clip_ranges(recorded, 8)
    ]
    answers, most = await burst(recorded, paths)
    statuses = sorted(status for status, _, _ in answers)
    assert 1 <= most <= 2, (most, statuses)  # the default limit per node
    assert set(statuses) <= {200, 429} and statuses.count(429) >= 4, statuses
    for status, headers, body in answers:
        if status == 429:
            assert int(headers["Retry-After"]) > 0
            assert b"its limit is 2" in body, body


async def test_the_export_cache_keeps_to_its_budget(recorded: Recorded) -> None:
    clear_exports(recorded)
    exports = recorded.agent.data_dir.root / "exports"
    # Clips of nearly the same range (so of about the same size).
    first, second, third = clip_ranges(recorded, 4)[1:]
    status, _, body = await fetch(recorded, recorded.export(*first))
    assert status == 200, body[:200]
    size = sum(p.stat().st_size for p in exports.glob("*.mp4"))
    budget = int(size * 1.5)  # room for one clip, not two
    async with policy(recorded.agent, export_cache_bytes=budget):
        status, _, body = await fetch(recorded, recorded.export(*second))
        assert status == 200, body[:200]
        kept = list(exports.glob("*.mp4"))
        assert sum(p.stat().st_size for p in kept) <= budget
        # The least recently used clip made room: the second one is the one kept.
        assert [p.name.split("_")[1] for p in kept] == [str(_ms(second[0]))]
        # Served clips count as used: the newest request evicts the other one.
        status, _, _ = await fetch(recorded, recorded.export(*third))
        assert status == 200
        assert [p.name.split("_")[1] for p in exports.glob("*.mp4")] == [str(_ms(third[0]))]
    async with policy(recorded.agent, export_cache_bytes=size // 4):
        # A clip that cannot fit is refused with a sentence, and not kept.
        status, _, body = await fetch(recorded, recorded.export(first[0], first[1]))
        assert status == 507 and b"export a shorter range" in body, body
        assert sum(p.stat().st_size for p in exports.glob("*")) <= size // 4
    async with policy(recorded.agent, max_clip_duration=duration_pb2.Duration(seconds=2)):
        status, _, body = await fetch(recorded, recorded.export(*second))
        assert status == 400 and b"at most 2 seconds" in body, body


async def test_the_free_space_floor_takes_exports_before_recordings(
    recorded: Recorded, tmp_path: Path
) -> None:
    """A disk below its floor: the export cache goes, every recording stays. The agent wires
    its export cache into the floor."""
    agent = recorded.agent
    assert agent.recording is not None and agent.media is not None
    assert agent.recording.housekeeper.exports is agent.media.exports
    if os.geteuid() != 0:
        pytest.fail("this test mounts a small tmpfs and needs root")
    disk = tmp_path / "disk"
    with small_disk(disk, "64m"):
        tiers = node_tiers(disk, None)
        index = SegmentIndex(disk / "recordings.db", tiers)
        spool = Spool(disk / "spool.db")
        try:
            store = SegmentStore(index, tiers, Outbox(spool), FFPROBE)
            kept = []
            for segment in recorded.segments()[:4]:
                tiers[HOT].store(segment.path, segment.relative_path)
                copy = replace(segment, tier=HOT, path=tiers[HOT].path_for(segment.relative_path))
                index.add(copy)
                kept.append(copy)
            cache = ExportCache(disk / "exports", PlaybackPolicy, ffmpeg=FFMPEG, ffprobe=FFPROBE)
            target = cache.path_for(recorded.camera_id, 1, 2, int(time.time()) + 600)
            clip = ClipRequest(kept, kept[0].start, kept[-1].end, target, "u")
            assert await cache.get(clip)
            clip_bytes = target.stat().st_size
            keeper = Housekeeper(store, min_free_bytes=0, warm_after_s=3600)
            keeper.exports = cache
            free = tiers[HOT].free_bytes()
            # Short of the floor by less than the cache holds: the cache alone pays.
            result = await keeper.free_space(HOT, floor=free + clip_bytes // 2)
            assert (result.deleted, result.exhausted) == (0, False)
            assert not target.exists()
            assert [s.id for s in all_segments(index, recorded.camera_id)] == [s.id for s in kept]
            assert all(s.path.exists() for s in kept)
            # Without exports to drop, the oldest recording goes, as before.
            result = await keeper.free_space(HOT, floor=tiers[HOT].free_bytes() + 1)
            assert result.deleted == 1
        finally:
            index.close()
            spool.close()
