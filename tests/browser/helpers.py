"""What a person does in the UI, as small steps the browser tests share."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import grpc
from camfleet.v1 import auth_pb2, auth_pb2_grpc
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Request, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.clips import looped_argv, pattern_clip
from tests.support.local_platform import LocalPlatform

T = TypeVar("T")
Metadata = tuple[tuple[str, str | bytes], ...]


def _watch(page: Page) -> list[str]:
    """What the page reports from now on: errors, console, failed requests, HTTP errors and
    gRPC errors sent in headers (Envoy's own answers, such as no healthy upstream)."""
    seen: list[str] = []

    def answered(r: Response) -> None:
        code = r.headers.get("grpc-status", "0")
        if r.status >= 400 or code != "0":
            seen.append(
                f"{r.status} grpc-status {code} {r.headers.get('grpc-message', '')}: {r.url}"
            )

    page.on("pageerror", lambda e: seen.append(f"page error: {e}"))
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}"[:300]))
    page.on("requestfailed", lambda r: seen.append(f"failed: {r.url} {r.failure}"))
    page.on("response", answered)
    return seen


def _not_shown(page: Page, what: str, seen: list[str]) -> AssertionError:
    shown = page.evaluate(
        "() => [document.getElementById('root')?.childElementCount ?? -1,"
        " document.body.innerText.slice(0, 300)]"
    )
    return AssertionError(
        f"no {what} at {page.url}: #root children {shown[0]}, text {shown[1]!r}; "
        f"the page's errors and failed requests: {seen[-20:]}"
    )


def goto(page: Page, url: str) -> Response | None:
    """page.goto, loaded again if the network changed under it (_load)."""
    return _load(page, lambda: page.goto(url))


def reload(page: Page) -> Response | None:
    """page.reload, done again if the network changed under it (_load)."""
    return _load(page, page.reload)


def _load(page: Page, load: Callable[[], Response | None], attempts: int = 3) -> Response | None:
    """`load` (a navigation), again (up to `attempts` times) if it or a request of it failed
    with ERR_NETWORK_CHANGED. Chromium fails what is under way when the host's network
    interfaces change, and the multi-node tests beside this one add and remove veth pairs all
    the time (CI: a log-in's first load; and the UI's script, which left the page blank). A
    person would press reload; nothing on the platform's side changed."""
    for attempt in range(1, attempts + 1):
        changed: list[str] = []

        def failed(request: Request, changed: list[str] = changed) -> None:
            if "ERR_NETWORK_CHANGED" in (request.failure or ""):
                changed.append(request.url)

        page.on("requestfailed", failed)
        try:
            response = load()
        except PlaywrightError as exc:
            if "net::ERR_NETWORK_CHANGED" not in str(exc) or attempt == attempts:
                raise
            continue
        finally:
            page.remove_listener("requestfailed", failed)
        if not changed or attempt == attempts:
            return response
    raise AssertionError("unreachable")


def log_in(page: Page, url: str, username: str, password: str) -> None:
    """Open the UI and sign in; returns once the navigation is shown. If the login form or the
    navigation never shows, the failure says what the page did instead (its errors, failed
    requests, text)."""
    seen = _watch(page)
    goto(page, url)
    try:
        # The context's default timeout, as the fill below had.
        page.get_by_test_id("login-username").wait_for(state="visible")
    except PlaywrightTimeoutError:
        raise _not_shown(page, "login form", seen) from None
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    try:
        page.get_by_test_id("nav").wait_for(state="visible")
    except PlaywrightTimeoutError:
        raise _not_shown(page, "navigation after signing in", seen) from None


def stored_session(page: Page) -> str | None:
    """The token pair the UI keeps for this origin's tabs (IndexedDB, see clients/web/src/api/
    tokenStore.ts), as the JSON it wrote, or None when signed out."""
    raw = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const open = indexedDB.open("camfleet", 1);
            open.onupgradeneeded = () => open.result.createObjectStore("kv");
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
                const get = open.result.transaction("kv").objectStore("kv").get("camfleet.tokens");
                get.onsuccess = () => { open.result.close(); resolve(get.result ?? null); };
                get.onerror = () => reject(get.error);
            };
        })"""
    )
    return None if raw is None else str(raw)


def nav_labels(page: Page) -> list[str]:
    return [t.strip() for t in page.get_by_test_id("nav").locator("a").all_inner_texts()]


def publish(rtmp_publish_url: str) -> subprocess.Popen[bytes]:
    """An ffmpeg test pattern publishing to `rtmp_publish_url` (one keyframe a second)."""
    return subprocess.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            *looped_argv(pattern_clip("640x360", "ultrafast"), None),
            "-f",
            "flv",
            rtmp_publish_url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Seconds of picture a <video> has shown since `mark` was first taken: the forward steps of its
# currentTime between polls, summed. A player started over (the stall watchdog gives a tile a
# fresh player, whose timeline begins near zero again) goes on counting instead of having to pass
# its old position; a jump (hls.js skipping to the live edge) is not picture shown.
PLAYED_JS = """(v, mark) => {
    const last = v.dataset[mark + "Last"];
    let played = Number(v.dataset[mark + "Played"] ?? "0");
    if (v.readyState >= 2 && last !== undefined) {
        const step = v.currentTime - Number(last);
        if (step > 0 && step < 5) played += step;
    }
    v.dataset[mark + "Last"] = String(v.currentTime);
    v.dataset[mark + "Played"] = String(played);
    return played;
}"""


_marks = itertools.count()


def video_advances(page: Page, selector: str, by_s: float = 1.0, timeout_ms: int = 60_000) -> None:
    """Wait until the <video> at `selector` has shown `by_s` seconds of picture (PLAYED_JS)
    from this call on."""
    page.wait_for_function(
        "([sel, by, mark]) => {"
        "  const v = document.querySelector(sel);"
        "  if (!v) return false;"
        f"  return ({PLAYED_JS})(v, mark) >= by;"
        "}",
        arg=[selector, by_s, f"advances{next(_marks)}"],
        timeout=timeout_ms,
        polling=250,
    )


@contextmanager
def admin_rpc(platform: LocalPlatform) -> Iterator[tuple[grpc.Channel, Metadata]]:
    """A plain gRPC channel to the control plane and an admin's call metadata: for what a test
    sets up or checks behind the browser's back."""
    with grpc.insecure_channel(platform.grpc_target) as channel:
        login = auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=platform.admin_password), timeout=30
        )
        yield channel, (("authorization", f"Bearer {login.tokens.access_token}"),)


def wait_for(read: Callable[[], T], done: Callable[[T], bool], what: str, within_s: float) -> T:
    """Poll `read` until `done` holds for its value (a generous timeout, never a fixed sleep);
    AssertionError naming `what` and the last value otherwise."""
    deadline = time.monotonic() + within_s
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {within_s:.0f} s; last seen: {value!r}")
        time.sleep(0.25)
