"""node_agent.restart_policy: the delays between restarts grow and stay capped, a crash loop is
ERROR once and ends after a stable run, and the kill sequence escalates from SIGTERM to SIGKILL
on a child that ignores SIGTERM, its whole process group included."""

from __future__ import annotations

import asyncio
import random
import shutil
import time

from harness.processes import kill_survivors, process_tree, survivors_after
from node_agent.backoff import Backoff
from node_agent.restart_policy import RestartPolicy, terminate

SH = shutil.which("sh") or "/bin/sh"
SLEEP = shutil.which("sleep") or "/bin/sleep"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ceilings(policy: RestartPolicy, n: int) -> list[float]:
    """The ceilings the next `n` delays are drawn under (full jitter draws in [0, ceiling])."""
    out = []
    for _ in range(n):
        ceiling = min(policy.backoff.cap, policy.backoff.base * 2**policy.backoff.attempts)
        delay = policy.next_delay()
        assert 0 <= delay <= ceiling
        out.append(ceiling)
    return out


def test_delays_grow_to_the_cap_and_start_over_after_a_healthy_run() -> None:
    clock = Clock()
    policy = RestartPolicy(
        backoff=Backoff(base=0.5, cap=10.0, rng=random.Random(3)), healthy_after_s=10, clock=clock
    )
    for _ in range(6):
        policy.exited(1, uptime=0.1)
    assert ceilings(policy, 8) == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    # A short run does not reset the growth...
    policy.exited(1, uptime=9.9)
    assert ceilings(policy, 1) == [10.0]
    # ...a healthy one does.
    policy.exited(1, uptime=10.0)
    assert ceilings(policy, 3) == [0.5, 1.0, 2.0]


def test_a_recorder_restarts_at_once_after_the_first_crash_of_a_healthy_run() -> None:
    policy = RestartPolicy(
        backoff=Backoff(base=0.5, cap=10.0, rng=random.Random(4)),
        healthy_after_s=10,
        quick_first_restart=True,
        clock=Clock(),
    )
    policy.exited(-9, uptime=2.0)
    assert policy.next_delay() == 0.0
    policy.exited(-9, uptime=2.0)
    assert ceilings(policy, 2) == [0.5, 1.0]
    policy.exited(-9, uptime=60.0)
    assert policy.next_delay() == 0.0
    assert ceilings(policy, 1) == [0.5]


def test_a_crash_loop_is_an_error_once_and_ends_after_a_stable_run() -> None:
    clock = Clock()
    policy = RestartPolicy(crash_limit=3, crash_window_s=60.0, healthy_after_s=10, clock=clock)
    entered = []
    for _ in range(5):
        clock.now += 1
        policy.exited(1, uptime=0.5)
        entered.append(policy.enter_error())
    assert policy.crash_looping
    assert policy.recent_exits == 5
    # ERROR is entered by the third exit in the window, and said once.
    assert entered == [False, False, True, False, False]
    assert policy.in_error

    # The child comes back and runs well: the owner says so, and the old exits leave the window.
    policy.recovered()
    clock.now += 120
    policy.exited(1, uptime=120.0)
    assert not policy.crash_looping
    assert policy.recent_exits == 1
    assert not policy.enter_error()
    assert not policy.in_error

    # A new crash loop is an ERROR again.
    for _ in range(2):
        clock.now += 1
        policy.exited(1, uptime=0.5)
    assert policy.enter_error()


def test_exits_spread_wider_than_the_window_are_no_crash_loop() -> None:
    clock = Clock()
    policy = RestartPolicy(crash_limit=3, crash_window_s=60.0, clock=clock)
    for _ in range(10):
        clock.now += 31
        policy.exited(1, uptime=0.5)
        assert not policy.enter_error()
    assert policy.recent_exits == 2


async def test_the_kill_sequence_escalates_to_sigkill_on_a_child_that_ignores_sigterm() -> None:
    # A shell that ignores SIGTERM, with a child of its own in its process group.
    proc = await asyncio.create_subprocess_exec(
        SH, "-c", f'trap "" TERM; {SLEEP} 60 & wait', start_new_session=True
    )
    tree: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 10
        while len(tree := process_tree(proc.pid)) < 2:
            assert time.monotonic() < deadline, "the shell did not start its child"
            await asyncio.sleep(0.02)
        started = time.monotonic()
        await terminate(proc, grace_s=0.5)
        waited = time.monotonic() - started
        # It outlived SIGTERM for the grace period, then SIGKILL ended it and its group.
        assert waited >= 0.5
        assert proc.returncode == -9
        assert await survivors_after(tree) == []
    finally:
        kill_survivors(tree)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_kill_sequence_ends_an_obliging_child_with_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(SLEEP, "60", start_new_session=True)
    try:
        await terminate(proc, grace_s=10.0)
        assert proc.returncode == -15
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
