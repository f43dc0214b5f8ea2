"""The UI's static file server (`python -m server.ui`) as a browser sees it: files with the
right types and caching, client-side routes falling back to index.html, nothing outside dist."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import ROOT
from server.ui.headers import parse_origins
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


def _refused_usage(*args: str) -> str:
    """`python -m server.ui args`, which must exit 2 (a usage error); what it said on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "server.ui", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    return done.stderr


@pytest.mark.parametrize("listen", ["8081", "127.0.0.1:http", "127.0.0.1:70000", ":8081"])
def test_a_bad_listen_address_is_refused_clearly(listen: str, tmp_path: Path) -> None:
    stderr = _refused_usage("--listen", listen, "--dist", str(tmp_path))
    assert f"--listen must be HOST:PORT, got {listen!r}" in stderr


# --- Security headers: what a browser is told about framing, sniffing, scripts and styles ---

MEDIA = "http://127.0.0.1:8088"


def policy(headers: dict[str, str]) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: sources}."""
    directives = [d.split() for d in headers["content-security-policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def assert_hardened(headers: dict[str, str]) -> dict[str, list[str]]:
    """Headers every response carries; returns the parsed CSP."""
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    csp = policy(headers)
    assert csp["frame-ancestors"] == ["'none'"]
    return csp


@pytest.fixture(scope="module")
def built_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A build with Vite's style-nonce placeholder, one node origin configured for media."""
    dist = make_dist(tmp_path_factory.mktemp("built-ui"), nonce_placeholder=True)
    with running_ui_server(dist, "--media-origins", f"{MEDIA}/") as address:
        yield address


@pytest.mark.parametrize("route", ["/", "/index.html", "/cameras/42"])
def test_the_app_page_allows_only_its_own_scripts_and_no_framing(
    built_ui: tuple[str, int], route: str
) -> None:
    status, headers, body = fetch(built_ui, route)
    assert status == 200
    csp = assert_hardened(headers)
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    # The API is this origin; video comes from the configured node (hls.js feeds MSE: blob:).
    assert csp["connect-src"] == ["'self'", "data:", MEDIA]
    assert csp["media-src"] == ["'self'", "blob:", MEDIA]
    # Styles: this origin's files and Mantine's <style> elements carrying this page's nonce.
    nonce = re.search(r'<meta property="csp-nonce" nonce="([A-Za-z0-9_-]{16,})">', body.decode())
    assert nonce, body
    assert csp["style-src"] == ["'self'", f"'nonce-{nonce[1]}'"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "CAMFLEET_CSP_NONCE" not in body.decode()
    assert headers["cache-control"] == "no-cache"
    assert "etag" not in headers and "last-modified" not in headers  # never a 304 of an old nonce


def test_every_page_load_gets_a_new_style_nonce(built_ui: tuple[str, int]) -> None:
    nonces = {policy(fetch(built_ui, "/")[1])["style-src"][1] for _ in range(5)}
    assert len(nonces) == 5


def test_files_carry_the_headers_too(built_ui: tuple[str, int]) -> None:
    for path in (f"/{ASSET}", "/assets/index-D2f0a1Zz.css", "/favicon.svg"):
        status, headers, _ = fetch(built_ui, path)
        assert status == 200, path
        csp = assert_hardened(headers)
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"], path


@pytest.mark.parametrize("path", ["/assets/index-OLDHASH.js", "/../secret.txt"])
def test_errors_carry_a_policy_that_allows_nothing(built_ui: tuple[str, int], path: str) -> None:
    status, headers, _ = fetch(built_ui, path)
    assert status in (400, 404)
    assert assert_hardened(headers)["default-src"] == ["'none'"]
    status, headers, _ = fetch(built_ui, "/", method="POST")
    assert status == 405
    assert assert_hardened(headers)["default-src"] == ["'none'"]


def test_without_a_nonce_placeholder_no_inline_style_is_allowed(ui: tuple[str, int]) -> None:
    status, headers, body = fetch(ui, "/")
    assert (status, body.decode()) == (200, INDEX_HTML)
    assert assert_hardened(headers)["style-src"] == ["'self'"]


def test_media_may_come_from_any_web_origin_when_none_is_configured(ui: tuple[str, int]) -> None:
    csp = policy(fetch(ui, "/")[1])
    assert csp["connect-src"] == ["'self'", "data:", "http:", "https:"]
    assert csp["media-src"] == ["'self'", "blob:", "http:", "https:"]
    assert csp["script-src"] == ["'self'"]


def test_media_origins_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMFLEET_UI_MEDIA_ORIGINS", "http://node1:8088, https://[::1]:9443")
    with running_ui_server(make_dist(tmp_path)) as address:
        csp = policy(fetch(address, "/")[1])
    assert csp["connect-src"] == ["'self'", "data:", "http://node1:8088", "https://[::1]:9443"]
    assert csp["media-src"] == ["'self'", "blob:", "http://node1:8088", "https://[::1]:9443"]


@pytest.mark.parametrize(
    "origins",
    ["node1:8088", "ftp://node1", "http://node1:8088/path", "http://node1:99999", "javascript:x"],
)
def test_a_bad_media_origin_is_refused_clearly(origins: str, tmp_path: Path) -> None:
    stderr = _refused_usage("--dist", str(tmp_path), "--media-origins", origins)
    assert "--media-origins: a media origin is scheme://host[:port]" in stderr
    assert repr(origins) in stderr


def test_compose_allows_media_from_the_node_it_runs() -> None:
    """compose's UI names node-1's public HTTPS origin, the one its signed HLS URLs use."""
    import yaml

    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    node = services["node-agent"]["environment"]
    port = node["CAMFLEET_HTTP_LISTEN"].rpartition(":")[2]
    assert node["CAMFLEET_HTTP_TLS_CERT"]  # the node serves HTTPS
    node_origin = f"https://{node['CAMFLEET_PUBLIC_HOST']}:{port}"
    assert services["ui"]["environment"]["CAMFLEET_UI_MEDIA_ORIGINS"] == node_origin
    assert parse_origins(re.sub(r"\$\{CAMFLEET_PUBLIC_HOST[^}]*\}", "cams.example", node_origin))
