"""Time from the README's first command to live video: `./start --demo N` (bootstrap included,
on a machine already set up, fresh data directory) until
  1. the launcher's ready line (`camfleet is up: …`),
  2. every demo camera ONLINE (polling ListCameras over gRPC),
  3. a browser (Debian's chromium via Playwright) logged in on the live grid with every demo
     tile's <video> playing (currentTime past 1 s).
The browser starts right after the ready line, as a person opening the printed URL would.

    .venv/bin/python -m bench.bench_start_to_live --demo 4 --runs 3

Ports are free loopback ports; everything started is stopped by PID (Ctrl-C to the launcher,
then SIGKILL to anything of its process tree still there) and the data directory is removed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import grpc
from camfleet.v1 import auth_pb2, auth_pb2_grpc, camera_pb2, camera_pb2_grpc
from playwright.sync_api import sync_playwright

from harness.processes import ROOT
from server.tls.ca import spki_sha256
from tests.support.local_platform import (
    Ports,
    newcomer_env,
    stop_launcher,
    wait_ready,
)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def poll_online(target: str, password: str, count: int, t0: float, out: dict[str, float]) -> None:
    """Record (in `out`) when all `count` cameras are first ONLINE."""
    with grpc.insecure_channel(target) as channel:
        login = auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=password), timeout=30
        )
        auth = (("authorization", f"Bearer {login.tokens.access_token}"),)
        cameras = camera_pb2_grpc.CameraServiceStub(channel)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            listed = cameras.ListCameras(camera_pb2.ListCamerasRequest(), metadata=auth, timeout=10)
            online = [c for c in listed.cameras if c.status == camera_pb2.CAMERA_STATUS_ONLINE]
            if len(online) >= count:
                out["online"] = time.monotonic() - t0
                return
            time.sleep(0.1)


def browse_until_live(
    url: str, password: str, count: int, t0: float, out: dict[str, float], edge_cert: Path
) -> None:
    """Log in, open the live grid, wait until `count` tiles play; records (in `out`) seconds
    since t0 at each step. The browser trusts the edge's certificate (made by this ./start in
    its data directory) by its key, as the browser tests do."""
    pin = f"--ignore-certificate-errors-spki-list={spki_sha256(edge_cert.read_bytes())}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[*CHROMIUM_ARGS, pin])
        try:
            out["browser up"] = time.monotonic() - t0
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            page.get_by_test_id("login-username").wait_for()
            out["login page"] = time.monotonic() - t0
            page.get_by_test_id("login-username").fill("admin")
            page.get_by_test_id("login-password").fill(password)
            page.get_by_test_id("login-submit").click()
            page.get_by_test_id("nav-live").click()
            page.locator('[data-testid="grid-tile"] video').nth(count - 1).wait_for()
            out["grid shown"] = time.monotonic() - t0
            page.wait_for_function(
                """(n) => [...document.querySelectorAll('[data-testid="grid-tile"] video')]
                    .filter(v => v.readyState >= 2 && v.currentTime > 1).length >= n""",
                arg=count,
                timeout=180_000,
                polling=100,
            )
            out["page live"] = time.monotonic() - t0
        finally:
            browser.close()


def one_run(demo: int, keep_log: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="camfleet-bench-start-") as tmp:
        data, log = Path(tmp) / "data", Path(tmp) / "start.log"
        ports = Ports()
        times: dict[str, float] = {}
        t0 = time.monotonic()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(ROOT / "start"), *ports.flags(data, demo)],
                cwd=ROOT,
                env=newcomer_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            url, password = wait_ready(proc, log, within_s=300)
            times["ready"] = time.monotonic() - t0
            poller = threading.Thread(
                target=poll_online, args=(f"127.0.0.1:{ports.listen}", password, demo, t0, times)
            )
            poller.start()
            browse_until_live(url, password, demo, t0, times, data / "tls" / "edge.pem")
            poller.join()
        finally:
            left = stop_launcher(proc)
            if left:
                print(f"  (killed survivors {left})")
            if keep_log:
                print(log.read_text())
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--show-log", action="store_true")
    args = parser.parse_args()
    print(f"./start --demo {args.demo}; load average {os.getloadavg()}, {os.cpu_count()} cores")
    for n in range(1, args.runs + 1):
        times = one_run(args.demo, args.show_log)
        shown = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(times.items(), key=lambda i: i[1]))
        print(f"run {n}: {shown}   (load average {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
