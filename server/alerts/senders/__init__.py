"""Channel senders: one module per channel kind (webhook.py, email.py, sms.py), each an async
`send(channel, notification) -> SendResult` (the `Sender` protocol). The delivery worker
(server/alerts/delivery.py) picks the sender by the channel's kind, times the attempt and logs
it; senders never raise for a failed delivery, they say what happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from server.alerts.model import Channel, Notification


@dataclass(frozen=True)
class SendResult:
    """One attempt's outcome. `permanent`: retrying cannot help (a refused address, a 4xx
    other than 408/429), so the notification fails now instead of retrying for 24 h."""

    ok: bool
    response_code: int = 0
    # The start of the answer (at most 1 KiB).
    response: str = ""
    # What went wrong, as a sentence ("" when ok).
    error: str = ""
    permanent: bool = False


class Sender(Protocol):
    async def __call__(self, channel: Channel, notification: Notification) -> SendResult: ...
