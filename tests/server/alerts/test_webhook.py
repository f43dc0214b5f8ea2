"""The webhook sender (server/alerts/senders/webhook.py over senders/http.py) against real
aiohttp servers: signed per Standard Webhooks and verified by the `standardwebhooks` package,
https verified against a certificate the test made, a receiver answering 10 MB costs no more
than the cap, hanging and dripping receivers time out, redirects are not followed, bad URLs
are refused before any request."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import ssl
import subprocess
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from server.alerts.channel_config import new_webhook_secret
from server.alerts.model import (
    Channel,
    Notification,
    NotificationKind,
    NotificationStatus,
    WebhookConfig,
)
from server.alerts.senders import SendResult
from server.alerts.senders.http import MAX_BYTES
from server.alerts.senders.webhook import WebhookSender
from tests.server.alerts.delivery_fixtures import webhook_receiver

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def channel(url: str, secret: str, timeout_s: float = 5.0) -> Channel:
    return Channel(id="c1", name="hook", config=WebhookConfig(url, timeout_s), secret=secret)


def notification(nid: str = "msg_0123456789abcdef0123456789abcdef") -> Notification:
    payload = {
        "version": "1",
        "id": nid,
        "kind": "firing",
        "summary": "node edge-2 lost (5 cameras affected) — Ünïcode ok",
        "alerts": [{"id": "a1", "labels": {"camera_name": "Lobby\r\nBcc: x@example.org"}}],
    }
    return Notification(nid, "c1", NotificationKind.FIRING, NotificationStatus.QUEUED, "s", payload)


@asynccontextmanager
async def server(handler: Handler, path: str = "/hook") -> AsyncIterator[str]:
    """A plain aiohttp server with one POST route; yields its base URL."""
    app = web.Application()
    app.router.add_post(path, handler)
    # Handlers still running (a hanging receiver) are cancelled at once when it stops.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_requests_are_signed_per_standard_webhooks() -> None:
    secret = new_webhook_secret()
    note = notification()
    async with webhook_receiver(secret) as receiver:
        before = time.time()
        result = await WebhookSender()(channel(receiver.url, secret), note)
    assert result == SendResult(ok=True, response_code=204)
    assert receiver.bad_signatures == 0
    [got] = receiver.received
    assert got.webhook_id == note.id
    assert got.payload == note.payload
    assert before - 1 <= int(got.timestamp) <= time.time()


async def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body() -> None:
    secret = new_webhook_secret()
    seen: dict[str, object] = {}

    async def capture(request: web.Request) -> web.Response:
        seen["headers"] = dict(request.headers)
        seen["body"] = await request.read()
        return web.Response(status=200, text="thanks")

    note = notification()
    async with server(capture) as base:
        result = await WebhookSender(wall=lambda: 1_700_000_000.9)(
            channel(base + "/hook", secret), note
        )
    assert (result.ok, result.response_code, result.response) == (True, 200, "thanks")
    headers = seen["headers"]
    body = seen["body"]
    assert isinstance(headers, dict) and isinstance(body, bytes)
    assert headers["webhook-id"] == note.id
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["Content-Type"] == "application/json"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{note.id}.1700000000.".encode() + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    assert json.loads(body) == note.payload


async def test_a_receiver_with_another_secret_refuses_and_that_is_final() -> None:
    async with webhook_receiver(new_webhook_secret()) as receiver:
        result = await WebhookSender()(channel(receiver.url, new_webhook_secret()), notification())
        # A timestamp 10 minutes old is refused too (replay protection).
        secret = receiver.secret
        stale = await WebhookSender(wall=lambda: time.time() - 600)(
            channel(receiver.url, secret), notification()
        )
    assert receiver.bad_signatures == 2 and receiver.received == []
    assert (result.ok, result.response_code, result.permanent) == (False, 401, True)
    assert result.error == "the webhook receiver answered 401 (not retried)"
    assert (stale.ok, stale.response_code) == (False, 401)


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1 made with openssl; the client trusts it."""
    tmp: Path = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    return Tls(server_side, ssl.create_default_context(cafile=str(cert)))


async def test_https_receivers_are_verified(tls: Tls) -> None:
    secret = new_webhook_secret()
    async with webhook_receiver(secret, tls=tls.server) as receiver:
        assert receiver.url.startswith("https://")
        trusted = await WebhookSender(tls_context=tls.client)(
            channel(receiver.url, secret), notification()
        )
        # The system's authorities do not know the test's certificate.
        unknown = await WebhookSender()(channel(receiver.url, secret), notification())
    assert trusted.ok and receiver.ids() == [notification().id]
    assert not unknown.ok and not unknown.permanent
    assert "certificate" in unknown.error.lower()


async def test_a_10_mb_answer_costs_no_more_than_the_cap() -> None:
    chunk = b"x" * 65536
    written = 0

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal written
        await request.read()
        status = int(request.query.get("status", "200"))
        response = web.StreamResponse(status=status)
        response.content_length = 10 * 1024 * 1024
        await response.prepare(request)
        try:
            while written < 10 * 1024 * 1024:
                await response.write(chunk)
                written += len(chunk)
        except (ConnectionResetError, OSError):
            pass  # the sender hung up after its cap
        return response

    secret = new_webhook_secret()
    async with server(huge) as base:
        tracemalloc.start()
        try:
            began = time.perf_counter()
            ok = await WebhookSender()(channel(base + "/hook", secret), notification())
            elapsed = time.perf_counter() - began
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        failing = await WebhookSender()(channel(base + "/hook?status=500", secret), notification())
    assert (ok.ok, ok.response_code) == (True, 200)
    assert ok.response == "x" * 1024
    assert elapsed < 5
    # The whole exchange (client and this server's writes) under 3 MB: 10 MB were never held.
    assert peak < 3 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert (failing.ok, failing.response_code, failing.permanent) == (False, 500, False)
    assert MAX_BYTES == 64 * 1024


async def test_hanging_and_dripping_receivers_time_out() -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        for _ in range(300):
            await response.write(b"x")
            await asyncio.sleep(0.1)
        return response

    secret = new_webhook_secret()
    for handler in (hang, drip):
        async with server(handler) as base:
            began = time.perf_counter()
            result = await WebhookSender()(channel(base + "/hook", secret, 0.5), notification())
            elapsed = time.perf_counter() - began
        assert (result.ok, result.permanent, result.error) == (
            False,
            False,
            "no answer within 0.5 s",
        )
        assert elapsed < 5


async def test_redirects_are_not_followed_and_bad_urls_not_requested() -> None:
    hits: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPTemporaryRedirect("/elsewhere")

    secret = new_webhook_secret()
    async with server(moved) as base:
        result = await WebhookSender()(channel(base + "/hook", secret), notification())
    assert hits == ["/hook"]
    assert (result.ok, result.response_code, result.permanent) == (False, 307, True)
    assert "redirect" in result.error
    for url, says in [
        ("ftp://127.0.0.1/hook", "must start with http:// or https://"),
        ("http://user:pw@127.0.0.1:9/hook", "must not hold credentials"),
    ]:
        refused = await WebhookSender()(channel(url, secret), notification())
        assert (refused.ok, refused.permanent) == (False, True)
        assert says in refused.error
