"""nginx's auth_request for the ladder's files (/abr/<camera id>/<grant>/<expires>/<signature>/
<file>): the same signature as the camera's live HLS; a valid request also keeps the camera's
ladder running (node_agent.ladder.manager), and one for the master playlist waits (bounded) for
the ladder's first segments, so a player's first request gets the playlist, not a 404."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from camfleet.playback import GRANT_PATTERN

from node_agent.ladder.plan import MASTER

# Same shape as nginx's location (node_agent.nginx.config.ABR_LOCATION).
ABR_PATH = re.compile(
    rf"^/abr/(?P<camera>[0-9a-f-]{{36}})/(?P<grant>{GRANT_PATTERN})/"
    r"(?P<expires>[0-9]{1,12})/(?P<sig>[A-Za-z0-9_-]{16,100})/"
    r"(?P<file>[A-Za-z0-9_.-]{1,64}\.(?:m3u8|ts))$"
)
# How long the first request for a master playlist may wait for the ladder to start.
MASTER_WAIT_S = 25.0

# (camera id, grant, expires, signature) -> whether the signed URL is valid.
SignatureCheck = Callable[[str, str, int, str], bool]
# (camera id, seconds to wait for its master playlist) -> whether the ladder is ready.
Demand = Callable[[str, float], Awaitable[bool]]


def add_routes(app: web.Application, signed: SignatureCheck, demand: Demand) -> None:
    """GET /auth/abr on the agent's API: 200 or 403, nothing else (nginx's auth_request)."""

    async def auth_abr(request: web.Request) -> web.Response:
        match = ABR_PATH.match(request.headers.get("X-Original-URI", "").split("?", 1)[0])
        if match is None or not signed(
            match["camera"], match["grant"], int(match["expires"]), match["sig"]
        ):
            return web.Response(status=403)
        # Whether or not the ladder is up: nginx answers 404 for a file that is not there.
        await demand(match["camera"], MASTER_WAIT_S if match["file"] == MASTER else 0.0)
        return web.Response(status=200)

    app.router.add_get("/auth/abr", auth_abr)
