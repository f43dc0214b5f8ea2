"""`./start`'s launcher (scripts/local_platform.py) as a newcomer runs it: everything comes up
behind one URL (the UI, grpc-web and gRPC through Envoy, over TLS with a local CA made on the
first start and reused after; plain text with --plaintext on loopback only), `--demo N` cameras
go ONLINE and play, a dead demo publisher is restarted, and one Ctrl-C stops every process it
started."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
)

from harness.processes import ROOT, process_alive, process_tree, survivors_after
from server.tls.ca import ensure_certificate
from tests.support.envoy import running_envoy
from tests.support.grpc_web import grpc_web_call
from tests.support.local_platform import run_local_platform
from tests.support.platform import Metadata, bearer

UI_DIST = ROOT / "clients" / "web" / "dist"
# Each test starts the whole platform (two Python servers, nginx, Envoy, ffmpeg): on two busy
# cores that alone can take a minute.
pytestmark = pytest.mark.timeout(600)


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _role(argv: list[str]) -> str | None:
    """Which part of the platform a command line is (the setpriv wrapper execs, so argv is the
    program's own)."""
    joined = " ".join(argv)
    if "-m server.ui" in joined:
        return "ui server"
    if "-m server" in joined:
        return "control plane"
    if "-m node_agent" in joined:
        return "node agent"
    if argv and argv[0].startswith("nginx"):
        return "nginx"
    for name in ("envoy", "ffmpeg"):
        if argv and Path(argv[0]).name == name:
            return name
    return None


def _roles(pid: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for child in process_tree(pid):
        role = _role(_cmdline(child))
        if role:
            found.setdefault(role, []).append(child)
    return found


def _publishers(launcher: int, url: str) -> list[int]:
    """The demo ffmpeg publishing to `url`: a child of the launcher (the node's recorders read
    the same RTMP URL, but are the agent's children)."""
    found = []
    for pid in _roles(launcher).get("ffmpeg", []):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if parent == launcher and _cmdline(pid)[-1:] == [url]:
            found.append(pid)
    return found


def _get(url: str, ca: Path | None = None) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    with urllib.request.urlopen(url, timeout=10, context=context) as resp:
        return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()


async def _admin(channel: grpc.aio.Channel, password: str) -> Metadata:
    login = await auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(username="admin", password=password), timeout=10
    )
    return bearer(login.tokens.access_token)


async def _admin_at(target: str, password: str) -> Metadata:
    async with grpc.aio.insecure_channel(target) as channel:
        return await _admin(channel, password)


async def _wait_gone(pid: int, start: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while process_alive(pid, start):
        assert time.monotonic() < deadline, f"pid {pid} still there after {within_s}s"
        await asyncio.sleep(0.05)


async def test_start_serves_everything_on_one_url_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    assert (UI_DIST / "index.html").exists(), "the UI is not built: ./start and ./test build it"
    with run_local_platform(tmp_path, demo=1) as lp:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+/", lp.url)
        roles = _roles(lp.pid)
        for role in ("control plane", "node agent", "nginx", "envoy", "ui server", "ffmpeg"):
            assert role in roles, (role, roles)
        # The first start made the local CA (its key owner-only) and Envoy's certificate.
        tls = lp.data_dir / "tls"
        assert lp.ca_path == tls / "ca.pem"
        for key in ("ca-key.pem", "edge-key.pem"):
            assert stat.S_IMODE((tls / key).stat().st_mode) == 0o600, key
        assert f"trust {lp.ca_path}" in lp.log_text()

        # The browser's first requests: the app and its bundle, through Envoy over TLS, the
        # certificate verified against the local CA.
        status, headers, body = await asyncio.to_thread(_get, lp.url, lp.ca_path)
        assert status == 200 and headers["cache-control"] == "no-cache"
        assert headers["strict-transport-security"] == "max-age=31536000"
        assert headers["content-type"].startswith("text/html")
        asset = re.search(rb'src="/(assets/[^"]+\.js)"', body)
        assert asset, body[:500]
        status, headers, script = await asyncio.to_thread(
            _get, lp.url + asset[1].decode(), lp.ca_path
        )
        assert status == 200 and script
        assert headers["content-type"].startswith("text/javascript")
        assert "immutable" in headers["cache-control"]

        # grpc-web (the UI's transport) and plain gRPC on that same port.
        port = int(lp.url.rstrip("/").rsplit(":", 1)[1])
        login = auth_pb2.LoginRequest(username="admin", password=lp.admin_password)
        _, _, frames, trailers = await asyncio.to_thread(
            lambda: grpc_web_call(
                port, "/camfleet.v1.AuthService/Login", login.SerializeToString(), {}, ca=lp.ca_path
            )
        )
        assert trailers.get("grpc-status") == "0", trailers
        assert auth_pb2.LoginResponse.FromString(frames[0]).tokens.access_token
        async with lp.edge_channel() as channel:
            auth = await _admin(channel, lp.admin_password)
            cameras = await camera_pb2_grpc.CameraServiceStub(channel).ListCameras(
                camera_pb2.ListCamerasRequest(), metadata=auth, timeout=10
            )
            urls = await camera_pb2_grpc.CameraServiceStub(channel).GetStreamUrls(
                camera_pb2.GetStreamUrlsRequest(id=cameras.cameras[0].id), metadata=auth, timeout=10
            )
        assert [c.name for c in cameras.cameras] == ["Demo 1"]
        # The node joined over mutual TLS with a key made on it, and serves HLS over HTTPS.
        node_dir = lp.data_dir / "node"
        assert stat.S_IMODE((node_dir / "node-key.pem").stat().st_mode) == 0o600
        assert (node_dir / "node-cert.pem").exists()
        assert urls.hls_playback_url.startswith("https://127.0.0.1:"), urls

        # A second Envoy (here the tests') runs beside ./start's: no hot-restart clash.
        control_plane = ("127.0.0.1", int(lp.grpc_target.rsplit(":", 1)[1]))
        async with running_envoy([control_plane], tmp_path) as second:
            assert await _admin_at(f"127.0.0.1:{second}", lp.admin_password)

        tree = process_tree(lp.pid)
        launcher_start = tree[lp.pid]
        os.kill(lp.pid, signal.SIGINT)
        await _wait_gone(lp.pid, launcher_start, within_s=30)
        assert await survivors_after(tree, within_s=5) == []
    assert "Traceback" not in lp.log_text()


async def _watch_until_online(
    channel: grpc.aio.Channel, auth: Metadata, names: list[str], within_s: float
) -> dict[str, camera_pb2.Camera]:
    """Follow WatchEvents (from the revision of a list) until every camera in `names` is
    ONLINE; the cameras as last seen."""
    cameras = camera_pb2_grpc.CameraServiceStub(channel)
    listed = await cameras.ListCameras(camera_pb2.ListCamerasRequest(), metadata=auth, timeout=10)
    seen = {c.name: c for c in listed.cameras}
    online = camera_pb2.CAMERA_STATUS_ONLINE

    def done() -> bool:
        return all(n in seen and seen[n].status == online for n in names)

    if done():
        return seen
    watch = event_pb2_grpc.EventServiceStub(channel).WatchEvents(
        event_pb2.WatchEventsRequest(after_revision=listed.revision),
        metadata=auth,
    )
    try:
        async with asyncio.timeout(within_s):
            async for resp in watch:
                if resp.event.HasField("camera"):
                    seen[resp.event.camera.name] = resp.event.camera
                if done():
                    return seen
    finally:
        watch.cancel()
    raise AssertionError(f"not all ONLINE: { {n: c.status for n, c in seen.items()} }")


async def test_demo_cameras_go_online_play_and_follow_restarts_rotations_and_deletes(
    tmp_path: Path,
) -> None:
    # --plaintext: the development mode on loopback, plain HTTP and gRPC at Envoy.
    with run_local_platform(tmp_path, demo=2, plaintext=True) as lp:
        assert lp.url.startswith("http://")
        assert not (lp.data_dir / "tls").exists()
        assert await _admin_at(lp.envoy_target, lp.admin_password)
        async with grpc.aio.insecure_channel(lp.grpc_target) as channel:
            auth = await _admin(channel, lp.admin_password)
            seen = await _watch_until_online(channel, auth, ["Demo 1", "Demo 2"], within_s=90)
            assert sorted(seen) == ["Demo 1", "Demo 2"]
            assert all(c.recording_enabled for c in seen.values())

            stub = camera_pb2_grpc.CameraServiceStub(channel)
            demo1 = seen["Demo 1"]
            urls = await stub.GetStreamUrls(
                camera_pb2.GetStreamUrlsRequest(id=demo1.id), metadata=auth, timeout=10
            )
            assert urls.hls_playback_url.startswith(lp.hls_base_url)
            # Cameras publish to the fleet ingest (Envoy's RTMP proxy), not to the node itself.
            assert urls.rtmp_publish_url == f"{lp.rtmp_url}/{demo1.stream_key}"
            playlist = await _eventually_fetch(urls.hls_playback_url, within_s=30)
            assert playlist.startswith(b"#EXTM3U"), playlist[:200]

            # Kill Demo 1's publisher: the launcher starts another, and the camera comes back.
            (victim,) = _publishers(lp.pid, urls.rtmp_publish_url)
            victim_start = process_tree(lp.pid)[victim]
            killed_at = time.time()
            os.kill(victim, signal.SIGKILL)
            await _wait_gone(victim, victim_start, within_s=10)
            deadline = time.monotonic() + 30
            while not [p for p in _publishers(lp.pid, urls.rtmp_publish_url) if p != victim]:
                assert time.monotonic() < deadline, "the dead publisher was not restarted"
                await asyncio.sleep(0.1)
            await _online_again(stub, auth, demo1.id, since=killed_at)

            # Rotating Demo 2's key drops its publisher; the launcher restarts it with the new key.
            demo2 = seen["Demo 2"]
            rotated_at = time.time()
            await stub.RotateStreamKey(
                camera_pb2.RotateStreamKeyRequest(id=demo2.id), metadata=auth, timeout=10
            )
            new_url = (
                await stub.GetStreamUrls(
                    camera_pb2.GetStreamUrlsRequest(id=demo2.id), metadata=auth, timeout=10
                )
            ).rtmp_publish_url
            # Waited for first: Demo 2 may have gone ONLINE less than a second before the
            # rotation, which _online_again's slack would count as "again".
            deadline = time.monotonic() + 30
            while not _publishers(lp.pid, new_url):
                assert time.monotonic() < deadline, "the publisher did not take the new key"
                await asyncio.sleep(0.1)
            await _online_again(stub, auth, demo2.id, since=rotated_at)

            # A deleted demo camera's publisher stops instead of knocking forever.
            await stub.DeleteCamera(
                camera_pb2.DeleteCameraRequest(id=demo1.id), metadata=auth, timeout=10
            )
            deadline = time.monotonic() + 60
            while "Demo 1 was deleted" not in lp.log_text():
                assert time.monotonic() < deadline, "the launcher did not notice the deletion"
                await asyncio.sleep(0.2)
            assert not _publishers(lp.pid, urls.rtmp_publish_url)
    log = lp.log_text()
    assert "restarting" in log
    assert "Demo 2 has a new stream key" in log


async def _online_again(
    stub: camera_pb2_grpc.CameraServiceStub, auth: Metadata, camera_id: str, since: float
) -> None:
    """Until the camera is ONLINE by a status change after `since` (a Unix time)."""
    deadline = time.monotonic() + 60
    while True:
        got = await stub.GetCamera(
            camera_pb2.GetCameraRequest(id=camera_id), metadata=auth, timeout=10
        )
        changed = got.camera.status_change_time.ToMilliseconds() / 1000
        if got.camera.status == camera_pb2.CAMERA_STATUS_ONLINE and changed > since - 1:
            return
        assert time.monotonic() < deadline, got.camera
        await asyncio.sleep(0.2)


async def _eventually_fetch(url: str, within_s: float) -> bytes:
    """The body of `url` once it answers 200 (live HLS needs its first segment first)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            status, _, body = await asyncio.to_thread(_get, url)
            if status == 200:
                return body
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200 in {within_s}s"
        await asyncio.sleep(0.5)


async def test_a_second_start_shows_the_same_password_and_node(tmp_path: Path) -> None:
    with run_local_platform(tmp_path) as first:
        kept = first.data_dir / "admin-password"
        assert kept.read_text().strip() == first.admin_password
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        tls = first.data_dir / "tls"
        made = {name: (tls / name).read_bytes() for name in ("ca.pem", "edge.pem")}
    with run_local_platform(tmp_path) as again:
        assert again.admin_password == first.admin_password
        # The same CA and certificate: a browser or client told to trust them still does.
        assert {name: (tls / name).read_bytes() for name in made} == made
        async with again.edge_channel() as channel:
            auth = await _admin(channel, again.admin_password)
            deadline = time.monotonic() + 60
            while True:
                nodes = await node_pb2_grpc.NodeServiceStub(channel).ListNodes(
                    node_pb2.ListNodesRequest(), metadata=auth, timeout=10
                )
                states = [(n.name, n.state) for n in nodes.nodes]
                if states == [("local", node_pb2.NODE_STATE_READY)]:
                    break
                assert time.monotonic() < deadline, states
                await asyncio.sleep(0.2)


def test_the_readme_command_offers_the_demo_and_ports() -> None:
    """`./start --help` (bootstrap, then the launcher) lists what the README documents."""
    done = subprocess.run(
        [str(ROOT / "start"), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for flag in (
        "--demo",
        "--envoy-listen",
        "--listen",
        "--rtmp-listen",
        "--http-listen",
        "--plaintext",
        "--tls-cert",
        "--tls-key",
        "--tls-ca",
    ):
        assert flag in done.stdout
    assert "--data-dir" in done.stdout


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--plaintext", "--envoy-listen", "0.0.0.0:1"], "--plaintext is for loopback only"),
        (["--tls-cert", "/nonexistent/cert.pem"], "--tls-cert and --tls-key go together"),
    ],
)
def test_plain_text_beyond_loopback_and_half_a_certificate_are_refused(
    tmp_path: Path, flags: list[str], says: str
) -> None:
    """Refused before anything starts, with the reason."""
    done = subprocess.run(
        [sys.executable, "scripts/local_platform.py", "--data-dir", str(tmp_path), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert not (tmp_path / "tls").exists()


def test_an_operators_certificate_that_is_not_its_keys_is_refused(tmp_path: Path) -> None:
    mine = ensure_certificate(tmp_path / "mine", ["cams.example"])
    other = ensure_certificate(tmp_path / "other", ["cams.example"])
    done = subprocess.run(
        [
            sys.executable,
            "scripts/local_platform.py",
            "--data-dir",
            str(tmp_path / "data"),
            "--tls-cert",
            str(mine.cert),
            "--tls-key",
            str(other.key),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert f"{other.key} is not the private key of the certificate {mine.cert}" in done.stderr
