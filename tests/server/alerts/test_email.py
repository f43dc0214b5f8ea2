"""The e-mail channel (server/alerts/senders/email.py) against a real SMTP server, aiosmtpd,
started by the tests: STARTTLS and implicit TLS with a self-signed certificate made here (and
trusted through the sender's TLS context), authentication, refusals, a server that is down or
never greets. The test reads the message the server received: headers, the text and HTML
parts, and the JPEG snapshot that ffmpeg grabbed from a live HLS stream (a real one, made by
ffmpeg here; test_snapshot.py grabs from a real camera through the control plane and a node)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from harness.alert_receivers import Mailbox
from harness.ports import free_port
from harness.processes import Child
from server.alerts.model import (
    Channel,
    EmailConfig,
    Notification,
    NotificationKind,
    NotificationStatus,
    SmtpSecurity,
)
from server.alerts.senders.email import send_email
from server.alerts.senders.snapshot import NoSnapshot, grab_frame
from server.alerts.senders.text import one_line
from tests.server.alerts.test_text import HTML_NAME, INJECTION, alert, payload

USER, PASSWORD = "alerts@example.org", "smtp-password-1"
SENDER = "camfleet@example.org"
TO = ("oncall@example.org", "lead@example.org")


# --- a certificate, an SMTP server and a live HLS stream -------------------------------------


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1 (openssl), the server's context and a client
    context that trusts it (and verifies the host, as the default does)."""
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return Tls(server, client)


@pytest.fixture
def smtp_server(tls: Tls, request: pytest.FixtureRequest) -> Iterator[Mailbox]:
    """aiosmtpd as the test's parameter says: "starttls" (STARTTLS required, AUTH required
    over TLS), "tls" (implicit TLS, AUTH offered) or "none" (plain, no AUTH)."""
    mode = getattr(request, "param", "starttls")
    box = Mailbox(port=free_port(), user=USER, password=PASSWORD)
    kwargs: dict[str, Any] = {"authenticator": box.authenticate}
    if mode == "starttls":
        kwargs.update(tls_context=tls.server, require_starttls=True, auth_required=True)
    elif mode == "tls":
        # aiosmtpd takes only STARTTLS for TLS: over implicit TLS it offers AUTH only so.
        kwargs.update(ssl_context=tls.server, auth_require_tls=False)
    else:
        kwargs = {}
    controller = Controller(box, hostname="127.0.0.1", port=box.port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="module")
async def live_hls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A live HLS stream (ffmpeg's test pattern, 320x240, H.264) served over HTTP; its URL."""
    root = tmp_path_factory.mktemp("hls")
    child = Child(
        "ffmpeg hls",
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "10",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "4",
            "-hls_flags",
            "delete_segments",
            str(root / "index.m3u8"),
        ],
        log=root / "ffmpeg.log",
    )
    app = web.Application()
    app.router.add_static("/hls/", root)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        for _ in range(200):
            child.check_alive()
            playlist = root / "index.m3u8"
            if playlist.exists() and playlist.read_text().count(".ts") >= 2:
                break
            await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/hls/index.m3u8"
    finally:
        await runner.cleanup()
        child.stop(grace_s=5)


# --- helpers ---------------------------------------------------------------------------------


def notification(*alerts: dict[str, Any], **kwargs: Any) -> Notification:
    nid = "msg_" + uuid.uuid4().hex
    p = payload(*alerts, nid=nid, **kwargs)
    return Notification(
        id=nid,
        channel_id="ch-mail",
        kind=NotificationKind(p["kind"]),
        status=NotificationStatus.QUEUED,
        summary=p["summary"],
        payload=p,
    )


def channel(
    port: int,
    security: SmtpSecurity = SmtpSecurity.STARTTLS,
    *,
    to: tuple[str, ...] = TO,
    username: str = USER,
    password: str = PASSWORD,
    snapshot: bool = False,
) -> Channel:
    config = EmailConfig(
        smtp_host="127.0.0.1",
        smtp_port=port,
        security=security,
        from_addr=SENDER,
        to=to,
        username=username,
        attach_snapshot=snapshot,
    )
    return Channel(id="ch-mail", name="on-call mail", config=config, secret=password)


def parts(message: EmailMessage) -> tuple[str, str, list[EmailMessage]]:
    """(text, HTML, attachments) of a received message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None, message
    attachments = [p for p in message.iter_attachments() if isinstance(p, EmailMessage)]
    return (
        str(text.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
        attachments,
    )


# --- tests -----------------------------------------------------------------------------------


async def test_starttls_auth_with_a_live_snapshot_and_hostile_names(
    smtp_server: Mailbox, tls: Tls, live_hls: str
) -> None:
    """A camera whose name tries to add a Bcc header and another whose name is HTML: the mail
    goes to the channel's recipients only, names stay in the Subject and are escaped in HTML,
    and the live camera's snapshot is attached."""
    grabbed: list[str] = []

    async def snapshots(camera_id: str) -> bytes:
        grabbed.append(camera_id)
        if camera_id == "cam-live":
            return await grab_frame(live_hls)
        raise NoSnapshot(f"camera {HTML_NAME} is not live (it is offline)")

    note = notification(
        alert("cam-live", INJECTION),
        alert("cam-dark", HTML_NAME),
        summary=f"camera {INJECTION} and 1 more are offline",
    )
    result = await send_email(
        channel(smtp_server.port, snapshot=True), note, snapshots=snapshots, tls_context=tls.client
    )
    assert result.ok, result
    assert "Message accepted" in result.response
    assert sorted(grabbed) == ["cam-dark", "cam-live"]
    assert smtp_server.logins == [USER]

    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == SENDER
    assert sorted(envelope.rcpt_tos) == sorted(TO)  # no x@example.org
    message = smtp_server.message()
    assert message["Subject"] == (
        "[camfleet] FIRING (2): camera Lobby Bcc: x@example.org and 1 more are offline"
    )
    assert message["Bcc"] is None and "x@example.org" not in message["To"]
    assert message["From"] == SENDER and message["To"] == ", ".join(TO)
    assert message["Message-ID"] == f"<{note.id}@camfleet>"
    assert message["X-Camfleet-Notification"] == note.id

    text, html, attachments = parts(message)
    assert text.startswith("FIRING: camera Lobby Bcc: x@example.org and 1 more are offline\n")
    assert f"no snapshot: camera {HTML_NAME} is not live (it is offline)" in text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "no snapshot: camera &lt;script&gt;" in html

    (jpeg,) = attachments
    assert jpeg.get_content_type() == "image/jpeg"
    assert jpeg.get_filename() == "snapshot-cam-live.jpg"
    data = jpeg.get_content()
    assert isinstance(data, bytes) and data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    assert await _jpeg_size(data) == (320, 240)


async def _jpeg_size(data: bytes) -> tuple[int, int]:
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0",
        "-f", "image2pipe", "-i", "pipe:0",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate(data)
    width, height = out.decode().strip().split(",")[:2]
    return int(width), int(height)


@pytest.mark.parametrize("smtp_server", ["tls"], indirect=True)
async def test_implicit_tls_with_auth(smtp_server: Mailbox, tls: Tls) -> None:
    result = await send_email(
        channel(smtp_server.port, SmtpSecurity.TLS), notification(), tls_context=tls.client
    )
    assert result.ok, result
    assert smtp_server.logins == [USER]
    assert smtp_server.message()["Subject"] == "[camfleet] FIRING: camera Lobby is offline"
    # A name beyond ASCII is encoded in the header and reads back as it was.
    unicode = notification(alert(camera_name="Büro ✓"), summary="camera Büro ✓ is offline")
    result = await send_email(
        channel(smtp_server.port, SmtpSecurity.TLS), unicode, tls_context=tls.client
    )
    assert result.ok, result
    assert smtp_server.message()["Subject"] == "[camfleet] FIRING: camera Büro ✓ is offline"
    assert "camera: Büro ✓" in parts(smtp_server.message())[0]


async def test_addresses_with_line_breaks_are_refused(smtp_server: Mailbox, tls: Tls) -> None:
    for to in ("a@example.org\r\nRCPT TO:<x@example.org>", "a b@example.org", "nobody"):
        result = await send_email(
            channel(smtp_server.port, to=("ok@example.org", to)),
            notification(),
            tls_context=tls.client,
        )
        assert not result.ok and result.permanent, result
        assert "is not valid" in result.error
    assert smtp_server.envelopes == []


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
async def test_plain_smtp_without_auth(smtp_server: Mailbox) -> None:
    result = await send_email(
        channel(smtp_server.port, SmtpSecurity.NONE, username=""),
        notification(alert(state="resolved"), kind="resolved"),
    )
    assert result.ok, result
    text, _, attachments = parts(smtp_server.message())
    assert text.startswith("RESOLVED: camera Lobby is offline\n") and "Resolved (1):" in text
    assert attachments == [] and "no snapshot" not in text  # the channel asks for none


async def test_a_wrong_password_is_refused_for_good(smtp_server: Mailbox, tls: Tls) -> None:
    result = await send_email(
        channel(smtp_server.port, password="wrong"), notification(), tls_context=tls.client
    )
    assert not result.ok and result.permanent, result
    assert result.response_code == 535
    assert "refused the login: 535" in result.error
    assert smtp_server.envelopes == []


async def test_recipient_refusals(smtp_server: Mailbox, tls: Tls) -> None:
    port = smtp_server.port
    every = await send_email(
        channel(port, to=("refused@example.org",)), notification(), tls_context=tls.client
    )
    assert not every.ok and every.permanent and every.response_code == 550, every
    assert "refused every recipient (refused@example.org: 550" in every.error

    later = await send_email(
        channel(port, to=("later@example.org",)), notification(), tls_context=tls.client
    )
    assert not later.ok and not later.permanent and later.response_code == 451, later

    some = await send_email(
        channel(port, to=("ok@example.org", "refused@example.org")),
        notification(),
        tls_context=tls.client,
    )
    assert some.ok, some
    assert "refused refused@example.org: 550" in some.response
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["ok@example.org"]]


async def test_an_untrusted_certificate_is_not_accepted(smtp_server: Mailbox) -> None:
    # The system's CAs do not know the self-signed certificate: nothing is sent.
    result = await send_email(channel(smtp_server.port), notification())
    assert not result.ok and not result.permanent, result
    assert "certificate verify failed" in result.error
    assert smtp_server.envelopes == []


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
async def test_starttls_the_server_lacks_is_a_setting_to_fix(
    smtp_server: Mailbox, tls: Tls
) -> None:
    result = await send_email(channel(smtp_server.port), notification(), tls_context=tls.client)
    assert not result.ok and result.permanent, result
    assert "cannot do what the channel asks" in result.error and "STARTTLS" in result.error


async def test_snapshot_failures_do_not_stop_the_mail(smtp_server: Mailbox, tls: Tls) -> None:
    async def hangs(camera_id: str) -> bytes:
        await asyncio.sleep(3600)
        return b""

    async def breaks(camera_id: str) -> bytes:
        raise RuntimeError("database is away")

    dead = f"http://127.0.0.1:{free_port()}/hls/index.m3u8"

    async def dead_stream(camera_id: str) -> bytes:
        return await grab_frame(dead, timeout_s=5)

    ch = channel(smtp_server.port, snapshot=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    slow = await send_email(
        ch, notification(), snapshots=hangs, tls_context=tls.client, snapshot_timeout_s=1.0
    )
    assert slow.ok and loop.time() - started < 15, slow
    assert "no snapshot: camera Lobby: no frame within 1 s" in parts(smtp_server.message())[0]

    assert (await send_email(ch, notification(), snapshots=breaks, tls_context=tls.client)).ok
    text = parts(smtp_server.message())[0]
    assert "no snapshot: camera Lobby: RuntimeError: database is away" in text

    assert (await send_email(ch, notification(), snapshots=dead_stream, tls_context=tls.client)).ok
    text, _, attachments = parts(smtp_server.message())
    assert attachments == []
    assert "no snapshot: camera Lobby: no frame could be read from the live stream (" in text
    assert dead not in text  # a stream's URL is signed: never in a mail

    assert (await send_email(ch, notification(), tls_context=tls.client)).ok
    assert "no snapshot: this server takes no camera snapshots" in parts(smtp_server.message())[0]


async def test_many_cameras_get_at_most_three_snapshots(
    smtp_server: Mailbox, tls: Tls, live_hls: str
) -> None:
    async def snapshots(camera_id: str) -> bytes:
        return await grab_frame(live_hls)

    cams = [alert(f"cam-{i}", f"Camera {i}") for i in range(5)]
    result = await send_email(
        channel(smtp_server.port, snapshot=True),
        notification(*cams, summary="5 cameras offline"),
        snapshots=snapshots,
        tls_context=tls.client,
    )
    assert result.ok, result
    text, _, attachments = parts(smtp_server.message())
    assert [a.get_filename() for a in attachments] == [
        "snapshot-cam-0.jpg",
        "snapshot-cam-1.jpg",
        "snapshot-cam-2.jpg",
    ]
    assert "no snapshot: 2 more cameras (at most 3 per message)" in text


async def test_a_server_that_is_down_or_silent_is_retried(tmp_path: Path) -> None:
    down = await send_email(channel(free_port(), SmtpSecurity.NONE, username=""), notification())
    assert not down.ok and not down.permanent, down
    assert "SMTP server 127.0.0.1:" in down.error

    # A server that accepts the connection and never greets.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await send_email(
            channel(port, SmtpSecurity.NONE, username=""), notification(), timeout_s=1.0
        )
    finally:
        server.close()
    assert not result.ok and not result.permanent, result
    assert one_line(result.error).endswith("did not answer within 1 s"), result.error
