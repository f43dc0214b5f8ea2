"""An aiohttp app that serves a built single-page app (Vite's `dist/`).

- A file under the directory is served with its content type; Vite's content-hashed files in
  `assets/` may be cached for a year, everything else is revalidated (`no-cache`), so a new
  build is seen on the next load.
- An unknown path without a file extension is a client-side route (`/cameras/42`): it gets
  index.html. An unknown path with an extension (`/missing.js`) is a 404, so a stale bundle
  fails loudly instead of being handed HTML.
- Nothing outside the directory is ever served: `..`, absolute parts and symlinks leading out
  are 404s.
- Every response carries the security headers of headers.py; index.html is served with a fresh
  style nonce in its body and CSP (so it is never answered from a validator: no ETag).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from aiohttp import web

from server.ui.headers import (
    ANY_WEB_ORIGIN,
    NONCE_PLACEHOLDER,
    STATIC_HEADERS,
    content_security_policy,
    new_nonce,
)

INDEX = "index.html"
# Vite writes content-hashed names here (`assets/index-B3x9k2.js`): safe to keep forever.
HASHED_DIR = "assets"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Types the platform's mimetypes table may lack or get wrong for a browser.
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".txt": "text/plain",
}
NOT_BUILT = (
    "The camfleet UI is not built yet: run ./start (it builds it), or `npm run build` in "
    "clients/web.\n"
)


def content_type(path: Path) -> str:
    """The Content-Type a browser expects for `path`."""
    suffix = path.suffix.lower()
    guessed = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    kind = guessed or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def resolve(root: Path, url_path: str) -> Path | None:
    """The file under `root` that `url_path` names, or None (missing, a directory, or outside).

    `root` must already be resolved. The URL path is decoded by aiohttp; any `..`, NUL or
    backslash is refused outright, and the resolved file (symlinks followed) must still lie
    under `root`."""
    if "\x00" in url_path or "\\" in url_path:
        return None
    parts = [p for p in PurePosixPath("/" + url_path).parts if p != "/"]
    if any(p in ("..", ".") for p in parts):
        return None
    candidate = root.joinpath(*parts).resolve() if parts else root
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _file(path: Path, cache_control: str, media_origins: Sequence[str]) -> web.FileResponse:
    # The app's policy (no nonce): it is what applies if a script file ever runs as a worker,
    # and a file opened directly (an SVG) gets no inline script either.
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type(path),
            "Cache-Control": cache_control,
            "Content-Security-Policy": content_security_policy(media_origins, None),
        },
    )


def _app_page(index: Path, media_origins: Sequence[str]) -> web.Response:
    """index.html with this response's own style nonce in place of the build's placeholder.

    A build without the placeholder gets no nonce: its style elements are refused, which the
    browser tests would show, rather than a policy that allows any inline style."""
    html = index.read_text(encoding="utf-8")
    nonce = new_nonce() if NONCE_PLACEHOLDER in html else None
    if nonce:
        html = html.replace(NONCE_PLACEHOLDER, nonce)
    return web.Response(
        text=html,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": REVALIDATE,
            "Content-Security-Policy": content_security_policy(media_origins, nonce),
        },
    )


def build_app(dist: Path, media_origins: Sequence[str] = ANY_WEB_ORIGIN) -> web.Application:
    """The static file app for the built UI in `dist` (which may not exist yet); the app's CSP
    lets it fetch and play media from `media_origins` (the nodes' HTTP servers)."""
    root = dist.resolve()
    # Errors (404s, 405s, the not-built page) render nothing active: they need no sources.
    locked = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    async def add_headers(_request: web.Request, response: web.StreamResponse) -> None:
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", locked)

    async def serve(request: web.Request) -> web.StreamResponse:
        url_path = request.match_info["path"]
        index = root / INDEX
        if not index.is_file():
            return web.Response(status=503, text=NOT_BUILT, headers={"Cache-Control": REVALIDATE})
        found = resolve(root, url_path)
        if found is not None:
            if found == index:
                return _app_page(index, media_origins)
            hashed = found.parent == root / HASHED_DIR
            return _file(found, IMMUTABLE if hashed else REVALIDATE, media_origins)
        last = PurePosixPath("/" + url_path).name
        if "." in last:
            raise web.HTTPNotFound(text=f"no such file: /{url_path}\n")
        # A client-side route: the app's router takes it from here.
        return _app_page(index, media_origins)

    app = web.Application()
    app.on_response_prepare.append(add_headers)
    app.router.add_get("/{path:.*}", serve)
    return app
