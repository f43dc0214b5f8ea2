"""The agent's HTTP API, called by its own nginx only: it listens on a Unix socket that only
nginx's workers may connect to (node_agent.nginx.access), so the fields of a notification
(the stream key, the publisher's address) are what nginx says.

- POST /rtmp/on_publish, /rtmp/on_publish_done: nginx-rtmp's form-encoded notifications. A 2xx
  lets a publish through; anything else refuses it (nginx fails closed, so an agent that is down
  refuses too).
- POST /rtmp/on_play: a recorder plays `<camera id>` with its one-time token (`rec`); the
  answer is a redirect to the stream's key, which nginx-rtmp applies locally (a rename), so the
  key is in no recorder's arguments. Every other play is refused.
- GET /auth/hls: nginx's auth_request for every HLS file: 200 or 403, nothing else (nginx serves
  the files through hls-by-camera/<camera id>, which the agent keeps linked; no key in a header).
- /recordings/, /vod/, /exports/: recorded media behind signed URLs, proxied by nginx
  (node_agent/recording_http.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from camfleet.playback import GRANT_PATTERN

from node_agent.recording_http import RecordedMedia

log = logging.getLogger(__name__)

# Same shape as the nginx location; anything else is refused before any lookup.
HLS_PATH = re.compile(
    rf"^/hls/(?P<camera>[0-9a-f-]{{36}})/(?P<grant>{GRANT_PATTERN})/"
    r"(?P<expires>[0-9]{1,12})/(?P<sig>[A-Za-z0-9_-]{16,100})/"
    r"(?P<file>[A-Za-z0-9_.-]{1,64}\.(?:m3u8|ts))$"
)
# nginx-rtmp's own limit on names is shorter; anything longer did not come from it.
_MAX_FIELD = 512
_MAX_BODY = 16_384
# The fields the agent reads; nginx also appends the publisher's query arguments, ignored here.
_FIELDS = ("call", "app", "name", "addr", "rec")


@dataclass(frozen=True)
class PublishDecision:
    """Whether a publish may go ahead, for which camera, and why not."""

    allowed: bool
    camera_id: str = ""
    reason: str = ""


class Callbacks(Protocol):
    """What the HTTP API asks of the agent."""

    async def on_publish(self, stream_key: str, remote_address: str) -> PublishDecision:
        """Decide on a publish of `stream_key` from `remote_address`."""
        ...

    async def on_publish_done(self, stream_key: str, remote_address: str) -> None:
        """A publisher went away."""
        ...

    def hls_allowed(self, camera_id: str, grant: str, expires: int, signature: str) -> bool:
        """Whether a signed camera URL is valid and unexpired (and its files are linked)."""
        ...

    def on_play(self, camera_id: str, token: str) -> str | None:
        """The stream key a recorder holding `token` for `camera_id` plays, else None."""
        ...


def _field(form: dict[str, str], name: str) -> str:
    return form.get(name, "")


def build_app(callbacks: Callbacks, media: RecordedMedia | None = None) -> web.Application:
    """The aiohttp application serving nginx's callbacks (and recorded media, if given)."""

    async def read_form(request: web.Request) -> dict[str, str] | None:
        """The notification's fields, or None when it is not one nginx could have sent."""
        if request.content_length is not None and request.content_length > _MAX_BODY:
            return None
        try:
            data = await request.post()
        except (ValueError, UnicodeDecodeError, web.HTTPRequestEntityTooLarge):
            # HTTPRequestEntityTooLarge: a chunked body (no Content-Length) over the limit.
            return None
        form = {k: v for k, v in data.items() if isinstance(v, str)}
        # Refuse rather than truncate: a cut-down stream key could match another key.
        if any(len(form.get(name, "")) > _MAX_FIELD for name in _FIELDS):
            return None
        return form

    async def on_publish(request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None or _field(form, "call") != "publish" or _field(form, "app") != "live":
            return web.Response(status=400, text="malformed publish notification\n")
        key, address = _field(form, "name"), _field(form, "addr")
        if not key:
            return web.Response(status=403, text="a stream key is required\n")
        decision = await callbacks.on_publish(key, address)
        if decision.allowed:
            return web.Response(status=200, text="ok\n")
        log.info("refused publish from %s: %s", address, decision.reason)
        return web.Response(status=403, text=f"{decision.reason}\n")

    async def on_publish_done(request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None:
            return web.Response(status=400, text="malformed notification\n")
        await callbacks.on_publish_done(_field(form, "name"), _field(form, "addr"))
        return web.Response(status=200, text="ok\n")

    async def on_play(request: web.Request) -> web.Response:
        form = await read_form(request)
        if form is None or _field(form, "call") != "play" or _field(form, "app") != "live":
            return web.Response(status=400, text="malformed play notification\n")
        key = callbacks.on_play(_field(form, "name"), _field(form, "rec"))
        if key is None:
            return web.Response(status=403, text="play refused\n")
        # Not rtmp://: nginx-rtmp renames the play to this stream inside the same server.
        return web.Response(status=302, headers={"Location": key})

    async def auth_hls(request: web.Request) -> web.Response:
        match = HLS_PATH.match(request.headers.get("X-Original-URI", "").split("?", 1)[0])
        if match is None:
            return web.Response(status=403)
        allowed = callbacks.hls_allowed(
            match["camera"], match["grant"], int(match["expires"]), match["sig"]
        )
        return web.Response(status=200 if allowed else 403)

    app = web.Application(client_max_size=_MAX_BODY)
    app.router.add_post("/rtmp/on_publish", on_publish)
    app.router.add_post("/rtmp/on_publish_done", on_publish_done)
    app.router.add_post("/rtmp/on_play", on_play)
    app.router.add_get("/auth/hls", auth_hls)
    if media is not None:
        media.add_routes(app)
    return app
