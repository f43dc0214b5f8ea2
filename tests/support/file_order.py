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

from collections import defaultdict
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
        times[path.strip()] = float(seconds)
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


class FileTimes:
    """Sums setup, call and teardown time per file as reports arrive (on xdist's controller)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid.split("::")[0]] += report.duration

    def summary(self, terminal: pytest.TerminalReporter) -> None:
        if not self.seconds:
            return
        write = terminal.write_line
        write("")
        write(f"slowest test files (seconds, setup + call + teardown; for {_TIMES.name}):")
        ranked = sorted(self.seconds.items(), key=lambda kv: -kv[1])
        for path, seconds in ranked[:_SHOWN]:
            write(f"{seconds:8.1f} {path}")
