"""The browser UI end to end, as an operator and a viewer see it: Debian's chromium, the real
platform (`./start`), grpc-web through Envoy, a real ffmpeg publisher, real HLS in <video>."""

from __future__ import annotations

import re
import secrets
import ssl
import subprocess
import urllib.request
from collections.abc import Callable

import grpc
import pytest
from camfleet.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    user_pb2,
    user_pb2_grpc,
)
from playwright.sync_api import Page, expect

from harness.processes import stop_by_pid
from harness.tcp_proxy import CuttableProxy, cuttable_proxy
from tests.browser.conftest import screenshot
from tests.browser.helpers import goto, log_in, nav_labels, publish, reload, video_advances
from tests.support.local_platform import LocalPlatform

ADMIN_PAGES = [
    "Dashboard",
    "Cameras",
    "Live view",
    "Recordings",
    "Alerts",
    "Analytics",
    "Storage",
    "Nodes",
    "Users",
    "API tokens",
    "Audit log",
    "Settings",
]


def test_login_refuses_a_wrong_password_in_words_then_signs_in(
    page: Page, local_platform: LocalPlatform
) -> None:
    goto(page, local_platform.url)
    page.get_by_test_id("login-username").fill("admin")
    page.get_by_test_id("login-password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")

    page.get_by_test_id("login-password").fill(local_platform.admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("current-role")).to_have_text("admin")
    assert nav_labels(page) == [*ADMIN_PAGES, "My account"]

    # A reload keeps the session; logging out ends it.
    reload(page)
    expect(page.get_by_test_id("current-user")).to_have_text("Administrator")
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    reload(page)
    expect(page.get_by_test_id("login-form")).to_be_visible()


@pytest.mark.timeout(420)
def test_camera_created_in_the_ui_goes_online_live_plays_and_is_recorded(
    page: Page, local_platform: LocalPlatform, publishers: list[subprocess.Popen[bytes]]
) -> None:
    name = f"Door {secrets.token_hex(3)}"
    log_in(page, local_platform.url, "admin", local_platform.admin_password)

    # Create the camera in the UI, recording on; the publish URL is shown next.
    page.get_by_test_id("nav-cameras").click()
    page.get_by_test_id("camera-new").click()
    page.get_by_test_id("camera-name").fill(name)
    page.get_by_test_id("camera-recording").check()
    page.get_by_test_id("camera-save").click()
    publish_url = page.get_by_test_id("publish-url")
    expect(publish_url).to_have_value(re.compile(f"^{re.escape(local_platform.rtmp_url)}/.+"))
    rtmp = publish_url.input_value()
    page.keyboard.press("Escape")
    expect(page.locator(f'[data-testid="camera-row"][data-name="{name}"]')).to_have_attribute(
        "data-status", "OFFLINE"
    )

    # The dashboard is open and live before anything publishes: it must turn ONLINE by itself.
    page.get_by_test_id("nav-dashboard").click()
    expect(page.get_by_test_id("watch-phase")).to_have_attribute("data-phase", "live")
    badge = page.locator(f'[data-testid="dashboard-camera"][data-name="{name}"]')
    expect(badge).to_have_attribute("data-status", "OFFLINE")
    online_before = int(page.get_by_test_id("count-online").inner_text())
    page.evaluate("window.__sameDocument = true")

    publishers.append(publish(rtmp))
    expect(badge).to_have_attribute("data-status", "ONLINE", timeout=60_000)
    expect(page.get_by_test_id("count-online")).to_have_text(str(online_before + 1))
    # Same document: the change came over the grpc-web server stream, not a reload.
    assert page.evaluate("window.__sameDocument") is True
    expect(
        page.locator('[data-testid="recent-event"][data-type="CAMERA_STATUS_CHANGED"]').first
    ).to_be_visible()
    expect(page.locator('[data-testid="dashboard-node"][data-state="READY"]')).to_have_count(1)
    screenshot(page, "dashboard")

    # The live grid plays the signed HLS stream.
    page.get_by_test_id("nav-live").click()
    tile = page.locator(f'[data-testid="grid-tile"][data-name="{name}"]')
    expect(tile).to_have_attribute("data-status", "ONLINE")
    video_advances(page, f'[data-testid="grid-tile"][data-name="{name}"] video', by_s=2.0)
    expect(tile).to_have_attribute("data-state", "playing")
    screenshot(page, "grid")

    # Recordings: the camera's segments appear on the day's timeline and one plays.
    page.get_by_test_id("nav-recordings").click()
    page.get_by_test_id("recordings-camera").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.get_by_test_id("recordings-error")).to_have_count(0)
    expect(page.get_by_test_id("recording-row").first).to_be_visible(timeout=90_000)
    expect(page.get_by_test_id("timeline-span").first).to_be_attached()
    page.get_by_test_id("recording-play").first.click()
    video_advances(page, '[data-testid="recording-video"]', by_s=2.0)
    screenshot(page, "recordings")

    # Clip export (the last recorded minute is offered): the link serves an MP4.
    page.get_by_test_id("clip-export").click()
    clip = page.get_by_test_id("clip-link")
    expect(clip).to_be_visible(timeout=30_000)
    # Fetched as a download would be, trusting only the platform's CA: the node serves it over
    # https with a certificate that CA signed (Playwright's request context, Node's TLS, knows
    # only the system's roots; the browser itself pins the certificates it is given).
    href = clip.get_attribute("href") or ""
    assert href.startswith("https://"), href
    tls = ssl.create_default_context(cafile=str(local_platform.ca_path))
    with urllib.request.urlopen(href, timeout=120, context=tls) as response:
        assert response.status == 200
        body = response.read()
    assert body[4:8] == b"ftyp", "the clip is not an MP4"

    # The publisher stops: its tile says the camera is offline.
    stop_by_pid(publishers.pop(), grace_s=5)
    page.get_by_test_id("nav-live").click()
    expect(tile).to_have_attribute("data-status", "OFFLINE", timeout=60_000)
    expect(tile.get_by_test_id("tile-offline")).to_have_text("Camera offline")


def _as_admin(
    platform: LocalPlatform, call: Callable[[grpc.Channel, list[tuple[str, str]]], object]
) -> None:
    """Make a call as admin over plain gRPC to the control plane (not through the browser)."""
    with grpc.insecure_channel(platform.grpc_target) as channel:
        login = auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=platform.admin_password), timeout=30
        )
        call(channel, [("authorization", f"Bearer {login.tokens.access_token}")])


def _create_viewer(platform: LocalPlatform, username: str, password: str) -> None:
    """An admin creates a viewer through UserService."""
    _as_admin(
        platform,
        lambda channel, auth: user_pb2_grpc.UserServiceStub(channel).CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=username, role=common_pb2.ROLE_VIEWER),
                password=password,
            ),
            metadata=auth,
            timeout=30,
        ),
    )


def test_the_dashboard_resumes_after_the_connection_drops_without_a_reload(
    page: Page, local_platform: LocalPlatform
) -> None:
    # The browser reaches Envoy through a proxy the test can cut (Chromium's offline emulation
    # leaves an open stream alone; a real network drop does not).
    host, _, port = local_platform.envoy_target.partition(":")
    with cuttable_proxy((host, int(port))) as proxy:
        _resume_after_drop(page, local_platform, proxy)


def _resume_after_drop(page: Page, local_platform: LocalPlatform, proxy: CuttableProxy) -> None:
    # TLS through the proxy: the browser still talks to Envoy (same certificate, same host).
    log_in(page, f"https://127.0.0.1:{proxy.port}/", "admin", local_platform.admin_password)
    page.get_by_test_id("nav-dashboard").click()
    phase = page.get_by_test_id("watch-phase")
    expect(phase).to_have_attribute("data-phase", "live")
    page.evaluate("window.__sameDocument = true")

    # The connection drops: the WatchEvents stream fails and the page says so.
    proxy.cut()
    expect(phase).to_have_attribute("data-phase", "reconnecting", timeout=30_000)

    # Meanwhile someone adds a camera.
    name = f"Yard {secrets.token_hex(3)}"
    _as_admin(
        local_platform,
        lambda channel, auth: camera_pb2_grpc.CameraServiceStub(channel).CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=name)),
            metadata=auth,
            timeout=30,
        ),
    )

    # Back: the watch resumes from the last revision it saw and replays what it missed.
    proxy.restore()
    expect(phase).to_have_attribute("data-phase", "live", timeout=30_000)
    expect(page.locator(f'[data-testid="dashboard-camera"][data-name="{name}"]')).to_be_visible(
        timeout=30_000
    )
    assert page.evaluate("window.__sameDocument") is True


def test_a_viewer_sees_no_edit_controls_and_a_refusal_in_words(
    page: Page, local_platform: LocalPlatform
) -> None:
    username, password = f"vic-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    _create_viewer(local_platform, username, password)
    log_in(page, local_platform.url, username, password)

    expect(page.get_by_test_id("current-role")).to_have_text("viewer")
    assert nav_labels(page) == [
        "Dashboard",
        "Cameras",
        "Live view",
        "Recordings",
        "Analytics",
        "Storage",
        "My account",
    ]

    page.get_by_test_id("nav-cameras").click()
    expect(page.get_by_test_id("camera-table")).to_be_visible()
    for control in [
        "camera-new",
        "camera-select",
        "camera-actions",
        "camera-active",
        "camera-recording-toggle",
        "bulk-menu",
    ]:
        expect(page.get_by_test_id(control)).to_have_count(0)

    # A link to an admin page (say, from a colleague): the server refuses and the page says why.
    goto(page, f"{local_platform.url}#/audit")
    expect(page.get_by_test_id("error")).to_have_text(
        "Your account is not allowed to do this. The server said: "
        f"“{username} (viewer) may not call ListAuditLogs: it needs the audit.read permission”."
    )


def _create_camera(platform: LocalPlatform, name: str) -> None:
    _as_admin(
        platform,
        lambda channel, auth: camera_pb2_grpc.CameraServiceStub(channel).CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(name=name, labels={"site": "lot"})
            ),
            metadata=auth,
            timeout=30,
        ),
    )


@pytest.mark.timeout(300)
def test_an_admin_manages_cameras_tokens_nodes_and_reads_the_audit_log(
    page: Page, local_platform: LocalPlatform
) -> None:
    tag = secrets.token_hex(3)
    names = [f"Lot {tag} A", f"Lot {tag} B"]
    for name in names:
        _create_camera(local_platform, name)
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    page.get_by_test_id("nav-cameras").click()
    rows = page.get_by_test_id("camera-row")

    # Search narrows the list to the two cameras.
    page.get_by_test_id("camera-search").fill(tag)
    expect(rows).to_have_count(2)

    # Bulk: deactivate both; the inactive filter then shows exactly them.
    for i in range(2):
        rows.nth(i).get_by_test_id("camera-select").check()
    page.get_by_test_id("bulk-menu").click()
    page.get_by_test_id("bulk-DEACTIVATE").click()
    for i in range(2):
        expect(rows.nth(i).get_by_test_id("camera-active")).not_to_be_checked()
    # One back on with its own switch, recording on with the other switch.
    first = page.locator(f'[data-testid="camera-row"][data-name="{names[0]}"]')
    first.get_by_test_id("camera-active").click()
    expect(first.get_by_test_id("camera-active")).to_be_checked()
    first.get_by_test_id("camera-recording-toggle").click()
    expect(first.get_by_test_id("camera-recording-toggle")).to_be_checked()

    # Rotating the key changes the publish URL.
    def publish_url() -> str:
        first.get_by_test_id("camera-actions").click()
        page.get_by_test_id("camera-publish-url").click()
        field = page.get_by_test_id("publish-url")
        expect(field).to_have_value(re.compile(r"^rtmp://"))
        url = field.input_value()
        page.keyboard.press("Escape")
        expect(field).to_have_count(0)
        return url

    before = publish_url()
    first.get_by_test_id("camera-actions").click()
    page.get_by_test_id("camera-rotate").click()
    page.get_by_test_id("confirm").click()
    page.wait_for_function("() => !document.querySelector('[data-testid=confirm]')")
    assert publish_url() != before

    # Delete the second camera from its row.
    second = page.locator(f'[data-testid="camera-row"][data-name="{names[1]}"]')
    second.get_by_test_id("camera-actions").click()
    page.get_by_test_id("camera-delete").click()
    page.get_by_test_id("confirm").click()
    expect(rows).to_have_count(1)

    # An API token's secret is shown once, at creation.
    page.get_by_test_id("nav-tokens").click()
    page.get_by_test_id("token-new").click()
    page.get_by_test_id("token-name").fill(f"ci {tag}")
    # The scopes on offer are the server's permissions, each with its description.
    page.get_by_test_id("token-scopes").click()
    expect(page.get_by_text("Read the audit log.")).to_be_visible()
    page.get_by_test_id("token-name").click()
    page.get_by_test_id("token-save").click()
    secret = page.get_by_test_id("token-secret").inner_text()
    assert secret.startswith("cft_")
    page.keyboard.press("Escape")
    expect(page.locator(f'[data-testid="token-row"][data-name="ci {tag}"]')).to_be_visible()
    assert secret not in page.content()

    # Cordon the node and back.
    page.get_by_test_id("nav-nodes").click()
    node = page.locator('[data-testid="node-row"][data-name="local"]')
    node.get_by_test_id("node-actions").click()
    page.get_by_test_id("node-cordon").click()
    expect(node.get_by_test_id("node-cordoned")).to_have_text("cordoned")
    node.get_by_test_id("node-actions").click()
    page.get_by_test_id("node-uncordon").click()
    expect(node.get_by_test_id("node-cordoned")).to_have_count(0)

    # The audit log, filtered, shows what was just done.
    page.get_by_test_id("nav-audit").click()
    page.get_by_test_id("audit-action").fill("camera.rotate_stream_key")
    audit_rows = page.get_by_test_id("audit-row")
    expect(audit_rows.first).to_have_attribute("data-action", "camera.rotate_stream_key")
    expect(
        page.locator('[data-testid="audit-row"]:not([data-action="camera.rotate_stream_key"])')
    ).to_have_count(0)
    page.get_by_test_id("audit-action").fill("node.cordon")
    expect(audit_rows.first).to_have_attribute("data-action", "node.cordon")
