"""What the e2e alert tests add to harness/alert_api.py (AlertService on a test fleet, which
bench_chaos uses too): reading the webhook receiver, SMS numbers and Kannel's texts, which
process holds a socket, and a stopwatch."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from harness.alert_api import AlertApi, new_secret, seconds
from harness.alert_receivers import Receiver
from harness.kannel import Kannel

__all__ = [
    "AlertApi",
    "Stopwatch",
    "kinds",
    "new_secret",
    "reading",
    "seconds",
    "sms_number",
    "sms_to",
    "socket_owner",
]

T = TypeVar("T")


def kinds(receiver: Receiver) -> list[tuple[str, str]]:
    """(kind, summary) of every request the webhook receiver accepted, in order."""
    return [(r.payload["kind"], r.payload["summary"]) for r in receiver.received]


def sms_number(tag: str) -> str:
    """A phone number of the test's own (digits from its tag)."""
    digits = "".join(str(int(c, 16) % 10) for c in tag)[:6]
    return f"+49151{digits}"


def sms_to(gateway: Kannel, to: str) -> list[str]:
    """The texts the carrier (fakesmsc) got for `to`, in order."""
    return [m.text for m in gateway.received() if m.receiver == to]


def socket_owner(local_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the IPv4 TCP socket bound to 127.0.0.1:`local_port` (the client
    end of a connection a receiver sees from that port), read from /proc."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            cols = line.split()
            host, port = cols[1].split(":")
            if int(port, 16) == local_port and host == "0100007F":
                inodes.add(cols[9])
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None


def reading(probe: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """`probe` as the coroutine `harness.fleet_reads.until` polls."""

    async def read() -> T:
        return probe()

    return read


class Stopwatch:
    """Seconds since it started, for the measured times the tests print."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.start
