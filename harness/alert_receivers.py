"""Real receivers of alert notifications for tests: an aiohttp webhook receiver that verifies
every request's Standard Webhooks signature with the `standardwebhooks` package, and an aiosmtpd
handler keeping what the SMTP server received (Kannel's fakesmsc is harness/kannel.py). Used by
tests/server/alerts and tests/e2e."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from harness.ports import free_port

# --- webhooks ----------------------------------------------------------------------------------


@dataclass
class Received:
    """One request the receiver accepted (signature verified)."""

    webhook_id: str
    timestamp: str
    payload: dict[str, Any]


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that verifies Standard Webhooks signatures. `answer`
    decides the reply (default 204); requests with a bad signature are answered 401 and counted
    in `bad_signatures`."""

    secret: str
    url: str = ""
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    answer: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.received]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        if self.answer is not None:
            reply = await self.answer(request)
            if not 200 <= reply.status < 300:
                return reply
        self.received.append(
            Received(
                request.headers["webhook-id"],
                request.headers["webhook-timestamp"],
                payload if isinstance(payload, dict) else json.loads(body),
            )
        )
        self.arrived.set()
        return web.Response(status=204)


@asynccontextmanager
async def webhook_receiver(
    secret: str,
    port: int = 0,
    tls: ssl.SSLContext | None = None,
    receiver: Receiver | None = None,
) -> AsyncIterator[Receiver]:
    """A started Receiver (stopped at the end); https with `tls`. Pass `receiver` (and its
    `port`) to serve an existing one again, with what it received so far."""
    receiver = receiver or Receiver(secret)
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls)
    await site.start()
    bound = runner.addresses[0][1]
    receiver.url = f"{'https' if tls else 'http'}://127.0.0.1:{bound}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


# --- e-mail ------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server received; recipients containing "refused" get a 550, "later" a
    451. `authenticate` accepts `user` / `password` only."""

    port: int = 0
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    user: str = ""
    password: str = ""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if "refused" in address:
            return "550 5.1.1 no such mailbox here"
        if "later" in address:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            bool(self.user)
            and isinstance(data, LoginPassword)
            and (data.login, data.password) == (self.user.encode(), self.password.encode())
        )
        if ok:
            self.logins.append(data.login.decode())
        # handled=False: aiosmtpd's default (True) sends no reply to a failed login at all.
        return AuthResult(success=ok, handled=False)

    def message(self, index: int = -1) -> EmailMessage:
        content = self.envelopes[index].content
        assert isinstance(content, bytes)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def messages(self) -> list[EmailMessage]:
        return [self.message(i) for i in range(len(self.envelopes))]


@contextmanager
def plain_smtp_server(host: str = "127.0.0.1") -> Iterator[Mailbox]:
    """A plain aiosmtpd (no TLS, no AUTH: a control plane verifies TLS with the system's CAs
    only) on a free port; stopped at the end."""
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname=host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
