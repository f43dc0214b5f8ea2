"""A recording whose segments moved to the cold tier plays in the UI (issue 15: "download, VOD
and clip export from there work", and every capability works from the UI).

The VOD playlist lists each segment at its node, which answers 302 to a short-lived presigned
URL of the object store (node_agent/recording_http.py); hls.js follows it with XHR, a
cross-origin read that the store must allow (CORS) and the UI's CSP must let through
(CAMFLEET_UI_MEDIA_ORIGINS names the store). The store is a real `rclone serve s3` with SigV4,
which allows any origin on every authenticated answer. A bucket without a CORS rule (S3's
default) is that store behind a proxy dropping the Access-Control-* headers: the player then
says why it cannot play instead of staying black, and the proxy sees the request's Origin
header, `null` after the node's redirect to another origin (so a CORS rule naming only the
UI's origin would not match)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from camfleet.v1 import (
    camera_pb2,
    camera_pb2_grpc,
    recording_pb2,
    recording_pb2_grpc,
    settings_pb2,
    settings_pb2_grpc,
)
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from playwright.sync_api import Page, Response, expect

from harness.object_store import ObjectStore
from harness.ports import LOOPBACK, free_port
from harness.processes import ROOT
from tests.browser.conftest import EdgeTls, screenshot
from tests.browser.helpers import admin_rpc, log_in, publish, video_advances, wait_for
from tests.support.local_platform import LocalPlatform, run_local_platform

pytestmark = pytest.mark.timeout(600)

BUCKET = "camfleet-cold"
CAMERA = "cold-porch"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    served = ObjectStore(tmp_path_factory.mktemp("cold") / "s3")
    served.start()
    served.bucket(BUCKET)
    try:
        yield served
    finally:
        served.stop()


class NoCors:
    """The store as a bucket without a CORS rule answers: a loopback proxy in front of it that
    forwards each request as it came (Host included, so presigned signatures still match) and
    drops the Access-Control-* headers from the answer (`rclone serve s3` sends
    `Access-Control-Allow-Origin: *` on every authenticated answer, whatever --allow-origin
    says). It notes each request's Origin header."""

    def __init__(self, store: ObjectStore) -> None:
        self.port = free_port()
        self.origins: list[str] = []
        seen = self.origins

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.headers.get("Origin", ""))
                upstream = http.client.HTTPConnection(LOOPBACK, store.port, timeout=30)
                upstream.request("GET", self.path, headers=dict(self.headers.items()))
                answer = upstream.getresponse()
                body = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if not name.lower().startswith("access-control-") and name.lower() not in (
                        "content-length",
                        "connection",
                        "date",
                        "server",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@pytest.fixture(scope="module")
def no_cors(store: ObjectStore) -> Iterator[NoCors]:
    proxy = NoCors(store)
    proxy.thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        proxy.thread.join(10)


@pytest.fixture(scope="module")
def local_platform(
    tmp_path_factory: pytest.TempPathFactory,
    edge_tls: EdgeTls,
    store: ObjectStore,
    no_cors: NoCors,
) -> Iterator[LocalPlatform]:
    """`./start` whose UI may fetch media from the store too, recording 2 s segments."""
    assert (ROOT / "clients/web/dist/index.html").exists(), "build the UI: npm run build"
    with run_local_platform(
        tmp_path_factory.mktemp("platform"),
        tls_dir=edge_tls.tls_dir,
        media_origins=(store.endpoint, no_cors.endpoint),
        env={"CAMFLEET_SEGMENT_SECONDS": "2"},
    ) as platform:
        yield platform


def tiers(platform: LocalPlatform, camera_id: str) -> list[int]:
    with admin_rpc(platform) as (channel, auth):
        listed = recording_pb2_grpc.RecordingServiceStub(channel).ListRecordings(
            recording_pb2.ListRecordingsRequest(camera_id=camera_id, page_size=1000),
            metadata=auth,
            timeout=30,
        )
    return [r.tier for r in listed.recordings]


def set_cold_endpoint(
    platform: LocalPlatform, endpoint: str, store: ObjectStore | None = None
) -> None:
    """The cold tier's settings: `store`'s bucket and keys (segments move after 1 s), or only
    another endpoint for the same store."""
    with admin_rpc(platform) as (channel, auth):
        service = settings_pb2_grpc.SettingsServiceStub(channel)
        current = service.GetSettings(settings_pb2.GetSettingsRequest(), metadata=auth, timeout=30)
        storage = settings_pb2.StorageSettings(cold_endpoint=endpoint)
        paths = ["cold_endpoint"]
        if store is not None:
            storage.cold_bucket = BUCKET
            storage.cold_prefix = "site-a/"
            storage.cold_access_key = store.access_key
            storage.cold_secret_key = store.secret_key
            storage.cold_after.CopyFrom(Duration(seconds=1))
            storage.cold_region = "us-east-1"
            paths += ["cold_bucket", "cold_prefix", "cold_access_key", "cold_secret_key"]
            paths += ["cold_after", "cold_region"]
        service.UpdateSettings(
            settings_pb2.UpdateSettingsRequest(
                storage=storage,
                update_mask=FieldMask(paths=paths),
                version=current.settings.storage.revision.version,
            ),
            metadata=auth,
            timeout=30,
        )


def recorded_then_cold(platform: LocalPlatform, store: ObjectStore) -> None:
    """A camera records ~12 s, then the cold tier is configured and every segment moves."""
    with admin_rpc(platform) as (channel, auth):
        cameras = camera_pb2_grpc.CameraServiceStub(channel)
        camera = cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(name=CAMERA, recording_enabled=True)
            ),
            metadata=auth,
            timeout=30,
        ).camera
        url = cameras.GetStreamUrls(
            camera_pb2.GetStreamUrlsRequest(id=camera.id), metadata=auth, timeout=30
        ).rtmp_publish_url
    publisher = publish(url)
    try:
        wait_for(lambda: len(tiers(platform, camera.id)), lambda n: n >= 5, "5 segments", 120)
    finally:
        publisher.terminate()
        publisher.wait(10)
    set_cold_endpoint(platform, store.endpoint, store)
    cold = recording_pb2.STORAGE_TIER_COLD
    wait_for(
        lambda: tiers(platform, camera.id),
        lambda found: bool(found) and set(found) == {cold},
        "every segment in the cold tier",
        180,
    )


@pytest.fixture(scope="module")
def cold_recording(local_platform: LocalPlatform, store: ObjectStore) -> None:
    """The camera's recording, every segment of it in the store."""
    recorded_then_cold(local_platform, store)


def play_a_recording(page: Page, platform: LocalPlatform) -> None:
    log_in(page, platform.url, "admin", platform.admin_password)
    page.get_by_test_id("nav-recordings").click()
    page.get_by_test_id("recordings-camera").click()
    page.get_by_role("option", name=CAMERA, exact=True).click()
    expect(page.get_by_test_id("recording-row").first).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("recording-row").first).to_contain_text("cold")
    # A whole 2 s segment from the middle (the newest is cut short when the publisher stops).
    page.get_by_test_id("recording-play").nth(2).click()


def test_a_recording_in_the_cold_tier_plays_in_the_ui_from_the_object_store(
    page: Page, local_platform: LocalPlatform, store: ObjectStore, cold_recording: None
) -> None:
    set_cold_endpoint(local_platform, store.endpoint)  # whichever test ran before
    from_store: list[tuple[int, int]] = []

    def seen(response: Response) -> None:
        if response.url.startswith(f"{store.endpoint}/{BUCKET}/"):
            from_store.append((response.status, len(response.body())))

    page.on("response", seen)
    play_a_recording(page, local_platform)
    video_advances(page, '[data-testid="recording-video"]', by_s=1.0)
    screenshot(page, "recording-from-cold")
    expect(page.get_by_test_id("player-error")).to_have_count(0)
    # The bytes the video played came from the object store, through the node's redirect.
    assert from_store and all(status == 200 for status, _ in from_store), from_store
    assert sum(size for _, size in from_store) > 10_000, from_store


def test_without_a_cors_rule_the_player_says_why_it_cannot_play(
    page: Page,
    local_platform: LocalPlatform,
    store: ObjectStore,
    no_cors: NoCors,
    cold_recording: None,
) -> None:
    # The node now presigns for the store as a bucket without a CORS rule serves it.
    set_cold_endpoint(local_platform, no_cors.endpoint)
    play_a_recording(page, local_platform)
    error = page.get_by_test_id("player-error")
    expect(error).to_contain_text("cannot be played", timeout=90_000)
    expect(error).to_contain_text("CORS")
    screenshot(page, "recording-from-cold-without-cors")
    # The segment request reached the store, redirected by the node: its Origin is "null".
    assert "null" in no_cors.origins, no_cors.origins
