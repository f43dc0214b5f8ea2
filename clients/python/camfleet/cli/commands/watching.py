"""Following EventService.WatchEvents across dropped connections.

Every event (bookmarks included) carries the platform-wide revision it reflects; the watcher
remembers the last one it saw and, when the stream breaks (the server restarted, the network
dropped), asks again with `after_revision` = that revision, so nothing is missed and nothing is
shown twice. A revision the server no longer keeps (FAILED_PRECONDITION, REVISION_COMPACTED)
cannot be resumed from: that ends the watch with a sentence saying so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc
from camfleet.v1 import event_pb2

# Codes after which a new call may succeed: the stream broke, not the request.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def broken_stream(err: grpc.RpcError) -> bool:
    """True when `err` says the connection broke (worth a new call), not that the call was
    refused."""
    if not isinstance(err, grpc.Call):
        return False
    code = err.code()
    # A proxy that went away mid-stream resets it: INTERNAL with RST_STREAM in the details.
    return code in RETRYABLE or (
        code == grpc.StatusCode.INTERNAL and "RST_STREAM" in (err.details() or "")
    )


# Opens one WatchEvents call from `request` and yields its responses.
OpenWatch = Callable[[event_pb2.WatchEventsRequest], Iterable[event_pb2.WatchEventsResponse]]


@dataclass
class Cursor:
    """Where a watch stands: the last revision seen and how often it had to reconnect."""

    revision: int = 0
    reconnects: int = 0


def backoff_s(attempt: int, base_s: float = 0.2, cap_s: float = 5.0) -> float:
    """Full-jitter exponential backoff (attempt 0 is the first retry)."""
    return random.uniform(0, min(cap_s, base_s * 2**attempt))


def follow(
    open_watch: OpenWatch,
    cursor: Cursor,
    filter_text: str,
    on_event: Callable[[event_pb2.Event], None],
    *,
    on_reconnect: Callable[[grpc.RpcError, float], None] | None = None,
    give_up_after_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Deliver every event after `cursor.revision` to `on_event` (bookmarks advance the cursor
    without being delivered), reconnecting whenever the stream breaks. Returns only when the
    server ends the stream cleanly; raises the RpcError that is not a broken stream, or the
    last one after `give_up_after_s` seconds without a connection (0: never give up)."""
    attempt = 0
    broken_since: float | None = None
    while True:
        request = event_pb2.WatchEventsRequest(after_revision=cursor.revision, filter=filter_text)
        try:
            for response in open_watch(request):
                event = response.event
                attempt, broken_since = 0, None
                cursor.revision = max(cursor.revision, event.revision)
                if event.type != event_pb2.EVENT_TYPE_BOOKMARK:
                    on_event(event)
            return
        except grpc.RpcError as err:
            if not broken_stream(err):
                raise
            now = time.monotonic()
            broken_since = broken_since if broken_since is not None else now
            if give_up_after_s and now - broken_since > give_up_after_s:
                raise
            wait = backoff_s(attempt)
            attempt += 1
            cursor.reconnects += 1
            if on_reconnect is not None:
                on_reconnect(err, wait)
            sleep(wait)
