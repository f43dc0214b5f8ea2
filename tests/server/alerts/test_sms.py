"""The SMS channel (server/alerts/senders/sms.py) against real receivers:

- Kannel from Debian (bearerbox + smsbox, harness/kannel.py) with kannel-extras' fakesmsc as
  the carrier: the test reads what the carrier received;
- the Twilio-compatible provider is a local aiohttp server speaking Twilio's documented REST
  shape (POST /2010-04-01/Accounts/{Sid}/Messages.json, form To/From/Body, Basic auth): the one
  part that cannot run here (a cloud API), so it is the one stand-in of these tests."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from harness.kannel import Kannel, kannel
from harness.ports import free_port
from server.alerts.model import (
    Channel,
    Notification,
    NotificationKind,
    NotificationStatus,
    SmsConfig,
    SmsProvider,
)
from server.alerts.senders.sms import send_sms
from server.alerts.senders.text import sms_length
from tests.server.alerts.test_text import payload

SID = "AC0123456789abcdef"
TOKEN = "twilio-token-1"


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Kannel]:
    async with kannel(tmp_path_factory.mktemp("kannel")) as running:
        yield running


def notification(**kwargs: object) -> Notification:
    p = payload(**kwargs)  # type: ignore[arg-type]
    p["id"] = "msg_" + uuid.uuid4().hex
    return Notification(
        id=p["id"],
        channel_id="ch-sms",
        kind=NotificationKind(p["kind"]),
        status=NotificationStatus.QUEUED,
        summary=p["summary"],
        payload=p,
    )


def channel(provider: SmsProvider, url: str, account: str, secret: str, *to: str) -> Channel:
    config = SmsConfig(provider, url, account, "+15550001111", tuple(to or ("+4915112345678",)))
    return Channel(id="ch-sms", name="on-call SMS", config=config, secret=secret)


def number() -> str:
    return "+49151" + "".join(secrets.choice("0123456789") for _ in range(7))


# --- Kannel ----------------------------------------------------------------------------------


async def test_kannel_delivers_one_sms_per_recipient_to_the_carrier(gateway: Kannel) -> None:
    before = len(gateway.received())
    one, two = number(), number()
    ch = channel(
        SmsProvider.KANNEL, gateway.sendsms_url, gateway.username, gateway.password, one, two
    )
    result = await send_sms(ch, notification())
    assert result.ok, result
    assert result.response_code == 202 and "Accepted for delivery" in result.response
    got = (await gateway.wait_received(before + 2))[before:]
    assert sorted(m.receiver for m in got) == sorted([one, two])
    assert {m.sender for m in got} == {"+15550001111"}
    assert {m.text for m in got} == {"FIRING: camera Lobby is offline"}


async def test_kannel_sends_a_non_gsm_text_as_ucs2_within_70_characters(gateway: Kannel) -> None:
    before = len(gateway.received())
    to = number()
    ch = channel(SmsProvider.KANNEL, gateway.sendsms_url, gateway.username, gateway.password, to)
    long_name = "Büro ✓ " + "Nordflügel " * 10
    result = await send_sms(ch, notification(summary=f"Kamera {long_name} ist offline"))
    assert result.ok, result
    (got,) = (await gateway.wait_received(before + 1))[before:]
    assert got.receiver == to and got.coding == "ucs-2"
    assert got.text.startswith("FIRING: Kamera Büro ✓ Nordflügel") and got.text.endswith("…")
    assert sms_length(got.text) <= 70


async def test_kannel_bare_url_gets_the_sendsms_path(gateway: Kannel) -> None:
    before = len(gateway.received())
    base = gateway.sendsms_url.removesuffix("/cgi-bin/sendsms")
    ch = channel(SmsProvider.KANNEL, base, gateway.username, gateway.password, number())
    assert (await send_sms(ch, notification())).ok
    await gateway.wait_received(before + 1)


async def test_kannel_wrong_password_is_refused_for_good(gateway: Kannel) -> None:
    before = len(gateway.received())
    ch = channel(SmsProvider.KANNEL, gateway.sendsms_url, gateway.username, "not-the-password")
    result = await send_sms(ch, notification())
    assert not result.ok and result.permanent, result
    assert result.response_code == 403
    assert "Kannel refused the username or password" in result.error
    assert "Authorization failed" in result.error
    await asyncio.sleep(1.0)  # nothing reaches the carrier meanwhile
    assert len(gateway.received()) == before


async def test_kannel_down_is_retried() -> None:
    url = f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms"
    result = await send_sms(channel(SmsProvider.KANNEL, url, "user", "pw"), notification())
    assert not result.ok and not result.permanent, result
    assert "could not connect to 127.0.0.1" in result.error


# --- Twilio-compatible -----------------------------------------------------------------------


@dataclass
class Provider:
    """A local server in Twilio's REST shape; `mode` says how it answers."""

    url: str = ""
    mode: str = "ok"
    refused: set[str] = field(default_factory=set)
    received: list[dict[str, str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": 401}, status=401
            )
        form = await request.post()
        fields = {k: str(v) for k, v in form.items()}
        if self.mode == "hang":
            await self.release.wait()  # until the test ends
        if self.mode == "500":
            return web.Response(status=500, text="internal error")
        if self.mode == "429":
            return web.json_response({"code": 20429, "message": "Too Many Requests"}, status=429)
        if fields["To"] in self.refused:
            return web.json_response(
                {"code": 21211, "message": f"The 'To' number {fields['To']} is not valid."},
                status=400,
            )
        self.received.append({"account": request.match_info["sid"], **fields})
        return web.json_response(
            {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": fields["To"]}, status=201
        )


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    state = Provider()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", state.messages)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


async def test_twilio_posts_the_form_with_basic_auth(provider: Provider) -> None:
    one, two = number(), number()
    ch = channel(SmsProvider.TWILIO, provider.url, SID, TOKEN, one, two)
    result = await send_sms(ch, notification(summary="camera Lobby <b>&</b> is offline"))
    assert result.ok, result
    assert result.response_code == 201 and '"status": "queued"' in result.response
    assert sorted(m["To"] for m in provider.received) == sorted([one, two])
    for m in provider.received:
        assert m["account"] == SID and m["From"] == "+15550001111"
        assert m["Body"] == "FIRING: camera Lobby <b>&</b> is offline"


async def test_twilio_wrong_token_is_permanent(provider: Provider) -> None:
    result = await send_sms(channel(SmsProvider.TWILIO, provider.url, SID, "wrong"), notification())
    assert not result.ok and result.permanent and result.response_code == 401, result
    assert "the SMS provider answered 401" in result.error and "Authenticate" in result.error
    assert provider.received == []


async def test_provider_500_and_429_are_retried(provider: Provider) -> None:
    ch = channel(SmsProvider.TWILIO, provider.url, SID, TOKEN)
    for mode in ("500", "429"):
        provider.mode = mode
        result = await send_sms(ch, notification())
        assert not result.ok and not result.permanent, result
        assert result.response_code == int(mode)
        assert f"answered {mode}" in result.error
    assert provider.received == []


async def test_a_hanging_provider_times_out(provider: Provider) -> None:
    provider.mode = "hang"
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await send_sms(
        channel(SmsProvider.TWILIO, provider.url, SID, TOKEN), notification(), timeout_s=1.0
    )
    took = loop.time() - started
    assert not result.ok and not result.permanent, result
    assert result.error.endswith(": no answer within 1 s)"), result.error
    assert took < 10, took


async def test_a_retry_sends_only_to_recipients_still_missing_it(provider: Provider) -> None:
    one, two = number(), number()
    ch = channel(SmsProvider.TWILIO, provider.url, SID, TOKEN, one, two)
    note = notification()
    provider.refused = {two}
    first = await send_sms(ch, note)
    # A number the provider refuses for good: retrying cannot help.
    assert not first.ok and first.permanent, first
    assert f"{two}: the SMS provider answered 400" in first.error
    assert "is not valid" in first.error and "1 got it" in first.error
    provider.refused = set()
    second = await send_sms(ch, note)
    assert second.ok, second
    assert [m["To"] for m in provider.received] == [one, two]
    # Everyone has it now: a third attempt (a duplicate claim) sends nothing.
    assert (await send_sms(ch, note)).ok
    assert len(provider.received) == 2


async def test_a_non_sms_channel_or_bad_account_is_refused(provider: Provider) -> None:
    result = await send_sms(
        channel(SmsProvider.TWILIO, provider.url, "AC/../x", TOKEN), notification()
    )
    assert not result.ok and result.permanent and "account" in result.error
