"""The e-mail channel: one message to the channel's recipients over SMTP (aiosmtplib), with
STARTTLS, implicit TLS or neither, and authentication when the channel has a username. The
message has a text and an HTML part (text.py) and, when the channel asks for it, a JPEG
snapshot of each live camera the notification is about (snapshot.py); a camera without one is
named in the text ("no snapshot: <why>") and the mail goes anyway. Scheduled reports go the
same way with their file attached (send_with_attachments).

Headers are built by email.message.EmailMessage from one-line values: a camera named
"Lobby\\r\\nBcc: x@example.org" stays in the Subject and adds no header. The Message-ID is the
notification's id, so a message sent again after a crash is recognisably the same one.

Outcomes: accepted by the server -> ok; refused with a 5xx (recipients, sender, message,
authentication) or a server lacking what the channel requires (STARTTLS, AUTH) -> permanent;
4xx, timeouts, connection and TLS failures -> retried."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from functools import partial
from typing import TYPE_CHECKING, Any

from server.alerts.model import Channel, EmailConfig, Notification, SmtpSecurity
from server.alerts.senders import Sender, SendResult
from server.alerts.senders.snapshot import SNAPSHOT_TIMEOUT_S, NoSnapshot, SnapshotSource
from server.alerts.senders.text import html_body, one_line, subject, text_body

if TYPE_CHECKING:
    import aiosmtplib

SMTP_TIMEOUT_S = 30.0
# At most this many cameras' snapshots in one mail (a node's group may name fifty).
MAX_SNAPSHOTS = 3
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MESSAGE_ID = re.compile(r"[^A-Za-z0-9_.-]")
# An address as the envelope carries it: something@something, no spaces, brackets or controls.
_ADDRESS = re.compile(r"^[^\s<>@\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+$")
# Headers unfolded up to 998 characters (RFC 5322's limit; a subject is at most 200): Python's
# folding at 78 can move a whole subject to a continuation line, which readers then show with
# a leading space. 7-bit bodies (quoted-printable for non-ASCII): no server needs 8BITMIME.
POLICY = SMTP.clone(max_line_length=998, cte_type="7bit")


def email_sender(
    snapshots: SnapshotSource | None = None,
    *,
    tls_context: ssl.SSLContext | None = None,
    timeout_s: float = SMTP_TIMEOUT_S,
    snapshot_timeout_s: float = SNAPSHOT_TIMEOUT_S,
) -> Sender:
    """The e-mail Sender for the delivery worker, with the wiring's snapshot source (None: no
    snapshots) and the TLS context that verifies SMTP servers (None: the system's CAs)."""
    return partial(
        send_email,
        snapshots=snapshots,
        tls_context=tls_context,
        timeout_s=timeout_s,
        snapshot_timeout_s=snapshot_timeout_s,
    )


async def send_email(
    channel: Channel,
    notification: Notification,
    *,
    snapshots: SnapshotSource | None = None,
    tls_context: ssl.SSLContext | None = None,
    timeout_s: float = SMTP_TIMEOUT_S,
    snapshot_timeout_s: float = SNAPSHOT_TIMEOUT_S,
) -> SendResult:
    """Send `notification` to the channel's recipients; never raises for a failed delivery."""
    config = _sendable(channel)
    if isinstance(config, SendResult):
        return config
    payload = notification.payload
    frames: list[tuple[str, bytes]] = []
    notes: list[str] = []
    if config.attach_snapshot:
        frames, notes = await _snapshots(payload, snapshots, snapshot_timeout_s)
    try:
        message = compose(config, notification, frames, notes)
    except (ValueError, TypeError) as error:
        # An address the headers cannot hold (the channel's validation should have refused it).
        return SendResult(False, error=f"the message could not be built: {error}", permanent=True)
    return await _deliver(config, channel.secret, message, tls_context, timeout_s)


def compose(
    config: EmailConfig,
    notification: Notification,
    frames: Iterable[tuple[str, bytes]] = (),
    notes: Iterable[str] = (),
) -> EmailMessage:
    """The message: headers from one-line values, text + HTML alternatives, JPEG attachments
    (`frames`: camera id, JPEG)."""
    payload = notification.payload
    notes = list(notes)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = subject(payload)
    message["From"] = one_line(config.from_addr)
    message["To"] = ", ".join(one_line(a) for a in config.to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{_MESSAGE_ID.sub('_', notification.id)}@camfleet>"
    message["X-Camfleet-Notification"] = _MESSAGE_ID.sub("_", notification.id)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text_body(payload, notes))
    message.add_alternative(html_body(payload, notes), subtype="html")
    for camera_id, jpeg in frames:
        message.add_attachment(
            jpeg, maintype="image", subtype="jpeg", filename=f"snapshot-{camera_id}.jpg"
        )
    return message


@dataclass(frozen=True)
class Attachment:
    filename: str
    # "application/pdf", "text/csv; charset=utf-8" ...
    content_type: str
    data: bytes


async def send_with_attachments(
    channel: Channel,
    subject_line: str,
    text: str,
    attachments: Iterable[Attachment],
    *,
    message_id: str,
    tls_context: ssl.SSLContext | None = None,
    timeout_s: float = SMTP_TIMEOUT_S,
) -> SendResult:
    """A plain-text message with files (a scheduled report) to the channel's recipients, over
    the same SMTP dialogue and outcomes as notifications; never raises for a failed delivery."""
    config = _sendable(channel)
    if isinstance(config, SendResult):
        return config
    try:
        message = EmailMessage(policy=POLICY)
        message["Subject"] = one_line(subject_line, 200)
        message["From"] = one_line(config.from_addr)
        message["To"] = ", ".join(one_line(a) for a in config.to)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{_MESSAGE_ID.sub('_', message_id)}@camfleet>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        for item in attachments:
            maintype, _, subtype = item.content_type.partition(";")[0].strip().partition("/")
            message.add_attachment(
                item.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=one_line(item.filename, 200),
            )
    except (ValueError, TypeError) as error:
        return SendResult(False, error=f"the message could not be built: {error}", permanent=True)
    return await _deliver(config, channel.secret, message, tls_context, timeout_s)


def _sendable(channel: Channel) -> EmailConfig | SendResult:
    """The channel's e-mail settings, or why nothing can be sent to it (permanent: retrying
    the same settings cannot help)."""
    config = channel.config
    if not isinstance(config, EmailConfig):
        return SendResult(False, error="the channel is not an e-mail channel", permanent=True)
    if not config.to:
        return SendResult(False, error="the channel has no recipients", permanent=True)
    bad = [a for a in (config.from_addr, *config.to) if not _ADDRESS.match(a)]
    if bad:
        # The envelope takes these as they are: no line breaks into the SMTP dialogue.
        return SendResult(
            False, error=f"the channel's address {bad[0]!r} is not valid", permanent=True
        )
    return config


def _cameras(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(camera id, name) of the cameras the alerts are about, firing ones first, distinct."""
    alerts = [a for a in payload.get("alerts") or [] if isinstance(a, Mapping)]
    alerts.sort(key=lambda a: a.get("state") == "resolved")
    seen: dict[str, str] = {}
    for alert in alerts:
        labels = alert.get("labels")
        if not isinstance(labels, Mapping):
            continue
        camera = str(labels.get("camera") or "")
        if camera and camera not in seen:
            seen[camera] = one_line(labels.get("camera_name") or camera, 100)
    return list(seen.items())


async def _snapshots(
    payload: Mapping[str, Any], source: SnapshotSource | None, timeout_s: float
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The frames of the payload's cameras (at most MAX_SNAPSHOTS, grabbed together within
    `timeout_s`) and a "no snapshot: ..." note for each camera without one."""
    cameras = _cameras(payload)
    if not cameras:
        return [], []
    if source is None:
        return [], ["no snapshot: this server takes no camera snapshots"]
    more = len(cameras) - MAX_SNAPSHOTS
    cameras = cameras[:MAX_SNAPSHOTS]

    async def one(camera_id: str, name: str) -> bytes | str:
        if not _ID.match(camera_id):
            return f"no snapshot: camera {name}: the alert names no valid camera id"
        try:
            async with asyncio.timeout(timeout_s):
                jpeg = await source(camera_id)
        except NoSnapshot as error:
            return f"no snapshot: {_with_name(str(error), name)}"
        except TimeoutError:
            return f"no snapshot: camera {name}: no frame within {timeout_s:g} s"
        except Exception as error:  # a source's failure must not stop the mail
            return f"no snapshot: camera {name}: {_reason(error)}"
        if not jpeg:
            return f"no snapshot: camera {name}: none available"
        return jpeg

    results = await asyncio.gather(*(one(cid, name) for cid, name in cameras))
    frames = [
        (cid, r) for (cid, _), r in zip(cameras, results, strict=True) if isinstance(r, bytes)
    ]
    notes = [r for r in results if isinstance(r, str)]
    if more > 0:
        notes.append(f"no snapshot: {more} more cameras (at most {MAX_SNAPSHOTS} per message)")
    return frames, notes


def _with_name(why: str, name: str) -> str:
    return why if name in why else f"camera {name}: {why}"


async def _deliver(
    config: EmailConfig,
    password: str,
    message: EmailMessage,
    tls_context: ssl.SSLContext | None,
    timeout_s: float,
) -> SendResult:
    # Imported at the first mail: ~0.1 s of CPU that every start would pay otherwise.
    import aiosmtplib

    where = f"{config.smtp_host}:{config.smtp_port}"
    security = config.security
    context = tls_context or ssl.create_default_context()
    try:
        async with asyncio.timeout(timeout_s):
            # Sender and recipients from the channel, never from the headers.
            errors, response = await aiosmtplib.send(
                message.as_bytes(policy=POLICY),
                sender=config.from_addr,
                recipients=list(config.to),
                hostname=config.smtp_host,
                port=config.smtp_port,
                username=config.username or None,
                password=(password if config.username else None),
                use_tls=security is SmtpSecurity.TLS,
                start_tls=security is SmtpSecurity.STARTTLS,
                tls_context=context if security is not SmtpSecurity.NONE else None,
                timeout=timeout_s,
            )
    except TimeoutError:
        return SendResult(
            False, error=f"the SMTP server {where} did not answer within {timeout_s:g} s"
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [r.code for r in error.recipients]
        refused = "; ".join(
            f"{r.recipient}: {r.code} {one_line(r.message, 200)}" for r in error.recipients
        )
        permanent = all(code >= 500 for code in codes)
        return SendResult(
            False,
            max(codes, default=0),
            refused,
            f"the SMTP server {where} refused every recipient ({refused})",
            permanent,
        )
    except aiosmtplib.SMTPAuthenticationError as error:
        return _refused(where, "refused the login", error)
    except aiosmtplib.SMTPSenderRefused as error:
        return _refused(where, f"refused the sender {error.sender}", error)
    except aiosmtplib.SMTPDataError as error:
        return _refused(where, "refused the message", error)
    except aiosmtplib.SMTPResponseException as error:
        return _refused(where, "answered with an error", error)
    except aiosmtplib.SMTPConnectError as error:
        return SendResult(False, error=f"could not connect to the SMTP server {where}: {error}")
    except aiosmtplib.SMTPNotSupported as error:
        return _unsupported(where, error)
    except aiosmtplib.SMTPException as error:
        # STARTTLS or AUTH that the server does not offer: the channel's settings must change.
        if "not supported" in str(error) or "authentication method" in str(error):
            return _unsupported(where, error)
        return SendResult(
            False, error=f"sending to the SMTP server {where} failed: {_reason(error)}"
        )
    except (ssl.SSLError, OSError) as error:
        return SendResult(
            False, error=f"sending to the SMTP server {where} failed: {_reason(error)}"
        )
    accepted = [a for a in config.to if a not in errors]
    text = one_line(response, 1000)
    if errors:
        refused = "; ".join(f"{a}: {r.code} {one_line(r.message, 200)}" for a, r in errors.items())
        text = one_line(f"{text} (accepted {', '.join(accepted)}; refused {refused})", 1000)
    return SendResult(True, 250, text)


def _refused(where: str, what: str, error: aiosmtplib.SMTPResponseException) -> SendResult:
    """A 5xx refusal is permanent; a 4xx one is worth another try."""
    text = f"{error.code} {one_line(error.message, 500)}"
    permanent = error.code >= 500
    sentence = f"the SMTP server {where} {what}: {text}" + ("" if permanent else " (will retry)")
    return SendResult(False, error.code, text, sentence, permanent)


def _unsupported(where: str, error: Exception) -> SendResult:
    return SendResult(
        False,
        error=f"the SMTP server {where} cannot do what the channel asks: {one_line(error, 300)}",
        permanent=True,
    )


def _reason(error: BaseException) -> str:
    text = one_line(str(error), 300)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
