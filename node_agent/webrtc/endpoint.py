"""WHEP over HTTP (RFC 9725), proxied by the node's nginx from its public HTTP port:

- POST /whep/<camera id>/<grant>/<expires>/<signature> with an SDP offer (application/sdp):
  201 with the answer and a `Location` naming the session; the URL is signed like the
  camera's live HLS (camfleet.playback, the same `live:` resource: both are watching live).
- DELETE /whep/sessions/<session id> (the `Location`): 200, the session ends; 404 with a
  reason for a session that does not exist (a second DELETE).
- OPTIONS on either: the CORS preflight a browser sends before a POST of application/sdp.

Refusals are sentences: 403 for a bad, tampered or expired link; 404 when the camera is not
live on this node; 400 for an offer that is not SDP, has no video or no H.264; 415 for another
content type; 503 (with Retry-After) beyond the node's session limit."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp import web
from camfleet.playback import GRANT_PATTERN

from node_agent.webrtc.offer import MAX_OFFER_BYTES, OfferRefused, check_offer
from node_agent.webrtc.sessions import Unavailable, WhepSessions

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
OFFER_PATH = re.compile(
    rf"^/whep/(?P<camera>{_UUID})/(?P<grant>{GRANT_PATTERN})/(?P<expires>[0-9]{{1,12}})/"
    r"(?P<sig>[A-Za-z0-9_-]{16,100})$"
)
SESSION_PATH = re.compile(r"^/whep/sessions/(?P<id>[A-Za-z0-9_-]{16,64})$")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Expose-Headers": "Location",
    "Access-Control-Max-Age": "600",
    "Cache-Control": "no-store",
}

# (camera id, grant, expires, signature) -> whether the signed live URL holds.
Authorize = Callable[[str, str, int, str], bool]
# camera id -> whether it is publishing on this node now.
IsLive = Callable[[str], bool]


def _text(status: int, sentence: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=sentence + "\n", headers={**_CORS, **headers})


class WhepEndpoint:
    """The /whep/ routes of the agent's HTTP API."""

    def __init__(self, sessions: WhepSessions, authorize: Authorize, is_live: IsLive) -> None:
        self.sessions = sessions
        self._authorize = authorize
        self._is_live = is_live

    def add_routes(self, app: web.Application) -> None:
        """Register the routes (the raw path is matched here, not by aiohttp's router)."""
        app.router.add_route("*", "/whep/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Dispatch on the raw path and method."""
        path = request.raw_path.split("?", 1)[0]
        offer, session = OFFER_PATH.match(path), SESSION_PATH.match(path)
        if offer is None and session is None:
            return _text(404, "There is no WHEP endpoint at this address.")
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=_CORS)
        if session is not None:
            if request.method != "DELETE":
                return _text(405, "A WHEP session accepts only DELETE.", Allow="DELETE, OPTIONS")
            if await self.sessions.close(session["id"]):
                return _text(200, "The session has ended.")
            return _text(404, "There is no such session: it has ended or never existed.")
        assert offer is not None
        if request.method != "POST":
            return _text(405, "A WHEP endpoint accepts only POST.", Allow="POST, OPTIONS")
        return await self._post(request, offer)

    async def _post(self, request: web.Request, match: re.Match[str]) -> web.Response:
        camera = match["camera"]
        if not self._authorize(camera, match["grant"], int(match["expires"]), match["sig"]):
            return _text(403, "This link is not valid or has expired.")
        if request.content_type != "application/sdp":
            return _text(415, "An offer must be sent as application/sdp.")
        if request.content_length is not None and request.content_length > MAX_OFFER_BYTES:
            return _text(400, f"The offer is larger than {MAX_OFFER_BYTES} bytes.")
        try:
            sdp = check_offer(await request.content.read(MAX_OFFER_BYTES + 1))
            if not self._is_live(camera):
                return _text(404, "The camera is not publishing on this node.")
            session_id, answer = await self.sessions.open(camera, sdp)
        except OfferRefused as refused:
            return _text(400, str(refused))
        except Unavailable as unavailable:
            return _text(503, str(unavailable), **{"Retry-After": "10"})
        return web.Response(
            status=201,
            text=answer,
            content_type="application/sdp",
            headers={**_CORS, "Location": f"/whep/sessions/{session_id}"},
        )
