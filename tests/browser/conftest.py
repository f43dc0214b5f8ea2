"""Browser tests: Debian's chromium driven by Playwright against the platform as `./start` runs
it (control plane, node agent + nginx, UI server, Envoy). Never a browser download."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from harness.processes import ROOT, stop_by_pid
from tests.support.local_platform import LocalPlatform, run_local_platform

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "test-artifacts"

# Two cores shared with the whole platform (and other tests): generous waits for what a person
# would see, never fixed sleeps.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """One `./start` per test module (starting it costs tens of seconds on two cores)."""
    assert (ROOT / "clients/web/dist/index.html").exists(), (
        "build the UI: npm run build in clients/web"
    )
    with run_local_platform(tmp_path_factory.mktemp("platform"), demo=0) as platform:
        yield platform


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: the README's commands install it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (own sessionStorage: a new tab, logged out)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def publishers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """ffmpeg publishers a test starts; each is ended by PID."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop_by_pid(proc, grace_s=5)


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot to test-artifacts/ (gitignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
