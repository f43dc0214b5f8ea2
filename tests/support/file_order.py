"""Longest test files first, and a per-file time summary after the run.

./test gives whole files to each of four workers (`--dist loadfile`). A worker that takes a
four-minute file last keeps the run going minutes after the others are idle; started first, it
runs beside everything else. So files are ordered by the time they took in a measured run,
longest first (LPT scheduling), and the rest keep their collection order after them.

The times live in `tests/file_times.txt` ("<seconds> <path>" per line), written from the
summary this module prints at the end of a run ("slowest test files"). A file missing from it,
or a stale time, only costs scheduling quality, never a result.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path

import pytest

_TIMES = Path(__file__).resolve().parent.parent / "file_times.txt"
_SHOWN = 40


def _measured() -> dict[str, float]:
    times: dict[str, float] = {}
    if not _TIMES.exists():
        return times
    for raw in _TIMES.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        seconds, _, path = line.partition(" ")
        times[path.split()[0]] = float(seconds)
    return times


def order_longest_files_first(items: list[pytest.Item]) -> None:
    times = _measured()
    if not times:
        return
    position = {item.nodeid.split("::")[0]: i for i, item in reversed(list(enumerate(items)))}
    items.sort(key=lambda item: _rank(item.nodeid.split("::")[0], times, position))


def _rank(path: str, times: dict[str, float], position: dict[str, int]) -> tuple[float, int]:
    # Measured files by time, longest first; then the rest in their collection order.
    return (-times.get(path, 0.0), position[path])


def _cpu_s() -> float:
    """CPU seconds of this process and of its children it has reaped (the servers, agents,
    ffmpeg and nginx a test starts and ends by PID; their own children count once reaped)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


_CPU = "cpu_s"


class PhaseCpu:
    """Worker side: each setup, call and teardown report carries the CPU used since the last
    report (or the item's start), which is its phase's, so the controller can sum CPU per file
    beside wall time. On two cores CPU is what a file costs the others; a file that waits
    (timers, a receiver down for two minutes) costs wall time only. Session-scoped fixtures
    (the browser, per-worker databases) count where they start or end."""

    def __init__(self) -> None:
        self._since = _cpu_s()

    def pytest_runtest_logstart(self) -> None:
        self._since = _cpu_s()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        now = _cpu_s()
        # A new list: the report's is the item's own, shared with its other phases.
        report.user_properties = [*report.user_properties, (_CPU, now - self._since)]
        self._since = now
        return report


class FileTimes:
    """Sums setup, call and teardown time per file as reports arrive (on xdist's controller),
    and the CPU the phases used (PhaseCpu)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def add(self, report: pytest.TestReport) -> None:
        path = report.nodeid.split("::")[0]
        self.seconds[path] += report.duration
        for name, value in report.user_properties:
            if name == _CPU and isinstance(value, int | float):
                self.cpu[path] += value

    def summary(self, terminal: pytest.TerminalReporter) -> None:
        if not self.seconds:
            return
        write = terminal.write_line
        write("")
        write(
            f"slowest test files (seconds, setup + call + teardown; for {_TIMES.name}; "
            "then CPU seconds of the worker and the processes it reaped):"
        )
        ranked = sorted(self.seconds.items(), key=lambda kv: -kv[1])
        for path, seconds in ranked[:_SHOWN]:
            write(f"{seconds:8.1f} {path}  (CPU {self.cpu.get(path, 0.0):.1f})")
        write(
            f"all {len(self.seconds)} files: {sum(self.seconds.values()):.0f} s, "
            f"CPU {sum(self.cpu.values()):.0f} s"
        )
        by_cpu = sorted(self.cpu.items(), key=lambda kv: -kv[1])[:15]
        write("most CPU: " + ", ".join(f"{p.removeprefix('tests/')} {c:.0f}" for p, c in by_cpu))
