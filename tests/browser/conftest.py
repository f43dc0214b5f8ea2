"""Browser tests: Debian's chromium driven by Playwright against the platform as `./start` runs
it (control plane, node agent + nginx, UI server, Envoy over TLS). Never a browser download.

TLS is trusted honestly: every platform of a test worker uses one TLS directory (`edge_tls`),
whose certificates `./start` makes on the first start and reuses; Chromium is told the SHA-256
of exactly those certificates' public keys (`--ignore-certificate-errors-spki-list`), so it
accepts them and nothing else: any other certificate still fails as it would for a person."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from harness.processes import ROOT, stop_by_pid
from scripts.local_tls import edge_hosts, platform_certificates
from server.tls.ca import spki_sha256
from tests.support.local_platform import LocalPlatform, run_local_platform

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "test-artifacts"

# Two cores shared with the whole platform (and other tests): generous waits for what a person
# would see, never fixed sleeps.
expect.set_options(timeout=20_000)


@dataclass(frozen=True)
class EdgeTls:
    """The TLS directory every `./start` of this worker uses, and Chromium's flag trusting the
    certificates in it (by their public keys)."""

    tls_dir: Path
    chromium_args: list[str]


@pytest.fixture(scope="session")
def edge_tls(tmp_path_factory: pytest.TempPathFactory) -> EdgeTls:
    """The local CA and `./start`'s certificates for its loopback Envoy, made as `./start`
    makes them (scripts/local_tls.py), before the browser starts so that it can pin them."""
    tls_dir = tmp_path_factory.getbasetemp() / "edge-tls"
    certificates = platform_certificates(tls_dir, edge_hosts("127.0.0.1"))
    pins = ",".join(spki_sha256(files.cert.read_bytes()) for files in certificates.values())
    return EdgeTls(tls_dir, [f"--ignore-certificate-errors-spki-list={pins}"])


@pytest.fixture(scope="module")
def local_platform(
    tmp_path_factory: pytest.TempPathFactory, edge_tls: EdgeTls
) -> Iterator[LocalPlatform]:
    """One `./start` per test module (starting it costs tens of seconds on two cores)."""
    assert (ROOT / "clients/web/dist/index.html").exists(), (
        "build the UI: npm run build in clients/web"
    )
    with run_local_platform(
        tmp_path_factory.mktemp("platform"), demo=0, tls_dir=edge_tls.tls_dir
    ) as platform:
        yield platform


@pytest.fixture(scope="module")
def browser(edge_tls: EdgeTls) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: the README's commands install it"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *edge_tls.chromium_args]
        )
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
