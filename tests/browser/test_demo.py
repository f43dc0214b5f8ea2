"""`./start --demo 4` as a newcomer runs it: the demo cameras play in the browser's live grid.
Prints how long it took from the command to every tile playing (a number, never asserted)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import screenshot
from tests.browser.helpers import log_in, video_advances
from tests.support.local_platform import run_local_platform

DEMO_CAMERAS = 4


@pytest.mark.timeout(420)
def test_demo_cameras_play_in_the_live_grid(browser: Browser, tmp_path: Path) -> None:
    started = time.monotonic()
    with run_local_platform(tmp_path, demo=DEMO_CAMERAS) as platform:
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
                video_advances(
                    page, f'[data-testid="grid-tile"]:nth-child({i + 1}) video', by_s=1.0
                )
            playing_s = time.monotonic() - started
            screenshot(page, "demo-grid")
        finally:
            context.close()
    print(
        f"\n./start --demo {DEMO_CAMERAS}: ready line after {ready_s:.1f} s, "
        f"all {DEMO_CAMERAS} tiles playing in the browser after {playing_s:.1f} s"
    )
