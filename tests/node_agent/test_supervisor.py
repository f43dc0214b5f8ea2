"""node_agent.supervisor.Supervisor with small real children: crash-loop reports, SIGKILL after
the grace period, no leftovers, and no orphan when the agent itself is killed."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.processes import (
    ROOT,
    kill_survivors,
    process_alive,
    process_tree,
    stop_by_pid,
    survivors_after,
)
from node_agent.backoff import Backoff
from node_agent.restart_policy import ExitRecord, RestartPolicy
from node_agent.supervisor import Supervisor

FALSE = shutil.which("false") or "/bin/false"
SH = shutil.which("sh") or "/bin/sh"
SLEEP = shutil.which("sleep") or "/bin/sleep"


def quick_policy() -> RestartPolicy:
    return RestartPolicy(backoff=Backoff(base=0.01, cap=0.02, rng=random.Random(0)))


async def wait_until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_crash_loop_is_reported(tmp_path: Path) -> None:
    heard: list[tuple[ExitRecord, bool]] = []
    supervisor = Supervisor(
        name="false",
        argv=[FALSE],
        log_path=tmp_path / "false.log",
        policy=RestartPolicy(
            backoff=Backoff(base=0.01, cap=0.02, rng=random.Random(0)),
            crash_limit=3,
            crash_window_s=60.0,
        ),
        on_exit=lambda record, looping: heard.append((record, looping)),
    )
    await supervisor.start()
    try:
        await wait_until(lambda: len(heard) >= 4)
    finally:
        await supervisor.stop()
    assert [looping for _, looping in heard[:4]] == [False, False, True, True]
    assert all(record.returncode == 1 for record, _ in heard)
    assert supervisor.policy.crash_looping
    assert supervisor.restarts >= 3
    # Restarting stopped with stop(): no more exits are reported afterwards.
    reported = len(heard)
    await asyncio.sleep(0.2)
    assert len(heard) == reported


async def test_exits_outside_the_window_are_not_a_crash_loop(tmp_path: Path) -> None:
    heard: list[bool] = []
    supervisor = Supervisor(
        name="false",
        argv=[FALSE],
        log_path=tmp_path / "false.log",
        policy=RestartPolicy(
            backoff=Backoff(base=0.15, cap=0.15, rng=random.Random(0)),
            crash_limit=3,
            # Exits are ~0.08 s apart on average; three within 0.01 s does not happen.
            crash_window_s=0.01,
        ),
        on_exit=lambda _, looping: heard.append(looping),
    )
    await supervisor.start()
    try:
        await wait_until(lambda: len(heard) >= 5)
    finally:
        await supervisor.stop()
    assert not any(heard)


async def test_child_that_ignores_sigterm_is_killed_with_its_children(tmp_path: Path) -> None:
    # A shell that ignores SIGTERM and has a child of its own.
    supervisor = Supervisor(
        name="stubborn",
        argv=[SH, "-c", f'trap "" TERM; {SLEEP} 30 & wait'],
        log_path=tmp_path / "stubborn.log",
        policy=quick_policy(),
    )
    await supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    tree: dict[int, str] = {}
    try:
        await wait_until(lambda: len(process_tree(pid)) >= 2)
        tree = process_tree(pid)
        started = time.monotonic()
        await supervisor.stop(grace_s=0.5)
        assert 0.5 <= time.monotonic() - started < 5
        assert supervisor.pid is None
        assert supervisor.policy.exits == []  # a requested stop is not a crash
        assert await survivors_after(tree) == []
    finally:
        await supervisor.stop()
        kill_survivors(tree)


async def test_start_gives_up_with_the_reason(tmp_path: Path) -> None:
    heard: list[ExitRecord] = []
    supervisor = Supervisor(
        name="nowhere",
        argv=[SLEEP, "30"],
        log_path=tmp_path / "nowhere.log",
        cwd=tmp_path / "missing-directory",
        policy=quick_policy(),
        start_timeout_s=0.5,
        on_exit=lambda record, _: heard.append(record),
    )
    with pytest.raises(TimeoutError, match=r"nowhere did not start within 0\.5s: .*missing-dir"):
        await supervisor.start()
    assert heard
    assert all(record.returncode == -1 for record in heard)
    # It gave up: no retries in the background.
    attempts = len(heard)
    await asyncio.sleep(0.2)
    assert len(heard) == attempts


_AGENT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from node_agent.supervisor import Supervisor

    async def main() -> None:
        s = Supervisor(name="sleep", argv=[sys.argv[1], "30"], log_path=Path(sys.argv[2]))
        await s.start()
        print(s.pid, flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_agent_killed_leaves_no_orphan(tmp_path: Path) -> None:
    agent = subprocess.Popen(
        [sys.executable, "-c", _AGENT, SLEEP, str(tmp_path / "sleep.log")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child: dict[int, str] = {}
    try:
        assert agent.stdout is not None
        line = agent.stdout.readline()
        assert line.strip().isdigit(), agent.stderr.read() if agent.stderr else ""
        child = process_tree(int(line))
        assert list(child) == [int(line)]
        # Killed the moment start() returned: start() waits until the child has exec'd past
        # setpriv, which sets the parent-death signal (killed before, nothing would signal it).
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(process_alive(p, s) for p, s in child.items()):
            assert time.monotonic() < deadline, "the supervised child outlived its agent"
            time.sleep(0.02)
    finally:
        stop_by_pid(agent)
        kill_survivors(child)
        for stream in (agent.stdout, agent.stderr):
            if stream is not None:
                stream.close()
