"""Run a child process, restart it with backoff when it dies, and notice crash loops.

Used for nginx. Restarts, crash loops and the kill sequence follow node_agent.restart_policy,
which the recorders share. The child also gets a parent-death signal so an agent killed with -9
leaves no orphan. Each child leads its own process group, and whatever is left in that group when
the child exits is killed: nginx's workers outlive a master killed with -9 and keep its listening
sockets, so without this the restarted master fails to bind, over and over.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node_agent.restart_policy import ExitRecord, RestartPolicy, kill_group, terminate
from node_agent.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_SETPRIV = shutil.which("setpriv")


async def spawn_guarded(argv: Sequence[str], **kwargs: Any) -> asyncio.subprocess.Process:
    """Spawn `argv` with the parent-death signal and return once the signal holds.

    setpriv sets the signal and then execs the program: an agent that dies before that leaves a
    child nothing will ever signal. So wait (a few ms; at most a second, after which the window
    stays open as it always was) until the child is no longer setpriv."""
    proc = await asyncio.create_subprocess_exec(*with_parent_death_signal(argv), **kwargs)
    deadline = time.monotonic() + 1.0
    while _SETPRIV is not None and _program(proc.pid) == "setpriv":
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.002)
    return proc


def _program(pid: int) -> str:
    """The running program's name ("" once it is gone); /proc is memory, it does not block."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """`argv` run so that it gets SIGTERM if the agent dies (even by SIGKILL).

    util-linux's setpriv sets PR_SET_PDEATHSIG and execs; a Python preexec_fn would do the same
    but forces a fork with Python code in the child, unsafe with gRPC's threads running.
    """
    if _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]


@dataclass
class Supervisor:
    """Keeps `argv` running until stop(). `on_exit` hears about every unexpected exit."""

    name: str
    argv: Sequence[str]
    log_path: Path
    cwd: Path | None = None
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    on_exit: Callable[[ExitRecord, bool], None] | None = None
    # Run before every spawn (e.g. removing a Unix socket a killed nginx left behind).
    before_spawn: Callable[[], None] | None = None
    # start() gives up (and stops retrying) when the child cannot be spawned this long.
    start_timeout_s: float = 10.0
    restarts: int = 0
    _proc: asyncio.subprocess.Process | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    _started: asyncio.Event = field(default_factory=asyncio.Event)
    _spawn_error: str = ""

    @property
    def pid(self) -> int | None:
        """PID of the running child, if any."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    async def start(self) -> None:
        """Spawn the child and keep it running in the background."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"supervise-{self.name}")
        try:
            # asyncio.timeout, not wait_for, which can swallow a cancellation on 3.11.
            async with asyncio.timeout(self.start_timeout_s):
                await self._started.wait()
        except TimeoutError:
            # Never spawned (e.g. a missing working directory): do not leave the retry loop
            # running, and say why.
            await self.stop()
            raise TimeoutError(
                f"{self.name} did not start within {self.start_timeout_s}s: {self._spawn_error}"
            ) from None

    async def wait_for_restart(self, old_pid: int, within_s: float = 30.0) -> int:
        """Wait until a child other than `old_pid` runs; its PID."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.pid is not None and self.pid != old_pid:
                return self.pid
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} did not restart within {within_s}s")

    async def _spawn(self) -> asyncio.subprocess.Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.before_spawn is not None:
            self.before_spawn()
        with self.log_path.open("ab") as out:
            return await spawn_guarded(
                self.argv,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                # Its own process group (id = its PID), so leftovers can be found and killed.
                start_new_session=True,
            )

    async def _run(self) -> None:
        while not self._stopping:
            try:
                self._proc = await self._spawn()
            except OSError as exc:
                log.error("cannot start %s: %s", self.name, exc)
                self._spawn_error = str(exc)
                self._record(-1, 0.0)
                await asyncio.sleep(self.policy.next_delay())
                continue
            started = time.monotonic()
            self._started.set()
            code = await self._proc.wait()
            kill_group(self._proc.pid)
            if self._stopping:
                return
            uptime = time.monotonic() - started
            self._record(code, uptime)
            delay = self.policy.next_delay()
            log.warning(
                "%s exited with %s after %.1fs; restarting in %.1fs", self.name, code, uptime, delay
            )
            await asyncio.sleep(delay)
            self.restarts += 1

    def _record(self, returncode: int, uptime: float) -> None:
        record = self.policy.exited(returncode, uptime)
        if self.on_exit is not None:
            self.on_exit(record, self.policy.crash_looping)

    async def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the child (SIGKILL after `grace_s`) and stop restarting it."""
        self._stopping = True
        if self._proc is not None:
            await terminate(self._proc, grace_s)
        if self._task is not None:
            await cancel_and_wait([self._task])
