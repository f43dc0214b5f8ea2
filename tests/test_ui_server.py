"""The UI's static file server (`python -m server.ui`) as a browser sees it: files with the
right types and caching, client-side routes falling back to index.html, nothing outside dist."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ROOT
from tests.support.ui_server import ASSET, INDEX_HTML, make_dist, running_ui_server

Response = tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ui")
    built = make_dist(root)
    (root / "secret.txt").write_text("not for browsers\n")
    os.symlink(root / "secret.txt", built / "escape.txt")
    return built


@pytest.fixture(scope="module")
def ui(dist: Path) -> Iterator[tuple[str, int]]:
    with running_ui_server(dist) as address:
        yield address


def fetch(address: tuple[str, int], raw_path: str, method: str = "GET") -> Response:
    """One request with `raw_path` sent exactly as written (no client-side normalizing)."""
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.putrequest(method, raw_path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_index_is_revalidated_on_every_load(ui: tuple[str, int]) -> None:
    status, headers, body = fetch(ui, "/")
    assert status == 200
    assert body.decode() == INDEX_HTML
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year_with_their_type(ui: tuple[str, int]) -> None:
    status, headers, body = fetch(ui, f"/{ASSET}")
    assert status == 200 and body == b"console.log('camfleet');\n"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, _ = fetch(ui, "/assets/index-D2f0a1Zz.css")
    assert (status, headers["content-type"]) == (200, "text/css; charset=utf-8")


def test_unhashed_files_are_revalidated(ui: tuple[str, int]) -> None:
    status, headers, _ = fetch(ui, "/favicon.svg")
    assert (status, headers["content-type"]) == (200, "image/svg+xml")
    assert headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("route", ["/cameras", "/cameras/42/recordings", "/login?next=%2Fgrid"])
def test_client_side_routes_get_the_app(ui: tuple[str, int], route: str) -> None:
    status, headers, body = fetch(ui, route)
    assert (status, body.decode()) == (200, INDEX_HTML)
    assert headers["cache-control"] == "no-cache"


def test_a_missing_file_is_a_404_not_the_app(ui: tuple[str, int]) -> None:
    status, _, body = fetch(ui, "/assets/index-OLDHASH.js")
    assert status == 404
    assert b"<html" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2E%2E/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/assets/..%5c..%5csecret.txt",
        "/escape.txt",
        "//etc/os-release.txt",
        "/%00index.html",
    ],
)
def test_nothing_outside_dist_is_served(ui: tuple[str, int], path: str) -> None:
    status, _, body = fetch(ui, path)
    assert b"not for browsers" not in body and b"root:" not in body
    assert status in (400, 404), (status, body[:200])


def test_an_absolute_looking_path_is_a_client_route_not_a_file(ui: tuple[str, int]) -> None:
    status, _, body = fetch(ui, "//etc/passwd")
    assert (status, body.decode()) == (200, INDEX_HTML)


def test_head_works_and_writes_are_refused(ui: tuple[str, int]) -> None:
    status, headers, body = fetch(ui, "/", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(INDEX_HTML))
    status, _, _ = fetch(ui, "/index.html", method="POST")
    assert status == 405


def test_an_unbuilt_ui_says_how_to_build_it(tmp_path: Path) -> None:
    with running_ui_server(tmp_path / "no-dist") as address:
        status, headers, body = fetch(address, "/")
    assert status == 503
    assert b"npm run build" in body
    assert headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("listen", ["8081", "127.0.0.1:http", "127.0.0.1:70000", ":8081"])
def test_a_bad_listen_address_is_refused_clearly(listen: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server.ui", "--listen", listen, "--dist", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"--listen must be HOST:PORT, got {listen!r}" in done.stderr
