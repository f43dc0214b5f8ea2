"""node_agent.http_api on a real listener (loopback TCP here; the agent serves it on its Unix
socket): what nginx's notifications, recorders' plays and auth subrequests get back, that no
answer carries a stream key but the play redirect nginx consumes itself, and that nothing
malformed reaches the agent's callbacks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from node_agent.http_api import PublishDecision, build_app

GOOD_KEY = "k" * 32
CAMERA = str(uuid.uuid4())
SIGNATURE = "s" * 43
GRANT = "1764590400.user-1"
TOKEN = "t" * 32


@dataclass
class Recorder:
    """Callbacks that remember every call; GOOD_KEY may publish, (CAMERA, SIGNATURE) may play."""

    publishes: list[tuple[str, str]] = field(default_factory=list)
    dones: list[tuple[str, str]] = field(default_factory=list)
    hls: list[tuple[str, str, int, str]] = field(default_factory=list)
    plays: list[tuple[str, str]] = field(default_factory=list)

    async def on_publish(self, stream_key: str, remote_address: str) -> PublishDecision:
        self.publishes.append((stream_key, remote_address))
        if stream_key == GOOD_KEY:
            return PublishDecision(allowed=True, camera_id=CAMERA)
        return PublishDecision(allowed=False, reason="unknown stream key")

    async def on_publish_done(self, stream_key: str, remote_address: str) -> None:
        self.dones.append((stream_key, remote_address))

    def hls_allowed(self, camera_id: str, grant: str, expires: int, signature: str) -> bool:
        self.hls.append((camera_id, grant, expires, signature))
        return (camera_id, signature) == (CAMERA, SIGNATURE)

    def on_play(self, camera_id: str, token: str) -> str | None:
        self.plays.append((camera_id, token))
        return GOOD_KEY if (camera_id, token) == (CAMERA, TOKEN) else None


@dataclass
class Api:
    client: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    calls: Recorder


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    calls = Recorder()
    async with TestClient(TestServer(build_app(calls), host="127.0.0.1")) as client:
        yield Api(client, calls)


def publish_form(**overrides: str) -> dict[str, str]:
    """What nginx-rtmp 1.2 posts for a publish (captured from a live nginx)."""
    form = {
        "app": "live",
        "flashver": "FMLE/3.0 (compatible; Lavf59.27",
        "swfurl": "",
        "tcurl": "rtmp://127.0.0.1:1935/live",
        "pageurl": "",
        "addr": "127.0.0.1",
        "clientid": "3",
        "call": "publish",
        "name": GOOD_KEY,
        "type": "live",
    }
    form.update(overrides)
    return form


async def test_known_key_may_publish(api: Api) -> None:
    response = await api.client.post("/rtmp/on_publish", data=publish_form())
    assert response.status == 200
    assert api.calls.publishes == [(GOOD_KEY, "127.0.0.1")]


async def test_unknown_key_is_refused_with_the_reason(api: Api) -> None:
    response = await api.client.post("/rtmp/on_publish", data=publish_form(name="wrong"))
    assert response.status == 403
    assert await response.text() == "unknown stream key\n"
    assert api.calls.publishes == [("wrong", "127.0.0.1")]


async def test_publisher_query_arguments_do_not_matter(api: Api) -> None:
    # nginx appends the publish URL's query (rtmp://…/live/key?x=1) as extra form fields.
    response = await api.client.post("/rtmp/on_publish", data=publish_form(x="1" * 600))
    assert response.status == 200
    assert api.calls.publishes == [(GOOD_KEY, "127.0.0.1")]


async def _chunked_body(size: int) -> AsyncIterator[bytes]:
    yield b"call=publish&app=live&name="
    for _ in range(size // 1000):
        yield b"k" * 1000


@pytest.mark.parametrize(
    ("body", "content_type", "status", "text"),
    [
        (None, None, 400, "malformed publish notification\n"),
        (b"", "application/x-www-form-urlencoded", 400, "malformed publish notification\n"),
        (b'{"call": "publish", "app": "live", "name": "' + GOOD_KEY.encode() + b'"}',
         "application/json", 400, "malformed publish notification\n"),
        (b"call=publish&app=live&name=" + GOOD_KEY.encode() + b"&addr=\xff\xfe",
         "application/x-www-form-urlencoded", 400, "malformed publish notification\n"),
        (b"--x\r\n", "multipart/form-data", 400, "malformed publish notification\n"),
        (b"call=play&app=live&name=" + GOOD_KEY.encode(),
         "application/x-www-form-urlencoded", 400, "malformed publish notification\n"),
        (b"call=publish&app=other&name=" + GOOD_KEY.encode(),
         "application/x-www-form-urlencoded", 400, "malformed publish notification\n"),
        (b"app=live&name=" + GOOD_KEY.encode(),
         "application/x-www-form-urlencoded", 400, "malformed publish notification\n"),
        (b"call=publish&app=live&name=", "application/x-www-form-urlencoded", 403,
         "a stream key is required\n"),
        (b"call=publish&app=live", "application/x-www-form-urlencoded", 403,
         "a stream key is required\n"),
        # A key longer than any nginx sends, starting with a valid key: refused, not truncated.
        (b"call=publish&app=live&name=" + GOOD_KEY.encode() * 20,
         "application/x-www-form-urlencoded", 400, "malformed publish notification\n"),
        # Over the body limit with a Content-Length…
        (b"call=publish&app=live&name=" + b"k" * 20_000,
         "application/x-www-form-urlencoded", 400, "malformed publish notification\n"),
    ],
    ids=["no body", "empty form", "json", "bad utf-8", "broken multipart", "wrong call",
         "wrong app", "no call", "empty key", "no key", "overlong key", "huge body"],
)  # fmt: skip
async def test_malformed_publish_notifications_never_reach_the_agent(
    api: Api, body: bytes | None, content_type: str | None, status: int, text: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.client.post("/rtmp/on_publish", data=body, headers=headers)
    assert response.status == status
    assert await response.text() == text
    assert api.calls.publishes == []


async def test_huge_chunked_body_is_refused(api: Api) -> None:
    # …and without one (chunked): the same answer, not aiohttp's 413.
    response = await api.client.post(
        "/rtmp/on_publish",
        data=_chunked_body(100_000),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert response.status == 400
    assert await response.text() == "malformed publish notification\n"
    assert api.calls.publishes == []


async def test_publish_is_post_only(api: Api) -> None:
    response = await api.client.get("/rtmp/on_publish", params=publish_form())
    assert response.status == 405
    assert api.calls.publishes == []


@pytest.mark.parametrize(
    "form",
    [
        {"call": "publish_done", "app": "live", "name": GOOD_KEY, "addr": "127.0.0.1"},
        # A key the agent does not know, or none: still acknowledged.
        {"call": "publish_done", "app": "live", "name": "gone", "addr": "127.0.0.1"},
        {"call": "publish_done", "app": "live"},
        {},
    ],
)
async def test_publish_done_is_always_acknowledged(api: Api, form: dict[str, str]) -> None:
    response = await api.client.post("/rtmp/on_publish_done", data=form)
    assert response.status == 200
    assert api.calls.dones == [(form.get("name", ""), form.get("addr", ""))]


async def test_publish_done_with_unreadable_body_does_not_reach_the_agent(api: Api) -> None:
    response = await api.client.post(
        "/rtmp/on_publish_done",
        data=b"name=" + b"k" * 20_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 400
    assert api.calls.dones == []


def hls_uri(camera: str = CAMERA, expires: str = "1900000000", sig: str = SIGNATURE,
            file: str = "index.m3u8", grant: str = GRANT) -> str:  # fmt: skip
    return f"/hls/{camera}/{grant}/{expires}/{sig}/{file}"


def no_key_in(response: aiohttp.ClientResponse) -> None:
    """Neither headers nor body of an answer name the stream key."""
    assert all(GOOD_KEY not in f"{k}: {v}" for k, v in response.headers.items())


async def test_hls_auth_answers_yes_and_nothing_else(api: Api) -> None:
    for uri in (hls_uri(), hls_uri(file="12.ts"), hls_uri() + "?cache=1"):
        response = await api.client.get("/auth/hls", headers={"X-Original-URI": uri})
        assert response.status == 200, uri
        no_key_in(response)
        assert "X-Stream-Dir" not in response.headers
        assert await response.read() == b""
    assert api.calls.hls == [(CAMERA, GRANT, 1900000000, SIGNATURE)] * 3


async def test_hls_auth_refuses_when_the_agent_says_no(api: Api) -> None:
    response = await api.client.get("/auth/hls", headers={"X-Original-URI": hls_uri(sig="t" * 43)})
    assert response.status == 403
    no_key_in(response)
    assert api.calls.hls == [(CAMERA, GRANT, 1900000000, "t" * 43)]


def play_form(**overrides: str) -> dict[str, str]:
    """What nginx-rtmp 1.2 posts for a play (captured from a live nginx; the play URL's query
    arguments are appended as fields)."""
    form = {
        "app": "live", "flashver": "LNX 9,0,124,2", "swfurl": "",
        "tcurl": "rtmp://127.0.0.1:1935/live", "pageurl": "", "addr": "127.0.0.1",
        "clientid": "9", "call": "play", "name": CAMERA, "start": "4294965296",
        "duration": "0", "reset": "0", "rec": TOKEN,
    }  # fmt: skip
    form.update(overrides)
    return form


async def test_a_recorder_with_its_token_is_redirected_to_the_stream(api: Api) -> None:
    response = await api.client.post("/rtmp/on_play", data=play_form(), allow_redirects=False)
    assert response.status == 302
    # A name, not rtmp://...: nginx-rtmp renames the play locally (only nginx sees this).
    assert response.headers["Location"] == GOOD_KEY
    assert api.calls.plays == [(CAMERA, TOKEN)]


@pytest.mark.parametrize(
    "form",
    [
        play_form(rec="x" * 32),
        play_form(rec=""),
        {k: v for k, v in play_form().items() if k != "rec"},
        play_form(name=GOOD_KEY, rec=""),
        play_form(name=str(uuid.uuid4())),
    ],
)
async def test_other_plays_are_refused(api: Api, form: dict[str, str]) -> None:
    response = await api.client.post("/rtmp/on_play", data=form, allow_redirects=False)
    assert response.status == 403
    no_key_in(response)
    assert GOOD_KEY.encode() not in await response.read()


@pytest.mark.parametrize("form", [play_form(call="publish"), play_form(app="other"), {}])
async def test_malformed_plays_do_not_reach_the_agent(api: Api, form: dict[str, str]) -> None:
    response = await api.client.post("/rtmp/on_play", data=form, allow_redirects=False)
    assert response.status == 400
    assert api.calls.plays == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Original-URI": ""},
        {"X-Original-URI": "/"},
        {"X-Original-URI": hls_uri().replace("/hls/", "/vod/")},
        {"X-Original-URI": hls_uri(camera=CAMERA.upper())},
        {"X-Original-URI": hls_uri(expires="1" * 13)},
        {"X-Original-URI": hls_uri(sig="short")},
        {"X-Original-URI": hls_uri(file="index.mp4")},
        {"X-Original-URI": hls_uri(file="../index.m3u8")},
        {"X-Original-URI": hls_uri(file="%2e%2e%2findex.m3u8")},
        {"X-Original-URI": hls_uri() + "/extra"},
        {"X-Original-URI": "http://127.0.0.1" + hls_uri()},
        # Only the header counts, never the auth request's own URL.
        {"X-Forwarded-Uri": hls_uri()},
    ],
)
async def test_hls_auth_without_a_well_formed_uri_is_refused(
    api: Api, headers: dict[str, str]
) -> None:
    response = await api.client.get("/auth/hls", headers=headers)
    assert response.status == 403
    no_key_in(response)
    assert api.calls.hls == []
