"""The single-camera view in Chromium plays over WebRTC (WHEP through the node agent, H.264
passthrough) and says so; when WebRTC cannot be had (the node is at its session limit, one
viewer here) a second viewer's page falls back to HLS by itself and says why.

Chromium gathers no loopback ICE candidates unless told to, and hides its addresses behind
mDNS names (multicast); the platform runs on loopback, so the browser is told to use loopback
and plain addresses, which keeps every packet on this host."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from camfleet.v1 import camera_pb2, camera_pb2_grpc
from playwright.sync_api import Browser, Page, expect, sync_playwright

from harness.processes import ROOT, stop_by_pid
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, EdgeTls, screenshot
from tests.browser.helpers import admin_rpc, log_in, publish, video_advances
from tests.support.local_platform import LocalPlatform, run_local_platform

pytestmark = pytest.mark.timeout(400)

WEBRTC_ARGS = [
    *CHROMIUM_ARGS,
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture(scope="module")
def local_platform(
    tmp_path_factory: pytest.TempPathFactory, edge_tls: EdgeTls
) -> Iterator[LocalPlatform]:
    """`./start` whose node serves one WebRTC viewer at a time (the second gets 503)."""
    assert (ROOT / "clients/web/dist/index.html").exists(), "build the UI: npm run build"
    previous = os.environ.get("CAMFLEET_WEBRTC_MAX_SESSIONS")
    os.environ["CAMFLEET_WEBRTC_MAX_SESSIONS"] = "1"
    try:
        with run_local_platform(
            tmp_path_factory.mktemp("platform"), demo=0, tls_dir=edge_tls.tls_dir
        ) as platform:
            yield platform
    finally:
        if previous is None:
            os.environ.pop("CAMFLEET_WEBRTC_MAX_SESSIONS", None)
        else:
            os.environ["CAMFLEET_WEBRTC_MAX_SESSIONS"] = previous


@pytest.fixture(scope="module")
def browser(edge_tls: EdgeTls) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: the README's commands install it"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=[*WEBRTC_ARGS, *edge_tls.chromium_args]
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def camera(local_platform: LocalPlatform) -> Iterator[str]:
    """A camera publishing a test pattern (H.264, no B-frames, a keyframe a second)."""
    with admin_rpc(local_platform) as (channel, admin):
        created = camera_pb2_grpc.CameraServiceStub(channel).CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name="webrtc-door")),
            metadata=admin,
            timeout=30,
        )
    proc: subprocess.Popen[bytes] = publish(
        f"{local_platform.rtmp_url}/{created.camera.stream_key}"
    )
    try:
        yield created.camera.id
    finally:
        stop_by_pid(proc, grace_s=5)


def _open_single_view(page: Page, platform: LocalPlatform, camera_id: str) -> None:
    log_in(page, platform.url, "admin", platform.admin_password)
    page.get_by_test_id("nav-live").click()
    page.get_by_test_id("layout-picker").get_by_text("1", exact=True).click()
    expect(page.get_by_test_id("grid")).to_have_attribute("data-layout", "1")
    tile = page.get_by_test_id("grid-tile")
    expect(tile).to_have_attribute("data-camera-id", camera_id)
    expect(tile).to_have_attribute("data-status", "ONLINE", timeout=90_000)


def test_the_single_view_plays_over_webrtc_and_falls_back_to_hls_when_refused(
    browser: Browser, local_platform: LocalPlatform, camera: str
) -> None:
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    second = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = first.new_page()
        _open_single_view(page, local_platform, camera)
        single = page.get_by_test_id("live-single")
        expect(single).to_have_attribute("data-transport", "webrtc", timeout=60_000)
        expect(page.get_by_test_id("live-transport")).to_have_text("WebRTC")
        video_advances(page, '[data-testid="webrtc-video"]', by_s=2.0)
        # Still WebRTC after it played: no fallback happened along the way.
        expect(single).to_have_attribute("data-transport", "webrtc")
        assert page.evaluate(
            """() => {
                const v = document.querySelector('[data-testid="webrtc-video"]');
                return v.srcObject instanceof MediaStream && v.videoWidth === 640;
            }"""
        )
        screenshot(page, "webrtc-single-view")
        # Sound: offered (the node sends the camera's audio as Opus), off until asked for.
        sound = page.get_by_test_id("webrtc-sound")
        expect(sound).to_have_text("Sound on")
        sound.click()
        expect(sound).to_have_text("Sound off")
        assert page.evaluate(
            """() => {
                const v = document.querySelector('[data-testid="webrtc-video"]');
                return !v.muted && v.srcObject.getAudioTracks().length === 1;
            }"""
        )

        # The node serves one WebRTC viewer: the second page is refused and plays HLS.
        other = second.new_page()
        _open_single_view(other, local_platform, camera)
        fallback = other.get_by_test_id("live-single")
        expect(fallback).to_have_attribute("data-transport", "hls", timeout=60_000)
        expect(other.get_by_test_id("live-transport")).to_have_text("HLS")
        expect(other.get_by_test_id("webrtc-fallback-reason")).to_contain_text(
            "already serves 1 WebRTC viewers"
        )
        video_advances(other, '[data-testid="grid-tile"] video', by_s=2.0, timeout_ms=90_000)
        screenshot(other, "webrtc-fallback-hls")

        # The first viewer still plays over WebRTC meanwhile.
        video_advances(page, '[data-testid="webrtc-video"]', by_s=1.0)
        expect(single).to_have_attribute("data-transport", "webrtc")
    finally:
        first.close()
        second.close()
