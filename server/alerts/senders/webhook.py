"""Webhook channel: POST the notification's JSON payload signed per Standard Webhooks
(https://www.standardwebhooks.com): `webhook-id` (the notification id, the same on every
attempt, so receivers drop duplicates), `webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body" keyed by the base64-decoded
bytes after "whsec_">`. The PyPI package `standardwebhooks` verifies it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Callable

from server.alerts.model import Channel, Notification, WebhookConfig
from server.alerts.senders import SendResult, http

USER_AGENT = "camfleet-alerts/1"


def body_of(notification: Notification) -> bytes:
    """The request body: the payload as compact UTF-8 JSON."""
    return json.dumps(notification.payload, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a "whsec_..." secret: the base64-decoded bytes after the prefix."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header's value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookSender:
    """The Sender of webhook channels; `wall` gives the Unix time of the signature (the real
    time: receivers refuse timestamps more than 5 minutes off theirs); `tls_context` verifies
    https receivers (None: the system's certificate authorities)."""

    def __init__(
        self, wall: Callable[[], float] = time.time, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self._wall = wall
        self._tls = tls_context

    async def __call__(self, channel: Channel, notification: Notification) -> SendResult:
        config = channel.config
        if not isinstance(config, WebhookConfig):
            return SendResult(False, error="the channel is not a webhook channel", permanent=True)
        if not channel.secret:
            return SendResult(False, error="the channel has no signing secret", permanent=True)
        body = body_of(notification)
        stamp = int(self._wall())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": notification.id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(channel.secret, notification.id, stamp, body),
        }
        answer = await http.post(
            config.url,
            timeout_s=config.timeout_s,
            data=body,
            headers=headers,
            tls_context=self._tls,
        )
        return http.outcome(answer, "the webhook receiver")


send_webhook = WebhookSender()
