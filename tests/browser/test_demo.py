"""`./start --demo 4` as a newcomer runs it: the demo cameras play in the browser's live grid.
Prints how long it took from the command to every tile playing (a number, never asserted)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import EdgeTls, screenshot
from tests.browser.helpers import log_in, video_advances
from tests.support.local_platform import run_local_platform

DEMO_CAMERAS = 4
# Live playlists are re-read every segment (~1-2 s): this long without a request means stopped.
QUIET_WINDOW_MS = 6_000


@pytest.mark.timeout(420)
def test_demo_cameras_play_in_the_live_grid(
    browser: Browser, tmp_path: Path, edge_tls: EdgeTls
) -> None:
    started = time.monotonic()
    with run_local_platform(tmp_path, demo=DEMO_CAMERAS, tls_dir=edge_tls.tls_dir) as platform:
        ready_s = time.monotonic() - started
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(60_000)
        page = context.new_page()
        try:
            log_in(page, platform.url, "admin", platform.admin_password)
            page.get_by_test_id("nav-live").click()
            tiles = page.get_by_test_id("grid-tile")
            expect(tiles).to_have_count(DEMO_CAMERAS)
            for i in range(DEMO_CAMERAS):
                expect(tiles.nth(i)).to_have_attribute("data-status", "ONLINE", timeout=90_000)
                name = tiles.nth(i).get_attribute("data-name")
                video_advances(
                    page, f'[data-testid="grid-tile"][data-name="{name}"] video', by_s=1.0
                )
            playing_s = time.monotonic() - started
            screenshot(page, "demo-grid")
            _tiles_out_of_sight_stop_downloading(page)
        finally:
            context.close()
    print(
        f"\n./start --demo {DEMO_CAMERAS}: ready line after {ready_s:.1f} s, "
        f"all {DEMO_CAMERAS} tiles playing in the browser after {playing_s:.1f} s"
    )


def _hls_requests(page: Page) -> list[str]:
    """URLs of live playlists and segments the page requests from now on: a camera's HLS, or
    its live ladder's (/abr/, which grid tiles play when the camera has one)."""
    seen: list[str] = []
    page.on(
        "request",
        lambda r: seen.append(r.url) if "/hls/" in r.url or "/abr/" in r.url else None,
    )
    return seen


def _set_visibility(page: Page, state: str) -> None:
    page.evaluate(
        """state => {
            const define = (name, value) =>
                Object.defineProperty(document, name, { configurable: true, get: () => value });
            define("visibilityState", state);
            define("hidden", state === "hidden");
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def _tiles_out_of_sight_stop_downloading(page: Page) -> None:
    tiles = page.get_by_test_id("grid-tile")
    ids = [tiles.nth(i).get_attribute("data-camera-id") or "" for i in range(DEMO_CAMERAS)]
    requests = _hls_requests(page)

    # The tab is hidden. Headless chromium never hides a tab by itself (checked: a tab behind
    # another and a minimized window both stay "visible"), so the test plays the browser's part
    # and reports the page hidden through the same API the browser uses.
    _set_visibility(page, "hidden")
    for i in range(DEMO_CAMERAS):
        expect(tiles.nth(i)).to_have_attribute("data-state", "paused")
    requests.clear()
    page.wait_for_timeout(QUIET_WINDOW_MS)
    assert requests == [], f"a hidden tab kept downloading: {requests[:5]}"

    # Visible again: the tiles resume and download again.
    _set_visibility(page, "visible")
    expect(tiles.nth(0)).to_have_attribute("data-state", "playing")
    page.wait_for_timeout(QUIET_WINDOW_MS)
    assert any(ids[0] in url for url in requests), f"no download after coming back: {requests[:5]}"

    # A window too short for the bottom row of the 2x2 grid: only the top row downloads.
    page.evaluate("window.scrollTo(0, 0)")
    bottom_row = tiles.nth(2).bounding_box()
    assert bottom_row is not None
    # Well above it: a scrollbar appearing narrows the tiles and lifts the row a little.
    page.set_viewport_size({"width": 1440, "height": int(bottom_row["y"]) - 60})
    expect(tiles.nth(2)).to_have_attribute("data-state", "paused")
    expect(tiles.nth(3)).to_have_attribute("data-state", "paused")
    requests.clear()
    page.wait_for_timeout(QUIET_WINDOW_MS)
    assert not any(ids[2] in url or ids[3] in url for url in requests), requests
    assert any(ids[0] in url for url in requests), "the visible tiles stopped too"

    # Scrolled into view, a bottom tile plays again.
    tiles.nth(2).scroll_into_view_if_needed()
    expect(tiles.nth(2)).to_have_attribute("data-state", "playing")

    # Double-click: that camera alone, then back to the 2x2 grid.
    tiles.nth(3).dblclick()
    expect(page.get_by_test_id("grid")).to_have_attribute("data-layout", "1")
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_have_attribute("data-camera-id", ids[3])
    tiles.first.dblclick()
    expect(tiles).to_have_count(DEMO_CAMERAS)
