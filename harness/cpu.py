"""CPU and memory of processes, from /proc: what a benchmark's servers, clients and databases
used over a measured window. Linux only; without /proc a meter reports nothing (None), never 0."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.processes import process_tree

TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# What a meter watches: the pids, and a counter to difference alongside (PostgreSQL's sessions
# opened; None when there is none).
ProcessList = Callable[[], tuple[Sequence[int], int | None]]
Snapshot = tuple[dict[int, float], int | None]


def process_cpu_s(pid: int) -> float | None:
    """utime + stime of `pid` in seconds (its own threads; reaped children not included), or
    None when it is gone or there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" of the command name: fields[11] is utime (field 14), fields[12] stime.
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of those of `pids` still alive, in seconds."""
    return sum(cpu for pid in pids if (cpu := process_cpu_s(pid)) is not None)


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _add_int(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


@dataclass(frozen=True)
class Usage:
    """What a meter saw over the measured window."""

    cpu_s: float | None = None
    # Processes that ended inside the window: their last CPU is lost, so cpu_s is a lower bound.
    exited: int = 0
    # PostgreSQL sessions opened inside the window (connection churn), when known.
    sessions: int | None = None

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            _add(self.cpu_s, other.cpu_s),
            self.exited + other.exited,
            _add_int(self.sessions, other.sessions),
        )


class CpuMeter:
    """CPU seconds used by a set of processes (a server, the database's backends), from /proc."""

    def __init__(self, processes: ProcessList) -> None:
        # `processes` returns the pids to watch and, for PostgreSQL, its session counter.
        self._processes = processes

    @classmethod
    def of_pid(cls, pid: int) -> CpuMeter:
        """A meter of one process."""

        def processes() -> tuple[Sequence[int], int | None]:
            return (pid,), None

        return cls(processes)

    @classmethod
    def of_tree(cls, pid: int) -> CpuMeter:
        """A meter of a process and its descendants as they are at each sample (a server and
        the children it starts); a child that ends between samples counts in `exited`."""

        def processes() -> tuple[Sequence[int], int | None]:
            return list(process_tree(pid)), None

        return cls(processes)

    def sample(self) -> Snapshot:
        """utime + stime of each process in seconds (empty without /proc), and the counter."""
        pids, counter = self._processes()
        out = {pid: cpu for pid in pids if (cpu := process_cpu_s(pid)) is not None}
        return out, counter

    @staticmethod
    def usage(before: Snapshot, after: Snapshot) -> Usage:
        """Usage between two snapshots; a process new in `after` counts in full."""
        (cpu_before, count_before), (cpu_after, count_after) = before, after
        if not cpu_after:
            return Usage()
        return Usage(
            cpu_s=sum(cpu - cpu_before.get(pid, 0.0) for pid, cpu in cpu_after.items()),
            exited=len(cpu_before.keys() - cpu_after.keys()),
            sessions=None
            if count_before is None or count_after is None
            else count_after - count_before,
        )


def pids_named(comm: str) -> tuple[list[int], None]:
    """Pids of the processes whose command name is `comm` (e.g. "redis-server", shared with
    whatever else uses it here), in a meter's ProcessList shape."""
    pids: list[int] = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == comm:
                    pids.append(int(proc.name))
    return pids, None


def memory_mib(pid: int) -> tuple[float, float]:
    """(RSS now, peak RSS) of a process in MiB, from /proc (0 when unknown)."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def load_average() -> str:
    """The 1/5/15-minute load average. Other processes on the machine take CPU from the servers
    and the clients: well above a run's own ~2, the numbers of that run are not comparable."""
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def run_to_end(argv: Sequence[str], **popen: object) -> tuple[float, float]:
    """Run `argv` to its end: (wall seconds, CPU seconds of the child, user + system, from
    wait4). A nonzero exit raises RuntimeError."""
    began = time.perf_counter()
    proc = subprocess.Popen(list(argv), **popen)  # type: ignore[call-overload]  # noqa: S603
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv[:6])} ... exited with {proc.returncode}")
    return time.perf_counter() - began, usage.ru_utime + usage.ru_stime
