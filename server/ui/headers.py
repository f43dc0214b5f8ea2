"""The security headers every response of the UI server carries, and the page's CSP.

The policy allows no inline script and no eval (`script-src 'self'`: Vite emits only module
files), no framing by anyone (`frame-ancestors 'none'`, plus `X-Frame-Options: DENY` for
browsers without CSP level 2), no plugins and no `<base>` rewriting.

Styles: Mantine injects `<style>` elements (its theme's CSS variables, breakpoint classes,
responsive props). Rather than `'unsafe-inline'`, index.html is served with a fresh nonce per
response: the build writes a placeholder (Vite's `html.cspNonce`) into a `<meta
property="csp-nonce">`, this server replaces it, and the app hands it to MantineProvider's
`getStyleNonce`. React sets `style` props through the CSSOM, which CSP does not govern.

Media: live and recorded video come from the nodes' HTTP servers, which are other origins
(`http://127.0.0.1:8088` in `./start`). hls.js fetches playlists and segments (connect-src) and
feeds the <video> through Media Source Extensions (media-src blob:). The nodes' origins are
configurable (`--media-origins`); left unset, any http(s) origin is allowed for media and
fetches only, because nodes register at run time under whatever public host they are given
and the UI server has no list of them; script, style and framing stay locked to this origin
either way. A recording spread over several nodes (or in the cold tier) comes as a VOD playlist
the control plane writes inline, a `data:` URL (server/recordings/vod.py), which hls.js fetches:
connect-src allows `data:` (a fetch of inline bytes sends nothing anywhere). hls.js's ESM build
runs no blob: worker, so worker-src stays 'self'.

Referrer-Policy is no-referrer: nothing in the platform reads a Referer, the UI's routes live
in the URL fragment (never sent) and the nodes learn the page's origin from CORS's Origin header
anyway, so the strictest policy costs nothing. (Chromium still sends the real Origin on the
page's own fetch POSTs under it, which the edge's CORS allow-list sees: checked in
tests/browser/test_security.py.)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

# Written into index.html by the build (clients/web/vite.config.ts `html.cspNonce`).
NONCE_PLACEHOLDER = "CAMFLEET_CSP_NONCE"
# Any http(s) origin: the media default when the nodes' origins are not configured.
ANY_WEB_ORIGIN = ("http:", "https:")
_ORIGIN = re.compile(r"^https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")

# Sent on every response (files, the app, 404s): cheap, and a stray HTML error page is then
# no easier to frame or sniff than the app.
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # A page that opens the UI in a window gets no handle on it (no tabnabbing, no counting
    # its frames); the UI opens exports with noopener, so it loses nothing.
    "Cross-Origin-Opener-Policy": "same-origin",
}


def parse_origins(text: str) -> tuple[str, ...]:
    """Origins from a comma- or space-separated list (`http://h:8088, https://n2`); an empty
    text means "not configured" (the default, any http(s) origin). ValueError says which entry
    is not an origin."""
    entries = [e for e in re.split(r"[,\s]+", text.strip()) if e]
    origins = []
    for entry in entries:
        trimmed = entry.rstrip("/")
        port = trimmed.rpartition(":")[2]
        if not _ORIGIN.match(trimmed) or (port.isdigit() and not 0 < int(port) < 65536):
            raise ValueError(
                f"a media origin is scheme://host[:port] with scheme http or https, got {entry!r}"
            )
        origins.append(trimmed)
    return tuple(origins) or ANY_WEB_ORIGIN


def content_security_policy(media_origins: Sequence[str], style_nonce: str | None) -> str:
    """The CSP for the app; `style_nonce` (from this response's index.html) allows Mantine's
    style elements, and without one only style files from this origin apply."""
    media = " ".join(media_origins)
    styles = f"'self' 'nonce-{style_nonce}'" if style_nonce else "'self'"
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src {styles}",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src 'self' data: {media}",
        f"media-src 'self' blob: {media}",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def new_nonce() -> str:
    """A fresh nonce for one response (128 bits, URL-safe base64: valid in CSP and HTML)."""
    return secrets.token_urlsafe(16)
