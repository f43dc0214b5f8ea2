"""How the agent restarts and stops its child processes: one policy for nginx
(node_agent.supervisor) and for every recorder (node_agent.recording.recorder).

Invariants (tests/node_agent/test_restart_policy.py holds them):
- Only unexpected exits count. A child ended by a requested stop is no exit.
- The n-th restart since the last healthy run waits a jittered delay in [0, min(cap, base·2^n)]
  (node_agent.backoff): it grows, and it never exceeds `cap`.
- A run that lasted `healthy_after_s` was healthy: the growth starts over. With
  `quick_first_restart`, the first restart after a healthy run (and the very first) waits
  nothing, because for a recorder every moment it is down is video lost; the ones after it
  back off.
- A crash loop is `crash_limit` exits within the last `crash_window_s` (monotonic clock). It
  ends by itself once older exits leave the window. ERROR is entered once per crash loop
  (enter_error() is True once) and left by recovered(), which the owner calls when a restarted
  child works again.
- The kill sequence: SIGTERM to the child, `grace_s` for it to go, then SIGKILL; once the child is
  reaped, SIGKILL to whatever is left in its process group (each child leads its own group, so
  nginx workers or ffmpeg helpers that outlive it cannot hold its sockets or files).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from node_agent.backoff import Backoff

# Exits kept for the crash window and for inspection; far more than any crash limit.
_KEEP_EXITS = 50


@dataclass(frozen=True)
class ExitRecord:
    """One unexpected exit of a child (returncode -1: it could not be started)."""

    time: float
    returncode: int
    uptime: float


@dataclass
class RestartPolicy:
    """Delays between restarts and crash-loop detection of one supervised child."""

    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=10.0))
    # A child that ran this long was healthy: the backoff starts over.
    healthy_after_s: float = 10.0
    # This many exits within `crash_window_s` is a crash loop.
    crash_limit: int = 5
    crash_window_s: float = 60.0
    # Restart at once after the first crash of a healthy child (recorders).
    quick_first_restart: bool = False
    clock: Callable[[], float] = time.monotonic
    exits: list[ExitRecord] = field(default_factory=list)
    in_error: bool = False
    _quick: bool = True

    def exited(self, returncode: int, uptime: float) -> ExitRecord:
        """Record an unexpected exit after `uptime` seconds of running."""
        if uptime >= self.healthy_after_s:
            self.backoff.reset()
            self._quick = True
        record = ExitRecord(self.clock(), returncode, uptime)
        self.exits = [*self.exits[-_KEEP_EXITS:], record]
        return record

    def next_delay(self) -> float:
        """Seconds to wait before the next restart."""
        if self.quick_first_restart and self._quick:
            self._quick = False
            return 0.0
        return self.backoff.next_delay()

    @property
    def recent_exits(self) -> int:
        """Exits within the crash window."""
        since = self.clock() - self.crash_window_s
        return sum(1 for e in self.exits if e.time > since)

    @property
    def crash_looping(self) -> bool:
        """True when the child died `crash_limit` times within the window."""
        return self.recent_exits >= self.crash_limit

    def enter_error(self) -> bool:
        """True once when a crash loop begins (the owner reports ERROR then)."""
        if self.crash_looping and not self.in_error:
            self.in_error = True
            return True
        return False

    def recovered(self) -> None:
        """A restarted child works again: a later crash loop is reported anew."""
        self.in_error = False


def kill_group(pid: int) -> None:
    """SIGKILL what the reaped child `pid` left in its process group.

    Called right after the leader was reaped: the group id cannot be reused while any member is
    alive, so this reaches only processes the child started.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def terminate(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    """The kill sequence: SIGTERM `proc`, SIGKILL it after `grace_s`, then its group's rest.

    A child already reaped is left alone: whoever reaped it killed its group then.
    """
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        # asyncio.timeout, not wait_for, which can swallow a cancellation on 3.11.
        async with asyncio.timeout(grace_s):
            await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
    kill_group(proc.pid)
