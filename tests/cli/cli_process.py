"""`camfleet` with its own config file, logged in with `camfleet login`, run to its end by
`Cli.run` in this process: the console script's own `main()` with the arguments, standard input,
output and error and the environment a child would have, in a thread so a control plane running
in the test's event loop keeps answering. A child process costs 0.35-0.7 s of CPU to start
(Python, typer, grpc and the messages imported again); the suite runs hundreds of commands.

What only a process shows runs as one: `Cli(..., process=True)` for the console script itself
(its start-up imports, shell completion), `Cli.start` and `running` for commands that run on
while the test acts (a watch, a download interrupted by a signal). Every child is ended by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
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
    process: bool = False  # run() starts the console script as a child instead

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
        """`camfleet ARGS` to its end in `cwd` (the Cli's home by default); the test fails after
        `within_s`. In this process unless the Cli was made with `process=True` or a prefix is
        given (a child is killed after `within_s`)."""
        if not (self.process or prefix):
            async with asyncio.timeout(within_s):
                return await asyncio.to_thread(_in_process, args, stdin, self.env, cwd or self.home)
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


# One command at a time: standard input, output and error and the environment are the process's.
_ONE_AT_A_TIME = threading.Lock()


def _in_process(args: tuple[str, ...], stdin: str, env: dict[str, str], cwd: Path) -> Result:
    """The console script's main() with `args`, as a child with environment `env` in directory
    `cwd` would run it (variables `env` lacks are unset meanwhile), reading `stdin`. The working
    directory is the process's too: what the test's event loop runs meanwhile (the control
    plane, agents' supervisors) uses absolute paths."""
    from camfleet.cli.main import main
    from click.testing import CliRunner

    with _ONE_AT_A_TIME:
        overrides: dict[str, str | None] = {k: None for k in os.environ if k not in env}
        overrides.update(env)
        was = Path.cwd()
        os.chdir(cwd)
        try:
            with CliRunner().isolation(input=stdin, env=overrides) as (out, err, _both):
                code = main(list(args))
                sys.stdout.flush()
                sys.stderr.flush()
                return Result(code, out.getvalue().decode(), err.getvalue().decode())
        finally:
            os.chdir(was)


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
