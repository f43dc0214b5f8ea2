"""Host CPU, memory, disk and load from /proc (no extra dependency)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HostSample:
    """One reading of the host."""

    cpu_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    disk_used_bytes: int
    disk_total_bytes: int
    load_average_1m: float


class HostMetrics:
    """CPU use between two calls (like top), the rest instantaneous."""

    def __init__(self, disk_path: Path) -> None:
        self._disk = disk_path
        self._last = self._cpu_times()

    @staticmethod
    def parse_cpu_line(line: str) -> tuple[int, int]:
        """(total, idle) jiffies from /proc/stat's "cpu" line. guest and guest_nice (the 9th
        and 10th numbers) are already included in user and nice, so they are not added again:
        a host running VMs would otherwise look idler than it is."""
        fields = [int(x) for x in line.split()[1:9]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    @classmethod
    def _cpu_times(cls) -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            return cls.parse_cpu_line(f.readline())

    @staticmethod
    def _memory() -> tuple[int, int]:
        info: dict[str, int] = {}
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
        total = info.get("MemTotal", 0)
        return total - info.get("MemAvailable", 0), total

    def sample(self) -> HostSample:
        """A reading now; CPU is the share busy since the previous sample."""
        total, idle = self._cpu_times()
        last_total, last_idle = self._last
        self._last = (total, idle)
        spent = total - last_total
        cpu = 100.0 * (1 - (idle - last_idle) / spent) if spent > 0 else 0.0
        used, mem_total = self._memory()
        disk = shutil.disk_usage(self._disk)
        return HostSample(
            cpu_percent=round(max(0.0, min(100.0, cpu)), 1),
            memory_used_bytes=used,
            memory_total_bytes=mem_total,
            disk_used_bytes=disk.used,
            disk_total_bytes=disk.total,
            load_average_1m=os.getloadavg()[0],
        )
