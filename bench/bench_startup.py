"""Control-plane start: exec of `python -m server` to the standard health check saying SERVING.

    python -m bench.bench_startup [--runs 5] [--backend sqlite|postgres|both]
        [--bytecode as-is|cached|both] [--tree LABEL=DIR ...]

Each run starts the real control plane as operators do (harness/control_plane.py's environment)
and polls grpc.health.v1 every 10 ms from before the exec; it prints the wall time exec→SERVING
and the CPU the process had used by then (/proc), p50 and max over `--runs`. Per backend:
`first` is a first start (a fresh SQLite data directory, or a fresh PostgreSQL database with a
Redis prefix of its own: the schema is created), `restart` a start on the data the first start
of that run left (the schema already at head: the usual start). Beside them, in the same rounds:
a bare grpc.aio server with only the health service (the floor for any Python gRPC process
here), and the import alone: CPU of `python -c 'import server.app'` beside `import grpc`.

`--bytecode`: `as-is` runs the children with this environment (PYTHONDONTWRITEBYTECODE=1 and a
virtualenv without __pycache__ on the development machine: every start compiles every module
it imports); `cached` gives them a bytecode cache of their own (PYTHONPYCACHEPREFIX in a
temporary directory, warmed by one untimed import), as an installed package has.
`--tree LABEL=DIR` (repeatable; default `this=` the checkout): the trees whose `server` to start,
e.g. `git archive` of an older and of a newer commit, interleaved so all see the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.control_plane import server_env
from harness.cpu import load_average, process_cpu_s, run_to_end
from harness.databases import throwaway_postgres, throwaway_redis_prefix
from harness.ports import LOOPBACK, free_port
from harness.processes import ROOT, Child

TIMEOUT_S = 120.0
POLL_S = 0.01
# The baseline: grpc.aio with the health service and nothing else.
BARE_HEALTH = """
import asyncio, sys
import grpc
from grpc_health.v1 import _async as health_aio, health_pb2, health_pb2_grpc

async def main():
    server = grpc.aio.server()
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(sys.argv[1])
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await server.wait_for_termination()

asyncio.run(main())
"""
# Retry the connection every 10-50 ms, not after grpc's default 1 s backoff.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 10),
    ("grpc.min_reconnect_backoff_ms", 10),
    ("grpc.max_reconnect_backoff_ms", 50),
]


@dataclass
class Row:
    """One line of the table: its samples of wall and CPU seconds."""

    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def line(self) -> str:
        if not self.wall:
            return f"  {self.label:<44} (no sample)"
        w, c = self.wall, self.cpu
        return (
            f"  {self.label:<44} {statistics.median(w):7.2f} {max(w):7.2f}"
            f" {statistics.median(c):8.2f} {max(c):7.2f}  n={len(w)}"
        )


def _env(base: dict[str, str], pycache: Path | None) -> dict[str, str]:
    env = dict(base)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


async def _until_serving(target: str, child: Child) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    async with grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            child.check_alive()
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(POLL_S)
    raise TimeoutError(f"{child.name} not SERVING on {target} after {TIMEOUT_S:.0f} s")


def time_to_serving(
    argv: list[str], target: str, env: dict[str, str], cwd: Path, log: Path
) -> tuple[float, float]:
    """Start `argv`, wait for SERVING on `target`; the wall seconds from exec and the process's
    CPU seconds by then. Stopped by PID afterwards."""
    began = time.perf_counter()
    child = Child("startup subject", argv, env, log, cwd=cwd)
    try:
        asyncio.run(_until_serving(target, child))
        wall = time.perf_counter() - began
        cpu = process_cpu_s(child.pid) or 0.0
    finally:
        child.stop()
    return wall, cpu


def import_cpu(statement: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, from wait4) of `python -c statement`."""
    return run_to_end([sys.executable, "-c", statement], env=env, cwd=cwd)


@contextlib.contextmanager
def _backend(kind: str) -> Iterator[tuple[str, str]]:
    """(database URL, Redis prefix) for one run: empty for SQLite, throwaway ones for PG."""
    if kind == "sqlite":
        yield "", ""
        return
    with throwaway_postgres("startup") as url, throwaway_redis_prefix("startup") as prefix:
        yield url, prefix


def one_round(
    rows: dict[str, Row], trees: dict[str, Path], backends: list[str], pycache: Path | None,
    mode: str, work: Path,
) -> None:  # fmt: skip
    """One sample of every row, interleaved so that background load hits them alike."""
    base = _env(dict(os.environ), pycache)
    log = work / "child.log"

    def add(label: str, sample: tuple[float, float]) -> None:
        row = rows.setdefault(label, Row(label))
        row.wall.append(sample[0])
        row.cpu.append(sample[1])
        print(f"    sample: {label}: {sample[0]:.2f} s wall, {sample[1]:.2f} s CPU", flush=True)

    add(f"[{mode}] import grpc (baseline)", import_cpu("import grpc", base, ROOT))
    target = f"{LOOPBACK}:{free_port()}"
    argv = [sys.executable, "-c", BARE_HEALTH, target]
    add(f"[{mode}] bare grpc.aio health server", time_to_serving(argv, target, base, ROOT, log))
    for name, tree in trees.items():
        add(f"[{mode}] {name}: import server.app", import_cpu("import server.app", base, tree))
        for kind in backends:
            with _backend(kind) as (url, prefix):
                data = Path(tempfile.mkdtemp(prefix="camfleet-startup-", dir=work))
                try:
                    for start in ("first", "restart"):
                        port = free_port()
                        env = server_env(data, port, "bench-pass-1", url, prefix)
                        sample = time_to_serving(
                            [sys.executable, "-m", "server"], f"{LOOPBACK}:{port}",
                            _env(env, pycache), tree, log,
                        )  # fmt: skip
                        add(f"[{mode}] {name}: {kind} {start}", sample)
                finally:
                    shutil.rmtree(data, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--bytecode", choices=("as-is", "cached", "both"), default="both")
    parser.add_argument(
        "--tree", action="append", default=[], help="LABEL=DIR: a tree to time (repeatable)"
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the running child is stopped and temporaries removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    modes = ["cached", "as-is"] if args.bytecode == "both" else [args.bytecode]
    trees = {"this": ROOT}
    if args.tree:
        trees = {k: Path(v).resolve() for k, _, v in (t.partition("=") for t in args.tree)}
    print(
        f"bench_startup: runs={args.runs} backends={','.join(backends)} bytecode={','.join(modes)}"
        f" trees={' '.join(f'{k}={v}' for k, v in trees.items())} ({os.cpu_count()} cores,"
        f" Python {sys.version.split()[0]}, grpcio {grpc.__version__},"
        f" load average {load_average()})",
        flush=True,
    )
    rows: dict[str, Row] = {}
    with tempfile.TemporaryDirectory(prefix="camfleet-bench-startup-") as tmp:
        work = Path(tmp)
        for mode in modes:
            pycache = None
            if mode == "cached":
                pycache = work / "pycache"
                for tree in trees.values():  # warm the cache: compile once, untimed
                    import_cpu("import server.__main__", _env(dict(os.environ), pycache), tree)
            for _ in range(args.runs):
                one_round(rows, trees, backends, pycache, mode, work)
    print(f"  {'':<44} {'wall s':>7} {'':>7} {'CPU s':>8}", flush=True)
    print(f"  {'':<44} {'p50':>7} {'max':>7} {'p50':>8} {'max':>7}", flush=True)
    for row in rows.values():
        print(row.line(), flush=True)
    print(f"  load average after: {load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
