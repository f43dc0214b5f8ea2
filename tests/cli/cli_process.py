"""`camfleet` run as people run it: a child process (the installed console script) with its own
config file, logged in with `camfleet login`. Asynchronous, so a control plane running in the
test's own event loop keeps answering while the command runs; every child is ended by PID."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

CAMFLEET = str(Path(sys.executable).with_name("camfleet"))


@dataclass(frozen=True)
class Result:
    """What a finished `camfleet` printed and its exit code."""

    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class Cli:
    """`camfleet` with a config file of its own (so tests never share or touch a real one)."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "CAMFLEET_CONFIG": str(self.home / "config.yaml"),
            "COLUMNS": "250",  # tables unwrapped, whatever the terminal of the test run
            **self.env,
        }
        for name in (
            "CAMFLEET_TOKEN",
            "CAMFLEET_SERVER",
            "CAMFLEET_CONTEXT",
            "CAMFLEET_OUTPUT",
            "CAMFLEET_CA",
        ):
            self.env.pop(name, None)

    async def start(
        self, *args: str, cwd: Path | None = None, prefix: tuple[str, ...] = ()
    ) -> asyncio.subprocess.Process:
        """A running `camfleet ARGS` with pipes on stdin, stdout and stderr (run through
        `prefix`, e.g. prlimit, when given)."""
        return await asyncio.create_subprocess_exec(
            *prefix,
            CAMFLEET,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            cwd=cwd or self.home,
        )

    async def run(
        self,
        *args: str,
        stdin: str = "",
        within_s: float = 120.0,
        cwd: Path | None = None,
        prefix: tuple[str, ...] = (),
    ) -> Result:
        """`camfleet ARGS` to its end (killed, and the test failed, after `within_s`)."""
        child = await self.start(*args, cwd=cwd, prefix=prefix)
        try:
            async with asyncio.timeout(within_s):
                out, err = await child.communicate(stdin.encode())
        finally:
            end(child)
        assert child.returncode is not None
        return Result(child.returncode, out.decode(), err.decode())

    async def login(self, server: str, username: str, password: str) -> None:
        """`camfleet login` with a password read from stdin."""
        done = await self.run(
            "login", "--server", server, "--username", username, "--password-stdin",
            stdin=password + "\n",
        )  # fmt: skip
        assert done.code == 0, done


def end(child: asyncio.subprocess.Process) -> None:
    """Kill `child` by its PID if it still runs."""
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def running(cli: Cli, *args: str) -> AsyncIterator[Lines]:
    """A long-running `camfleet ARGS` (e.g. a watch) whose output lines are collected as they
    come; ended by PID on exit."""
    child = await cli.start(*args)
    lines = Lines(child)
    try:
        yield lines
    finally:
        end(child)
        await child.wait()
        await lines.close()


class Lines:
    """The stdout and stderr lines of a running child, read in the background."""

    def __init__(self, child: asyncio.subprocess.Process) -> None:
        self.child = child
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        assert child.stdout is not None and child.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(child.stdout, self.stdout)),
            asyncio.create_task(self._read(child.stderr, self.stderr)),
        ]

    @staticmethod
    async def _read(stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode().rstrip("\n"))

    async def until(self, found: object, within_s: float = 60.0, *, stderr: bool = False) -> str:
        """The first line containing `found` (a string), waiting for it to come."""
        deadline = time.monotonic() + within_s
        where = self.stderr if stderr else self.stdout
        while True:
            ended = self.child.returncode is not None
            if ended:  # what it printed before it ended is read to its end first
                await asyncio.gather(*self._readers, return_exceptions=True)
            for line in where:
                if str(found) in line:
                    return line
            assert time.monotonic() < deadline, (
                f"no line with {found!r} within {within_s} s\n{self.text()}"
            )
            assert not ended, f"camfleet ended\n{self.text()}"
            await asyncio.sleep(0.1)

    def text(self) -> str:
        return "--- stdout\n" + "\n".join(self.stdout) + "\n--- stderr\n" + "\n".join(self.stderr)

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
