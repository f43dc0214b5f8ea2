"""bench_heartbeats' control planes: one process, or `--replicas N` behind Envoy.

Where one Python process cannot carry a fleet's heartbeats, the platform's answer is more
replicas behind Envoy (compose.yaml: Envoy in front of control-plane-1 and -2 on one PostgreSQL
and Redis). `ControlPlanes` starts what bench_heartbeats measures: the control plane alone
(N = 1, as the bench always did), or N replicas with the same flags on the run's database and
Redis prefix, each on its own free loopback port, and one Envoy in front of them, rendered from
envoy/envoy.yaml by scripts/envoy_config.py (the routes, timeouts and gRPC health checks of
./start, compose and harness/fleet.py). The agents and the bench's own calls then go through
Envoy, which spreads the Connect streams over the replicas (LEAST_REQUEST).

For the report: `parts` names each replica's and Envoy's PID (bench_heartbeats measures their
CPU in the same window as everything else), `streams` counts the streams Envoy holds open to
each replica (its admin /clusters, `rq_active`), `part_rows` turns those into a row per replica
and for Envoy, and `together` says what the replicas reach together. Everything is ended by PID
(`stop`), also when a start fails halfway; every child gets SIGTERM if the bench dies outright.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.control_plane import start_control_plane, wait_serving
from harness.cpu import CpuMeter, Snapshot, Usage
from harness.edge import envoy_admin, spawn_edge
from harness.ports import LOOPBACK, free_port
from harness.processes import STOP_GRACE_S, Child, stop_all

ENVOY_READY_S = 60.0
# envoy.yaml's cluster of the control-plane replicas.
CLUSTER = "control_plane"

# The environment of a control plane listening on this port with this data directory.
EnvFor = Callable[[int, Path], dict[str, str]]


@dataclass(frozen=True)
class PartUsage:
    """What one process (a replica, Envoy) used in a measured window."""

    usage: Usage
    rss_mib: float


class ControlPlanes:
    """The control plane(s) under test and, for more than one, Envoy in front of them."""

    def __init__(self, work: Path, count: int, env: EnvFor, args: Sequence[str]) -> None:
        self.count = count
        self._work = work
        self._env = env
        self._args = tuple(args)
        self.replicas: list[Child] = []
        self._ports: list[int] = []
        self.envoy: Child | None = None
        self._edge_port = 0

    @property
    def label(self) -> str:
        """The measured window's row: all replicas' CPU summed."""
        return "control plane" if self.count == 1 else f"{self.count} replicas together"

    @property
    def target(self) -> str:
        """Where agents and clients connect: Envoy, or the only control plane."""
        port = self._edge_port if self.envoy is not None else self._ports[0]
        return f"{LOOPBACK}:{port}"

    @property
    def pids(self) -> list[int]:
        """Every replica's PID (not Envoy's)."""
        return [child.pid for child in self.replicas]

    @property
    def parts(self) -> dict[str, int]:
        """Each replica's and Envoy's PID by row name; nothing for a lone control plane."""
        if self.envoy is None:
            return {}
        named = {child.name: child.pid for child in self.replicas}
        return {**named, "envoy": self.envoy.pid}

    @property
    def logs(self) -> list[tuple[str, Path]]:
        """(name, log) of each replica."""
        return [(child.name, child.log) for child in self.replicas if child.log is not None]

    def _name(self, i: int, lone: str, each: str) -> str:
        return lone if self.count == 1 else each.format(i + 1)

    async def start(self) -> None:
        """Start the replicas one after the other (the first migrates the database), each until
        it says SERVING, then Envoy until every replica passed its health checks."""
        for i in range(self.count):
            port = free_port()
            data = self._work / self._name(i, "data", "data-{}")
            log = self._work / self._name(i, "server.log", "server-{}.log")
            # Parent death: started on the event loop's thread, which lives as long as the bench.
            child = start_control_plane(
                self._env(port, data), log, args=self._args, parent_death=True
            )
            child.name = self._name(i, "control plane", "replica {}")
            self.replicas.append(child)
            self._ports.append(port)
            await wait_serving(f"{LOOPBACK}:{port}", child)
        if self.count > 1:
            await self._start_envoy()

    async def _start_envoy(self) -> None:
        self._edge_port = free_port()
        # Envoy holds a descriptor per agent connection: it inherits the raised limit.
        envoy_admin.raise_open_file_limit()
        self.envoy = spawn_edge(
            self._work / "envoy",
            (LOOPBACK, self._edge_port),
            [(LOOPBACK, port) for port in self._ports],
            self._work / "envoy.log",
            parent_death=True,
        )
        deadline = time.monotonic() + ENVOY_READY_S
        while True:
            hosts = await asyncio.to_thread(self._hosts)
            healthy = sum(h.get("health_flags") == "healthy" for h in hosts.values())
            if healthy == self.count:
                return
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Envoy routed to {healthy}/{self.count} replicas after {ENVOY_READY_S:.0f} "
                    f"s:\n{self.envoy.tail()}"
                )
            await asyncio.sleep(0.2)

    def _hosts(self) -> dict[int, dict[str, str]]:
        """Envoy's per-host figures of the replicas' cluster, by replica port ({} when its admin
        interface does not answer): lines `control_plane::127.0.0.1:PORT::rq_active::3`."""
        try:
            status, text = envoy_admin.admin_request(
                self._work / "envoy" / envoy_admin.ADMIN_SOCKET, "GET", "/clusters"
            )
        except OSError:
            return {}
        hosts: dict[int, dict[str, str]] = {}
        for line in text.splitlines() if status == 200 else ():
            # The cluster's own lines (`control_plane::default_priority::max_requests::…`)
            # name no host:port.
            fields = line.split("::")
            port = fields[1].rpartition(":")[2] if len(fields) == 4 else ""
            if fields[0] == CLUSTER and port.isdigit():
                hosts.setdefault(int(port), {})[fields[2]] = fields[3]
        return hosts

    async def streams(self) -> dict[str, int]:
        """Streams Envoy has open to each replica right now, by row name (the agents' Connect
        streams, plus the probe node's, the LOST watch and any call in flight)."""
        if self.envoy is None:
            return {}
        hosts = await asyncio.to_thread(self._hosts)
        return {
            child.name: int(hosts.get(port, {}).get("rq_active", 0))
            for child, port in zip(self.replicas, self._ports, strict=True)
        }

    def check_alive(self) -> None:
        """ChildExited (with its log's tail) if a replica or Envoy has exited."""
        for child in [*self.replicas, *([self.envoy] if self.envoy else [])]:
            child.check_alive()

    def tail(self, lines: int = 30) -> str:
        """The last lines of each replica's log."""
        if self.count == 1:
            return self.replicas[0].tail(lines) if self.replicas else ""
        return "\n".join(f"--- {child.name}\n{child.tail(lines)}" for child in self.replicas)

    def keep_logs(self, path: Path) -> None:
        """Copy the log to `path`; of several replicas each to `path`-<n> and Envoy's to
        `path`-envoy (before the suffix)."""
        if self.count == 1:
            for _, log in self.logs:
                shutil.copyfile(log, path)
            return
        for i, (_, log) in enumerate(self.logs):
            shutil.copyfile(log, path.with_name(f"{path.stem}-{i + 1}{path.suffix}"))
        if self.envoy is not None and self.envoy.log is not None:
            shutil.copyfile(self.envoy.log, path.with_name(f"{path.stem}-envoy{path.suffix}"))

    def stop(self) -> None:
        """SIGTERM to Envoy and every replica at once, SIGKILL to any left after the grace."""
        children = [*([self.envoy] if self.envoy else []), *self.replicas]
        stop_all([child.proc for child in children], STOP_GRACE_S)


# ---------------------------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class PartRow:
    """A replica's or Envoy's line under the replicas' row (None: not known)."""

    label: str
    hb_per_s: float | None
    cpu: float | None  # share of one core
    us_per_hb: float | None
    rss_mib: float | None
    # hb_per_s is the replica's share by streams, not counted.
    estimated: bool = False


def usage_of(before: Snapshot, after: Snapshot, pids: Iterable[int]) -> Usage:
    """The usage of `pids` alone between two samples of a meter that watched more (the replicas
    and Envoy sampled at once: the replicas' sum is then exactly the sum of their rows)."""
    keep = set(pids)

    def only(snapshot: Snapshot) -> Snapshot:
        return {pid: cpu for pid, cpu in snapshot[0].items() if pid in keep}, None

    return CpuMeter.usage(only(before), only(after))


def _cpu(part: PartUsage | None, seconds: float) -> float | None:
    if part is None or part.usage.cpu_s is None:
        return None
    return part.usage.cpu_s / seconds


def _per_hb(cpu: float | None, hb_per_s: float | None) -> float | None:
    return None if cpu is None or not hb_per_s else 1e6 * cpu / hb_per_s


def part_rows(
    seconds: float, sent_per_s: float, parts: Mapping[str, PartUsage], streams: Mapping[str, int]
) -> list[PartRow]:
    """A row per replica (its share of the heartbeats estimated by the streams Envoy holds to
    it), one for Envoy (every heartbeat passes it) and one for the replicas and Envoy summed."""
    total_streams = sum(streams.values())
    rows = []
    for name, part in parts.items():
        cpu = _cpu(part, seconds)
        if name in streams:
            share = sent_per_s * streams[name] / total_streams if total_streams else None
            label = f"{name} ({streams[name]} streams)"
        else:
            share, label = sent_per_s, name
        rows.append(
            PartRow(f"  {label}", share, cpu, _per_hb(cpu, share), part.rss_mib, name in streams)
        )
    cpus = [_cpu(p, seconds) for p in parts.values()]
    summed = None if None in cpus else sum(c for c in cpus if c is not None)
    rows.append(
        PartRow("  replicas + envoy", sent_per_s, summed, _per_hb(summed, sent_per_s), None)
    )
    return rows


def together(
    count: int,
    seconds: float,
    sent_per_s: float,
    parts: Mapping[str, PartUsage],
    bare_cpu: float | None,
    cpu_limit: float,
) -> list[str]:
    """The summary: the replicas' summed CPU per heartbeat (and with Envoy's), its ratio to the
    bare server's, and the heartbeats/s the replicas would carry together at `cpu_limit` of a
    core each if their cost per heartbeat stayed what it was here."""
    cpus = {name: _cpu(p, seconds) for name, p in parts.items()}
    envoy = cpus.pop("envoy", None)
    if None in cpus.values() or envoy is None or not sent_per_s:
        return ["  replicas together: CPU not measured (no /proc?)"]
    replicas = sum(c for c in cpus.values() if c is not None)
    both = replicas + envoy
    lines = []
    if bare_cpu:
        lines.append(
            f"  replicas together CPU / bare CPU = {replicas / bare_cpu:.1f}, with Envoy "
            f"{both / bare_cpu:.1f} ({100 * replicas:.0f}% and {100 * both:.0f}% vs "
            f"{100 * bare_cpu:.0f}% of a core at {sent_per_s:.0f} heartbeats/s)"
        )
    per_hb, with_envoy = 1e6 * replicas / sent_per_s, 1e6 * both / sent_per_s
    per_replica = cpu_limit * 1e6 / per_hb
    capacity = count * per_replica
    lines.append(
        f"  replicas together CPU per heartbeat at 1 Hz: {per_hb:.0f} µs ({with_envoy:.0f} µs "
        f"with Envoy) -> about {per_replica:.0f} heartbeats/s at {100 * cpu_limit:.0f}% of a "
        f"core per replica if it scaled linearly, x {count} replicas = {capacity:.0f} "
        f"heartbeats/s together (Envoy would then use {100 * envoy * capacity / sent_per_s:.0f}% "
        "of a core; each replica and Envoy need cores of their own)"
    )
    return lines
