"""Children started in their own session and ended by PID: SIGTERM (a graceful shutdown), then
SIGKILL for any still there after a grace period. Never by name or process group, which could
reach processes someone else started. Process trees are read from /proc, each PID kept with its
start time so that a reused PID is never taken for the process it replaced."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from node_agent.supervisor import with_parent_death_signal

# The checkout: children run from here, so `python -m server` and `python -m bench...` find it.
ROOT = Path(__file__).resolve().parents[1]
STOP_GRACE_S = 10.0

AnyPopen = subprocess.Popen[bytes] | subprocess.Popen[str]


def clean_env() -> dict[str, str]:
    """This process's environment without the CAMFLEET_* settings that could leak into a child
    from the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CAMFLEET_")}


class ChildExited(RuntimeError):
    """A child the caller needs running has exited; the message ends with its last output."""


class Child:
    """A subprocess in its own session (the terminal's Ctrl-C reaches only its parent, which
    decides when it stops), its output appended to `log` if given, else to `stdout` (None: the
    parent's). With `parent_death` it gets SIGTERM when its parent dies, even by SIGKILL; the
    kernel sends it when the starting *thread* ends, so start such a child on a thread that
    lives as long as the parent (the event loop's, never asyncio.to_thread's)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        *,
        cwd: Path = ROOT,
        stdout: int | None = None,
        parent_death: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        command = with_parent_death_signal(argv) if parent_death else list(argv)
        with contextlib.ExitStack() as files:
            out: int | None = stdout
            err: int | None = None
            if log is not None:
                out = files.enter_context(log.open("ab")).fileno()
                err = subprocess.STDOUT
            # The argv is the caller's own (never a shell, never input from outside).
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(  # noqa: S603
                command,
                env=None if env is None else dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """Process id."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """Its exit status once it has exited (negative: the signal that ended it), else None."""
        return self.proc.poll()

    def check_alive(self) -> None:
        """Raise ChildExited, with the tail of its log, if it has exited."""
        if self.proc.poll() is not None:
            raise ChildExited(
                f"{self.name} exited with status {self.proc.returncode}:\n{self.tail()}"
            )

    def tail(self, lines: int = 30) -> str:
        """The last lines of its log ("" without one)."""
        if self.log is None:
            return ""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM, then SIGKILL if it is still running after `grace_s`."""
        stop_all([self.proc], grace_s)

    def kill(self) -> None:
        """SIGKILL (a crash, not a shutdown) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def stop_by_pid(proc: AnyPopen, grace_s: float = STOP_GRACE_S) -> None:
    """End a process the caller started: SIGTERM, then SIGKILL if it has not gone in `grace_s`."""
    stop_all([proc], grace_s)


def stop_all(procs: Iterable[AnyPopen], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to every one still running at once (they shut down in parallel), then SIGKILL to
    those still there `grace_s` later; returns when all have been reaped."""
    alive = [p for p in procs if p.poll() is None]
    for proc in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    end = time.monotonic() + grace_s
    for proc in alive:
        try:
            proc.wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


async def first_exit(children: Mapping[str, Child], poll_s: float = 0.2) -> str:
    """The name of the first of `children` to exit (polled: they are not asyncio processes)."""
    while True:
        for name, child in children.items():
            if child.returncode is not None:
                return name
        await asyncio.sleep(poll_s)


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30.0) -> list[str]:
    """Read a text-mode child's stdout lines until one contains `needle`; the lines read.
    TimeoutError (with them) if it exits or `timeout` passes first."""
    stdout: IO[str] | None = proc.stdout
    assert stdout is not None, "wait_for_line needs stdout=PIPE"
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        if needle in line:
            return lines
    raise TimeoutError(f"{needle!r} not printed in {timeout}s; got: {''.join(lines)}")


# Process trees, from /proc. A PID alone can be reused once its process is reaped: each PID is
# kept with its start time (field 22 of /proc/<pid>/stat), which tells the same process apart.
ProcessTree = dict[int, str]


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (fields[0] is the state, field 3;
    fields[1] the parent PID; fields[19] the start time), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_alive(pid: int, start_time: str) -> bool:
    """True while `pid` is the same process (same start time) and not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z" and fields[19] == start_time


def process_tree(pid: int) -> ProcessTree:
    """`pid` and its live descendants (by parent PID in /proc), each with its start time."""
    parents: dict[int, int] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields is not None and fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
            starts[int(entry)] = fields[19]
    tree = {pid} if pid in starts else set()
    grew = True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return {p: starts[p] for p in tree}


async def survivors_after(tree: ProcessTree, within_s: float = 2.0) -> list[int]:
    """PIDs of `tree` still alive after waiting up to `within_s` for them to go (a process
    sent SIGKILL dies when next scheduled, not the moment kill() returns)."""
    deadline = time.monotonic() + within_s
    while alive := [pid for pid, start in tree.items() if process_alive(pid, start)]:
        if time.monotonic() > deadline:
            return alive
        await asyncio.sleep(0.02)
    return []


def kill_survivors(tree: ProcessTree) -> list[int]:
    """SIGKILL the processes of `tree` still alive (each the same process, by start time);
    their PIDs."""
    survivors = [pid for pid, start in tree.items() if process_alive(pid, start)]
    for pid in survivors:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return survivors
