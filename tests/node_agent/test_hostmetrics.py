"""node_agent.hostmetrics on this machine's /proc."""

from __future__ import annotations

import os
import time
from pathlib import Path

from node_agent.hostmetrics import HostMetrics


def meminfo_total() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def test_sample_is_sane(tmp_path: Path) -> None:
    metrics = HostMetrics(tmp_path)
    time.sleep(0.2)
    sample = metrics.sample()
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert sample.memory_total_bytes == meminfo_total()
    assert 0 < sample.memory_used_bytes <= sample.memory_total_bytes
    vfs = os.statvfs(tmp_path)
    assert sample.disk_total_bytes == vfs.f_blocks * vfs.f_frsize
    assert 0 < sample.disk_used_bytes <= sample.disk_total_bytes
    assert sample.load_average_1m >= 0.0


def test_cpu_reflects_a_busy_core(tmp_path: Path) -> None:
    metrics = HostMetrics(tmp_path)
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        pass  # one core fully busy
    sample = metrics.sample()
    cpus = os.cpu_count() or 1
    # One busy core out of `cpus`, with slack for scheduling; other load only adds.
    assert sample.cpu_percent >= 0.5 * 100 / cpus, sample
    assert sample.cpu_percent <= 100.0


def test_back_to_back_samples_do_not_divide_by_zero(tmp_path: Path) -> None:
    metrics = HostMetrics(tmp_path)
    samples = [metrics.sample() for _ in range(50)]
    assert all(0.0 <= s.cpu_percent <= 100.0 for s in samples)


def test_guest_time_is_not_counted_twice() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice; guest is part of user.
    total, idle = HostMetrics.parse_cpu_line("cpu  300 0 100 500 100 0 0 0 200 0")
    assert (total, idle) == (1000, 600)
    # Old kernels print fewer columns.
    assert HostMetrics.parse_cpu_line("cpu  1 2 3 4") == (10, 4)
