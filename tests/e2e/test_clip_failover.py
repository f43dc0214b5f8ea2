"""Issue 15's "a clip whose range spans a failover (segments on two nodes) exports and plays",
end to end: two node agents, each in its own network namespace, one control plane; a pull
camera records on node A, A's link is cut (no reset: a host that vanished) so the camera fails
over to node B, and A comes back. A clip over the failover is one spread clip: assembled at the
node holding most of it, which fetches the other's segments from it; downloaded, it lasts the
range (within a segment; the failover's own seconds are kept as a hole, listed by ExportClip)
and decodes whole; the command line exports it and names the hole. When the other node vanishes
before a clip is assembled, the answer is a sentence naming it (from the node, and through the
command line), not a shorter clip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from camfleet.v1 import camera_pb2, recording_pb2

from harness.fleet import ADMIN_PASSWORD, Fleet, FleetTiming, running_fleet
from harness.fleet_reads import LOST, ONLINE, READY, cameras, create, node_ids, until
from harness.rtsp_source import rtsp_source
from tests.cli.cli_process import Cli
from tests.e2e.test_recording import ffprobe_duration
from tests.support.agent_node import FFMPEG, run
from tests.support.recordings import all_recordings
from tests.support.stack import ts

pytestmark = pytest.mark.timeout(600)

R = recording_pb2
TIMING = FleetTiming(heartbeat_s=1.0, lost_after_s=3.0, segment_s=2)
SETTLE_S = 90.0
# Segments each node records before the range is taken: the clip holds 4 of each.
ON_EACH = 6


async def test_a_clip_across_a_failover_exports_and_plays(tmp_path: Path) -> None:
    async with running_fleet(backend="sqlite", timing=TIMING) as fleet:
        with rtsp_source(
            fleet.root / "rtsp", host=fleet.host, size=(320, 180), fps=15, shared=False
        ) as src:
            for name in ("clip-a", "clip-b"):
                await fleet.add_node(name)
            await until(
                "2 nodes READY",
                fleet.node_states,
                lambda s: len(s) == 2 and all(n.state == READY for n in s.values()),
                SETTLE_S,
            )
            name_of = {v: k for k, v in (await node_ids(fleet)).items()}
            camera = await create(
                fleet,
                camera_pb2.Camera(
                    name="failover-cam",
                    ingest_mode=camera_pb2.INGEST_MODE_PULL,
                    source_url=src.url,
                    recording_enabled=True,
                ),
            )
            cams = await until(
                "the camera ONLINE",
                lambda: cameras(fleet),
                lambda c: c["failover-cam"].status == ONLINE and bool(c["failover-cam"].node_id),
                SETTLE_S,
            )
            first_id = cams["failover-cam"].node_id
            first = next(n for n in fleet.nodes if n.name == name_of[first_id])
            await _recorded_on(fleet, camera.id, first_id, ON_EACH)

            # Fail over: A vanishes, the camera moves to B; A comes back (it serves its part).
            fleet.cut(first)
            await until(
                f"{first.name} LOST", fleet.node_states, lambda s: s[first.name].state == LOST, 60
            )
            cams = await until(
                "the camera ONLINE on the other node",
                lambda: cameras(fleet),
                lambda c: (
                    c["failover-cam"].status == ONLINE
                    and c["failover-cam"].node_id not in ("", first_id)
                ),
                SETTLE_S,
            )
            second_id = cams["failover-cam"].node_id
            fleet.restore(first)
            await until(
                f"{first.name} READY again",
                fleet.node_states,
                lambda s: s[first.name].state == READY,
                SETTLE_S,
            )
            await _recorded_on(fleet, camera.id, second_id, ON_EACH)

            found = await _listed(fleet, camera.id)
            for r in found:
                print(
                    name_of.get(r.node_id, r.node_id),
                    r.start_time.ToDatetime(UTC).time(),
                    r.end_time.ToDatetime(UTC).time(),
                    r.size_bytes,
                )
            on_b = [r for r in found if r.node_id == second_id]
            took_over = on_b[0].start_time.ToDatetime(UTC)
            # A's segments before B took over (A may add some once back, before it hears the
            # camera moved: those overlap B's and are not fetched twice).
            on_a = [
                r
                for r in found
                if r.node_id == first_id
                and r.end_time.ToDatetime(UTC) <= took_over + timedelta(seconds=1)
            ]
            # From within A's fourth-last segment to within B's fourth.
            lo = on_a[-4].start_time.ToDatetime(UTC) + timedelta(seconds=0.5)
            hi = on_b[3].end_time.ToDatetime(UTC) - timedelta(seconds=0.5)
            clip = await fleet.recordings.ExportClip(
                R.ExportClipRequest(camera_id=camera.id, start_time=ts(lo), end_time=ts(hi)),
                metadata=fleet.admin,
                timeout=30,
            )
            assert "/spread/" in clip.url, clip.url
            covers = (
                clip.end_time.ToDatetime(UTC) - clip.start_time.ToDatetime(UTC)
            ).total_seconds()
            holes = [
                (h.start_time.ToDatetime(UTC), h.end_time.ToDatetime(UTC), h.reason)
                for h in clip.holes
            ]
            print(f"clip over {covers:.3f} s with holes {holes}: {clip.url}")

            # The command line exports it: it names the hole, and the file plays whole.
            cli = Cli(tmp_path / "cli")
            await cli.login(fleet.target, "admin", ADMIN_PASSWORD)
            path = tmp_path / "clip.mp4"
            exported = await cli.run(
                "recordings", "export", camera.id, "--start", lo.isoformat(),
                "--end", hi.isoformat(), "-O", str(path), "--no-progress",
                within_s=240,
            )  # fmt: skip
            print(exported.stdout.strip())
            assert exported.code == 0, f"{exported}\n{fleet.logs()}"
            assert "It has a hole from" in exported.stdout and "node lost" in exported.stdout, (
                exported.stdout
            )
            duration = await ffprobe_duration(str(path))
            print(f"clip: asked {covers:.3f} s, got {duration:.3f} s")
            assert abs(duration - covers) <= TIMING.segment_s, (duration, covers, holes)
            code, out = await run([FFMPEG, "-v", "error", "-i", str(path), "-f", "null", "-"], 120)
            assert code == 0 and not out.strip(), out

            # The other node vanishes before another clip is assembled: a sentence names it,
            # from the node itself and through the command line.
            assembler = clip.url.split("/exports/")[0]
            other = next(n for n in fleet.nodes if n.address not in assembler)
            lo2, hi2 = lo + timedelta(seconds=1), hi - timedelta(seconds=1)
            doomed = await fleet.recordings.ExportClip(
                R.ExportClipRequest(camera_id=camera.id, start_time=ts(lo2), end_time=ts(hi2)),
                metadata=fleet.admin,
                timeout=30,
            )
            assert "/spread/" in doomed.url
            fleet.cut(other)
            try:
                status, body = await _get(doomed.url)
                text = body.decode(errors="replace")
                print(f"with {other.name} cut: {status} {text.strip()}")
                assert status in (502, 503), (status, text)
                assert f"node {other.name}" in text and "could not be assembled" in text, text
                lo3 = lo2 + timedelta(seconds=0.5)
                failed = await cli.run(
                    "recordings", "export", camera.id, "--start", lo3.isoformat(),
                    "--end", hi2.isoformat(), "-O", str(tmp_path / "doomed.mp4"),
                    "--no-progress", within_s=240,
                )  # fmt: skip
                print(f"the command line: {failed.code} {failed.stderr.strip()}")
                assert failed.code != 0 and f"node {other.name}" in failed.stderr, failed
            finally:
                fleet.restore(other)


async def _listed(fleet: Fleet, camera_id: str) -> list[R.Recording]:
    now = datetime.now(UTC)
    return await all_recordings(
        fleet.recordings,
        R.ListRecordingsRequest(
            camera_id=camera_id, start_time=ts(now - timedelta(hours=1)), end_time=ts(now)
        ),
        fleet.admin,
    )


async def _recorded_on(fleet: Fleet, camera_id: str, node_id: str, count: int) -> None:
    await until(
        f"{count} segments indexed from node {node_id}",
        lambda: _listed(fleet, camera_id),
        lambda found: sum(1 for r in found if r.node_id == node_id) >= count,
        SETTLE_S,
    )


async def _get(url: str) -> tuple[int, bytes]:
    timeout = aiohttp.ClientTimeout(total=180)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url) as resp,
    ):
        return resp.status, await resp.read()
