"""Glass-to-glass latency of live video, WebRTC (WHEP) against HLS, in Debian's chromium.

A publisher (ffmpeg, 640x360 at 25 fps, x264 ultrafast/zerolatency, a keyframe a second, as a
camera sends) burns the wall clock into every frame as it is made: 32 black/white blocks along
the top, block i = bit i of the time in milliseconds (geq over `setpts=RTCTIME`, so each frame
carries the moment it passed the filter). It publishes to a real node (control plane + node
agent + nginx-rtmp, `tests.support.stack`); chromium plays the camera's signed URLs from the
control plane, and a page reads the blocks back from a canvas for every frame presented
(requestVideoFrameCallback), subtracting them from the frame's expected display time. Same
host, same clock: no synchronisation error.

Baseline, measured in the same run: the publisher's own output decoded directly (a second
output of the same ffmpeg over loopback UDP, decoded by PyAV) — encoding and decoding with no
server, no network protocol and no player in between.

    .venv/bin/python -m bench.bench_latency [--seconds 20] [--warmup 5] [--viewers 10]

Then the node's CPU with 1 and with --viewers aiortc viewers (the agent, the feed's ffmpeg)
beside nginx-rtmp's own for the same stream in the same window.

Targets (issue 15): WebRTC p50/p95 <= 500 ms, HLS <= 4 s. Everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

import av
from aiohttp import web
from camfleet.v1 import camera_pb2
from playwright.async_api import Page, async_playwright

from harness.cpu import cpu_seconds
from harness.ports import free_port
from harness.processes import ROOT, process_tree, stop_by_pid
from tests.support.stack import Stack, running_stack
from tests.support.whep_client import Viewer, delete

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    # The node offers loopback ICE candidates only; chromium must gather loopback too, and
    # without mDNS names (multicast), so every packet stays on this host.
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
HLS_JS = ROOT / "clients/web/node_modules/hls.js/dist/hls.min.js"
BITS, BLOCK_W, ROW_Y = 32, 20, 12
STAMP = (
    "[0:v]settb=AVTB,setpts=RTCTIME,split[a][b];"
    "[b]scale=32:2,format=gray,"
    "geq=lum='if(mod(floor(T*1000/pow(2\\,X))\\,2)\\,255\\,0)',"
    "scale=640:24:flags=neighbor,format=yuv420p[s];"
    "[a][s]overlay=0:0,setpts=N/25/TB[v]"
)
PAGE = """\
<!doctype html>
<!-- bench_latency.py's player: plays a camera over WebRTC (WHEP, H.264 preferred, as the UI's
     single view) or HLS (hls.js with the UI tiles' settings) and reads the wall-clock stamp the
     publisher burned into every frame (32 blocks along the top, bit i = ms bit i, LSB left). -->
<html>
  <head><script src="/hls.min.js"></script></head>
  <body>
    <video id="v" muted playsinline autoplay></video>
    <canvas id="c"></canvas>
    <script>
      const video = document.getElementById("v");
      const canvas = document.getElementById("c");
      window.samples = [];
      window.failure = "";

      async function startWebRTC(url) {
        const pc = new RTCPeerConnection({ iceServers: [] });
        const t = pc.addTransceiver("video", { direction: "recvonly" });
        t.setCodecPreferences(
          RTCRtpReceiver.getCapabilities("video").codecs.filter(
            (c) => c.mimeType.toLowerCase() === "video/h264",
          ),
        );
        pc.ontrack = (e) => {
          video.srcObject = new MediaStream([e.track]);
          video.play().catch(() => {});
        };
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise((resolve) => {
          if (pc.iceGatheringState === "complete") resolve();
          pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
          setTimeout(resolve, 2000);
        });
        const resp = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/sdp" },
          body: pc.localDescription.sdp,
        });
        const body = await resp.text();
        if (resp.status !== 201) throw new Error(`WHEP ${resp.status}: ${body}`);
        await pc.setRemoteDescription({ type: "answer", sdp: body });
        window.pc = pc;
      }

      function startHls(url) {
        const h = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 2 });
        h.loadSource(url);
        h.attachMedia(video);
        video.play().catch(() => {});
      }

      function sample() {
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        const onFrame = (now, meta) => {
          const w = video.videoWidth;
          const h = video.videoHeight;
          if (w && h) {
            canvas.width = w;
            canvas.height = h;
            ctx.drawImage(video, 0, 0);
            const row = ctx.getImageData(0, Math.round((12 * h) / 360), w, 1).data;
            let stamp = 0;
            for (let b = 0; b < 32; b++) {
              const x = Math.round(((b * 20 + 10) * w) / 640);
              if (row[x * 4] > 128) stamp += 2 ** b;
            }
            const shown = Math.round(performance.timeOrigin + meta.expectedDisplayTime);
            let late = (((shown % 2 ** 32) - stamp) % 2 ** 32 + 2 ** 32) % 2 ** 32;
            if (late > 2 ** 31) late -= 2 ** 32;
            window.samples.push(late);
          }
          video.requestVideoFrameCallback(onFrame);
        };
        video.requestVideoFrameCallback(onFrame);
      }
      sample();
    </script>
  </body>
</html>
"""


def publisher_argv(rtmp_url: str, udp_port: int) -> list[str]:
    """The stamping publisher: to the node over RTMP and, for the baseline, to loopback UDP."""
    outputs = f"[f=flv]{rtmp_url}|[f=mpegts]udp://127.0.0.1:{udp_port}?pkt_size=1316"
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-filter_complex", STAMP, "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
        "-flags", "+global_header", "-f", "tee", outputs,
    ]  # fmt: skip


def start_publisher(argv: list[str]) -> subprocess.Popen[bytes]:
    """The publisher in the background (its errors to this terminal)."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def stamp_of(frame: av.VideoFrame) -> int:
    """The milliseconds (mod 2^32) burned into a decoded frame."""
    plane = frame.planes[0]
    row = bytes(plane)[ROW_Y * plane.line_size : (ROW_Y + 1) * plane.line_size]
    return sum(1 << b for b in range(BITS) if row[b * BLOCK_W + BLOCK_W // 2] > 128)


def late_ms(now_ms: int, stamp: int) -> int:
    """How long after its stamp a frame was seen (the stamp wraps every 2^32 ms)."""
    late = (now_ms - stamp) % (1 << 32)
    return late - (1 << 32) if late > (1 << 31) else late


def decode_baseline(udp_port: int, out: list[int], stop: threading.Event) -> None:
    """Decode the publisher's UDP copy, recording each frame's lateness (a thread)."""
    url = f"udp://127.0.0.1:{udp_port}?timeout=20000000&fifo_size=100000&overrun_nonfatal=1"
    with av.open(url, format="mpegts", options={"fflags": "nobuffer"}) as container:
        for frame in container.decode(video=0):
            out.append(late_ms(int(time.time() * 1000), stamp_of(frame)))
            if stop.is_set():
                return


async def serve_page() -> tuple[web.AppRunner, str]:
    """The player page and hls.js on a loopback port (the node's CORS lets it reach the node)."""
    app = web.Application()
    app.router.add_get("/", lambda _: web.Response(text=PAGE, content_type="text/html"))
    app.router.add_get("/hls.min.js", lambda _: web.FileResponse(HLS_JS))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/"


async def measure(page: Page, start: str, url: str, warmup_s: float, seconds: float) -> list[int]:
    """Start playback with `start(url)` in the page; the lateness of each frame shown in the
    `seconds` after `warmup_s` seconds of frames."""
    await page.evaluate(f"url => {start}(url)", url)
    deadline = time.monotonic() + 90
    while await page.evaluate("window.samples.length") == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{start}: no frame within 90 s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(warmup_s)
    await page.evaluate("window.samples = []")
    await asyncio.sleep(seconds)
    samples: list[int] = await page.evaluate("window.samples")
    return samples


def summary(name: str, samples: list[int], target_ms: float | None) -> str:
    """p50, p95 and max of the plausible samples (a misread stamp is off by hours)."""
    good = sorted(s for s in samples if -1000 < s < 60_000)
    if len(good) < 10:
        return f"{name:<28} too few frames read ({len(good)} of {len(samples)})"
    p50, p95 = statistics.median(good), good[int(0.95 * (len(good) - 1))]
    verdict = (
        ""
        if target_ms is None
        else (f"   target <= {target_ms:.0f} ms: {'met' if p95 <= target_ms else 'MISSED'} (p95)")
    )
    return (
        f"{name:<28} p50 {p50:7.0f} ms  p95 {p95:7.0f} ms  max {good[-1]:7.0f} ms  "
        f"frames {len(good):4d} (unread {len(samples) - len(good)}){verdict}"
    )


async def camera_urls(stack: Stack) -> tuple[str, camera_pb2.GetStreamUrlsResponse]:
    """A new camera's stream key and its signed URLs."""
    camera = await stack.new_camera(f"latency-{os.getpid()}")
    urls = await stack.cameras.GetStreamUrls(
        camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=stack.admin
    )
    return camera.stream_key, urls


async def viewer_cost(stack: Stack, url: str, viewers: int, window_s: float) -> str:
    """CPU of the agent (aiortc in its event loop) and of the camera's feed ffmpeg over
    `window_s`, with `viewers` aiortc viewers watching, beside nginx-rtmp's for the same stream
    in the same window (its cost of carrying the camera at all)."""
    assert stack.agent is not None
    watching = [Viewer(url) for _ in range(viewers)]
    try:
        for viewer in watching:
            await viewer.connect()
        for viewer in watching:
            await viewer.until_frames(25)
        agent = [stack.agent.pid]
        feeds = [p for p in process_tree(stack.agent.pid) if p != stack.agent.pid]
        nginx = list(process_tree(stack.nginx_pid()))
        before = [cpu_seconds(pids) for pids in (agent, feeds, nginx)]
        frames = sum(v.frames for v in watching)
        await asyncio.sleep(window_s)
        after = [cpu_seconds(pids) for pids in (agent, feeds, nginx)]
        fps = (sum(v.frames for v in watching) - frames) / window_s / viewers
    finally:
        for viewer in watching:
            if viewer.location:
                await delete(viewer.session_url())
            await viewer.close()
    agent_c, feed_c, nginx_c = ((a - b) / window_s for a, b in zip(after, before, strict=True))
    return (
        f"{viewers:3d} WebRTC viewer(s): agent {agent_c:5.2f} cores "
        f"({agent_c / viewers:5.3f} per viewer), feed ffmpeg {feed_c:5.3f}, "
        f"nginx-rtmp {nginx_c:5.3f} (baseline), {fps:4.1f} fps per viewer"
    )


async def run(seconds: float, warmup_s: float, viewers: int) -> None:
    async with running_stack("sqlite") as stack:
        key, urls = await camera_urls(stack)
        udp_port = free_port()
        baseline: list[int] = []
        stop = threading.Event()
        decoder = threading.Thread(target=decode_baseline, args=(udp_port, baseline, stop))
        decoder.start()
        publisher = start_publisher(publisher_argv(stack.rtmp_url(key), udp_port))
        runner, page_url = await serve_page()
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    results = {}
                    for name, start, url in (
                        ("WebRTC (WHEP)", "startWebRTC", urls.whep_url),
                        ("HLS (hls.js, UI settings)", "startHls", urls.hls_playback_url),
                    ):
                        page = await browser.new_page()
                        await page.goto(page_url)
                        results[name] = await measure(page, start, url, warmup_s, seconds)
                        await page.close()
                    mark = len(baseline)
                    costs = [
                        await viewer_cost(stack, urls.whep_url, n, seconds)
                        for n in sorted({1, viewers})
                    ]
                    direct = baseline[mark:]
                finally:
                    await browser.close()
        finally:
            stop.set()
            stop_by_pid(publisher, grace_s=5)
            await asyncio.to_thread(decoder.join, 30)
            await runner.cleanup()
    load = os.getloadavg()
    print(f"\nglass-to-glass latency, 640x360 25 fps, GOP 1 s, {seconds:.0f} s per transport "
          f"after {warmup_s:.0f} s of play; load average {load[0]:.2f} {load[1]:.2f}")  # fmt: skip
    print(summary("baseline: encode+decode", direct, None))
    print(summary("WebRTC (WHEP)", results["WebRTC (WHEP)"], 500))
    print(summary("HLS (hls.js, UI settings)", results["HLS (hls.js, UI settings)"], 4000))
    print("\ncost of WebRTC viewers on the node (the viewers decode in this process):")
    for line in costs:
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sampling per transport")
    parser.add_argument("--warmup", type=float, default=5.0, help="play before sampling")
    parser.add_argument("--viewers", type=int, default=10, help="viewers for the CPU cost")
    args = parser.parse_args()
    assert Path(CHROMIUM).exists(), "chromium is missing"
    asyncio.run(run(args.seconds, args.warmup, args.viewers))


if __name__ == "__main__":
    main()
