"""`python -m server.ui` as a real process over a small built-UI directory, ended by PID."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.processes import ROOT, stop_by_pid, wait_for_line

ASSET = "assets/index-Cq3x9k2B.js"
INDEX_HTML = f'<!doctype html><html><head><script type="module" src="/{ASSET}"></script></head>'
INDEX_HTML += '<body><div id="root"></div></body></html>\n'
# As Vite writes it with `html.cspNonce` (clients/web/vite.config.ts): the server fills it in.
NONCE_META = '<meta property="csp-nonce" nonce="CAMFLEET_CSP_NONCE">'


def make_dist(root: Path, nonce_placeholder: bool = False) -> Path:
    """A directory shaped like Vite's output: index.html, hashed assets, a public file; with
    `nonce_placeholder`, index.html has the build's style-nonce meta tag."""
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    index = INDEX_HTML.replace("<head>", f"<head>{NONCE_META}") if nonce_placeholder else INDEX_HTML
    (dist / "index.html").write_text(index)
    (dist / ASSET).write_text("console.log('camfleet');\n")
    (dist / "assets" / "index-D2f0a1Zz.css").write_text("body{margin:0}\n")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    return dist


@contextmanager
def running_ui_server(dist: Path, *flags: str) -> Iterator[tuple[str, int]]:
    """The UI server on a free loopback port serving `dist` (more `flags` if given); yields
    its (host, port)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.ui", "--listen", "127.0.0.1:0", "--dist", str(dist), *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = wait_for_line(proc, "camfleet ui ready on http://")[-1]
        host, _, port = line.split("http://", 1)[1].split()[0].rpartition(":")
        yield host, int(port)
    finally:
        stop_by_pid(proc)
        assert proc.stdout is not None
        proc.stdout.close()
