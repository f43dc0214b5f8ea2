"""Which sender delivers which channel kind: webhook.py, email.py (with the wiring's snapshot
source and TLS context) and sms.py."""

from __future__ import annotations

import ssl

from server.alerts.model import ChannelKind
from server.alerts.senders import Sender
from server.alerts.senders.email import email_sender
from server.alerts.senders.sms import sms_sender
from server.alerts.senders.snapshot import SnapshotSource
from server.alerts.senders.webhook import WebhookSender


def default_senders(
    snapshots: SnapshotSource | None = None, *, tls_context: ssl.SSLContext | None = None
) -> dict[ChannelKind, Sender]:
    """The senders of every channel kind: `snapshots` grabs camera JPEGs for e-mails that ask
    for them (None: mails go without), `tls_context` verifies SMTP servers and https webhook
    receivers (None: the system's certificate authorities)."""
    return {
        ChannelKind.WEBHOOK: WebhookSender(tls_context=tls_context),
        ChannelKind.EMAIL: email_sender(snapshots, tls_context=tls_context),
        ChannelKind.SMS: sms_sender(),
    }
