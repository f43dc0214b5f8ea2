"""The browser UI's own defences, as a person and an attacker's page see them in chromium:
the UI comes over TLS with HSTS and runs (live video and a recording's inline playlist
included) under its Content-Security-Policy with no violation at all,
a third-party page cannot frame it, and the 30-day refresh token never sits in localStorage
while the session still survives a reload and a second tab (issue 10, finding 7)."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from camfleet.v1 import auth_pb2
from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect

from tests.browser.conftest import EdgeTls
from tests.browser.helpers import goto, log_in, reload, stored_session, video_advances
from tests.support.local_platform import LocalPlatform, run_local_platform

PAGES = [
    "dashboard",
    "cameras",
    "live",
    "recordings",
    "alerts",
    "nodes",
    "users",
    "tokens",
    "audit",
]
LOGIN_PATH = "/camfleet.v1.AuthService/Login"


@pytest.fixture(scope="module")
def demo_platform(
    tmp_path_factory: pytest.TempPathFactory, edge_tls: EdgeTls
) -> Iterator[LocalPlatform]:
    """`./start --demo 1`: one camera publishing, so live video runs under the CSP too."""
    with run_local_platform(
        tmp_path_factory.mktemp("security"), demo=1, tls_dir=edge_tls.tls_dir
    ) as platform:
        yield platform


class Violations:
    """Every CSP violation a page reports: Chromium's console line ("Refused to ...") and the
    `securitypolicyviolation` event (recorded by a script Playwright adds outside the CSP)."""

    def __init__(self, page: Page) -> None:
        self.console: list[str] = []
        self.page = page
        page.on("console", self._on_console)
        page.add_init_script(
            """document.addEventListener("securitypolicyviolation", (e) => {
                const seen = JSON.parse(sessionStorage.getItem("__csp") || "[]");
                seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
                sessionStorage.setItem("__csp", JSON.stringify(seen));
            });"""
        )

    def _on_console(self, msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Refused to" in msg.text:
            self.console.append(msg.text)

    def all(self) -> list[str]:
        events = self.page.evaluate("JSON.parse(sessionStorage.getItem('__csp') || '[]')")
        return [*self.console, *events]


@pytest.mark.timeout(300)
def test_the_ui_and_its_live_video_run_under_the_csp_without_a_violation(
    page: Page, demo_platform: LocalPlatform
) -> None:
    violations = Violations(page)
    assert demo_platform.url.startswith("https://")
    response = goto(page, demo_platform.url)
    assert response is not None
    # Chromium trusted the edge's certificate (pinned by its key, see conftest) over TLS.
    security = response.security_details()
    assert security is not None and security.get("protocol", "").startswith("TLS")
    assert security.get("subjectName") == "127.0.0.1"
    headers = response.headers
    # Browsers keep to https:// for this origin from now on.
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    # The policy is really there, strict, and names the node for media.
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "'nonce-" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "base-uri 'self'" in csp
    assert f"media-src 'self' blob: {demo_platform.hls_base_url}" in csp

    log_in(page, demo_platform.url, "admin", demo_platform.admin_password)
    for name in PAGES:
        page.get_by_test_id(f"nav-{name}").click()
        expect(page.get_by_test_id("error")).to_have_count(0)
    page.get_by_test_id("nav-account").click()
    # Mantine's injected theme (indigo, not the stylesheet's default blue) applied: its <style>
    # element carried the page's nonce.
    primary, indigo, blue = page.evaluate(
        """() => ["primary-color-filled", "color-indigo-6", "color-blue-6"].map((name) =>
            getComputedStyle(document.documentElement).getPropertyValue(`--mantine-${name}`).trim())"""
    )
    assert primary == indigo != blue, (primary, indigo, blue)

    # Live video: hls.js fetches the node's signed playlist and segments, plays through MSE.
    page.get_by_test_id("nav-live").click()
    tile = page.get_by_test_id("grid-tile").first
    expect(tile).to_have_attribute("data-status", "ONLINE", timeout=90_000)
    camera = tile.get_attribute("data-name")
    video_advances(page, f'[data-testid="grid-tile"][data-name="{camera}"] video', by_s=2.0)
    reload(page)
    expect(page.get_by_test_id("grid-tile").first).to_have_attribute("data-state", "playing")

    # A recording: its VOD playlist comes inline (a data: URL hls.js fetches), its segments
    # from the node.
    page.get_by_test_id("nav-recordings").click()
    page.get_by_test_id("recordings-camera").click()
    page.get_by_role("option", name=camera, exact=True).click()
    expect(page.get_by_test_id("recording-row").first).to_be_visible(timeout=90_000)
    page.get_by_test_id("recording-play").first.click()
    video_advances(page, '[data-testid="recording-video"]', by_s=1.0)
    # A recording spread over nodes comes as the control plane's inline playlist (a data: URL,
    # server/recordings/vod.py), which hls.js fetches like this: the CSP lets it.
    assert page.evaluate(
        """() => fetch("data:application/vnd.apple.mpegurl;base64,I0VYVE0zVQo=")
            .then((r) => r.text())"""
    ).startswith("#EXTM3U")

    assert violations.all() == []


class _ThirdParty(BaseHTTPRequestHandler):
    """An attacker's site: a page framing the UI, and an innocent page of its own."""

    ui_url = ""

    def do_GET(self) -> None:
        if self.path == "/own":
            body = b"<p id='own'>the attacker's own page</p>"
        else:
            body = (
                f"<iframe id='ui' src='{self.ui_url}' width=800 height=600></iframe>"
                "<iframe id='own' src='/own'></iframe>"
            ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what the browser saw."""


@contextmanager
def third_party_site(ui_url: str) -> Iterator[str]:
    """The attacker's site on another loopback port (another origin); yields its URL."""
    handler = type("Handler", (_ThirdParty,), {"ui_url": ui_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_third_party_page_cannot_frame_the_ui(page: Page, demo_platform: LocalPlatform) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
    with third_party_site(demo_platform.url) as attacker:
        goto(page, attacker)
        # The attacker's own frame shows: framing as such works in this browser...
        expect(page.frame_locator("#own").locator("#own")).to_have_text("the attacker's own page")
        # ...but the UI refuses to be framed, and says why (the console line may come a bit
        # after the frame settles: poll, generously).
        for _ in range(80):
            if refused:
                break
            page.wait_for_timeout(250)
        assert refused, "chromium did not report the frame-ancestors refusal"
        assert "frame-ancestors 'none'" in refused[0]
        ui_frame = page.frame_locator("#ui")
        expect(ui_frame.get_by_test_id("login-form")).to_have_count(0)
        expect(ui_frame.locator("#root")).to_have_count(0)


def _login_reply(response: Response) -> auth_pb2.LoginResponse:
    """The LoginResponse in a grpc-web reply (frames: 1 flag byte, 4 length bytes, message)."""
    body, offset = response.body(), 0
    while offset + 5 <= len(body):
        flag, length = body[offset], struct.unpack(">I", body[offset + 1 : offset + 5])[0]
        frame = body[offset + 5 : offset + 5 + length]
        if flag == 0:
            return auth_pb2.LoginResponse.FromString(frame)
        offset += 5 + length
    raise AssertionError(f"no message in the Login reply: {body!r}")


def _web_storage(page: Page) -> dict[str, dict[str, str]]:
    """Every key and value of localStorage and sessionStorage ("local", "session")."""
    items: dict[str, dict[str, str]] = page.evaluate(
        """() => Object.fromEntries([["local", localStorage], ["session", sessionStorage]].map(
            ([name, s]) => [name, Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k)]))]
        ))"""
    )
    return items


def _assert_no_token_in_web_storage(page: Page, refresh_token: str) -> None:
    for area, items in _web_storage(page).items():
        for key, value in items.items():
            assert refresh_token not in key and refresh_token not in value, (area, key)
            assert "refresh" not in key.lower() and "token" not in key.lower(), (area, key)
            assert "refreshToken" not in value, (area, key)


def test_the_refresh_token_stays_out_of_local_storage_and_the_session_still_holds(
    page: Page, demo_platform: LocalPlatform, tmp_path: Path
) -> None:
    platform = demo_platform
    # A browser still holding what an older build left in localStorage: it is removed on load.
    goto(page, platform.url)
    page.evaluate("localStorage.setItem('camfleet.tokens', '{\"refreshToken\":\"left-over\"}')")
    reload(page)
    expect(page.get_by_test_id("login-form")).to_be_visible()
    assert "camfleet.tokens" not in _web_storage(page)["local"]

    logins: list[Response] = []
    origins: list[str | None] = []

    def on_request(request: Request) -> None:
        if request.url.endswith(LOGIN_PATH):
            origins.append(request.header_value("origin"))

    page.on("request", on_request)
    page.on("response", lambda r: logins.append(r) if r.url.endswith(LOGIN_PATH) else None)
    log_in(page, platform.url, "admin", platform.admin_password)
    assert len(logins) == 1
    refresh_token = _login_reply(logins[0]).tokens.refresh_token
    assert len(refresh_token) > 20
    # Referrer-Policy no-referrer leaves the Origin of the page's own API calls alone.
    assert origins == [platform.url.rstrip("/")]

    # The session is the one the login returned, kept in IndexedDB and nowhere in web storage.
    expect(page.get_by_test_id("current-role")).to_have_text("admin")
    assert refresh_token in (stored_session(page) or "")
    _assert_no_token_in_web_storage(page, refresh_token)

    # It survives a reload, and a second tab opens signed in: still nothing in web storage.
    reload(page)
    expect(page.get_by_test_id("current-role")).to_have_text("admin")
    other = page.context.new_page()
    goto(other, f"{platform.url}#/nodes")
    expect(other.get_by_test_id("current-role")).to_have_text("admin")
    for tab in (page, other):
        _assert_no_token_in_web_storage(tab, refresh_token)

    # Signing out in one tab signs the other out, and leaves nothing stored.
    other.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    assert stored_session(page) is None


def test_a_weak_password_is_refused_in_the_form_with_the_servers_reason(
    page: Page, demo_platform: LocalPlatform
) -> None:
    log_in(page, demo_platform.url, "admin", demo_platform.admin_password)
    page.get_by_test_id("nav-users").click()
    page.get_by_test_id("user-new").click()
    page.get_by_test_id("user-username").fill("weakling")
    for weak, why in [("password", "must be at least 12 characters"), ("passwordpassword", "")]:
        page.get_by_test_id("user-password").fill(weak)
        page.get_by_test_id("user-save").click()
        error = page.get_by_test_id("error")
        expect(error).to_contain_text("Some of what was entered is not valid. Password: ")
        expect(error).to_contain_text(why or "is too common or easy to guess")
    expect(page.locator('[data-testid="user-row"]', has_text="weakling")).to_have_count(0)
