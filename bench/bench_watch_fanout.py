"""WatchEvents fan-out: latency from a camera change to each of many watchers.

    python -m bench.bench_watch_fanout [--subscribers 500] [--rate 20] [--seconds 30]
                                       [--backend sqlite|postgres] [--processes 2]

One run starts the real control plane (`python -m server`) as a subprocess on a free loopback
port, creates `--cameras` cameras, opens `--subscribers` WatchEvents streams from `--processes`
spawned subscriber processes, and then changes cameras at a steady `--rate` (UpdateCamera of the
description, round-robin over the cameras) for `--seconds`. Each update writes its sequence
number and the wall-clock time just before the call into the description; every subscriber
computes receive time - send time (same machine, same clock) for each CAMERA_UPDATED it gets.
It prints p50/p95/p99/max of that latency over all deliveries, the time until the last watcher
had each update, deliveries per second, missed and duplicate deliveries (every subscriber must
see every update exactly once), server CPU and RSS and the subscribers' CPU. Everything it
starts is stopped by PID, and every database, Redis key and temporary directory it creates is
removed, also on failure or Ctrl-C. See bench/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import secrets
import sys
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

import grpc
from camfleet.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    event_pb2,
)
from google.protobuf import field_mask_pb2

from bench.bench_camera_rpc import run_bench
from bench.bench_heartbeats import server_source
from harness.control_plane import server_env, start_control_plane, wait_serving
from harness.cpu import CpuMeter, Usage, load_average, memory_mib
from harness.databases import postgres_backends, redis_server_pids
from harness.ports import LOOPBACK, free_port

WATCH = "/camfleet.v1.EventService/WatchEvents"
MARK = "bench-fanout"
# The control plane's in-memory event ring (server/eventlog/sql_log.py and log.py: 10,000).
RING_SIZE = 10_000
CALL_TIMEOUT_S = 30.0
PIPE_TIMEOUT_S = 120.0
# Watchers share a few TCP connections, as behind Envoy (which multiplexes the browsers' streams
# upstream), not the process-wide shared subchannel.
CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)

Metadata = tuple[tuple[str, str], ...]
# What a subscriber process reports: (open streams, streams that saw every seq in `want` so far,
# deliveries counted, stream errors {status: n}).
StatusWire = tuple[int, int, int, dict[str, int]]
# Final report: (latencies ms as array bytes, per-seq worst latency {seq: ms}, missed, duplicate,
# deliveries, stream errors, unrelated events).
FinalWire = tuple[bytes, dict[int, float], int, int, int, dict[str, int], int]


def _identity(data: bytes) -> bytes:
    return data


def describe(seq: int) -> str:
    """The description an update writes: marker, sequence number, send time in ns."""
    return f"{MARK} {seq} {time.time_ns()}"


# ---------------------------------------------------------------------------------------------
# Subscribers (each process runs its share in one event loop)


@dataclass
class Watcher:
    """What one WatchEvents stream received."""

    seen: Counter[int] = field(default_factory=Counter)
    open: bool = False


class Subscribers:
    """`count` WatchEvents streams of one process and what they saw."""

    def __init__(
        self,
        target: str,
        metadata: Metadata,
        count: int,
        per_channel: int,
        after_revision: int,
        request_filter: str,
    ) -> None:
        self.watchers = [Watcher() for _ in range(count)]
        self.latencies: array[float] = array("d")
        self.worst: dict[int, float] = {}
        self.errors: Counter[str] = Counter()
        self.unrelated = 0
        self.deliveries = 0
        self._metadata = metadata
        self._request = event_pb2.WatchEventsRequest(
            after_revision=after_revision, filter=request_filter
        ).SerializeToString()
        self._channels = [
            grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
            for _ in range(0, count, per_channel)
        ]
        self._per_channel = per_channel
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Open every stream."""
        self._tasks = [asyncio.create_task(self._watch(i)) for i in range(len(self.watchers))]

    async def close(self) -> None:
        """Cancel every stream and close the channels."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self._channels:
            await channel.close(None)

    def complete(self, want: Sequence[int]) -> int:
        """How many watchers have seen every seq in `want`."""
        return sum(1 for w in self.watchers if all(w.seen[s] for s in want))

    async def _watch(self, index: int) -> None:
        watcher = self.watchers[index]
        call = self._channels[index // self._per_channel].unary_stream(
            WATCH, request_serializer=_identity, response_deserializer=_identity
        )(self._request, metadata=self._metadata)
        watcher.open = True
        try:
            async for data in call:
                received_ns = time.time_ns()
                event = event_pb2.WatchEventsResponse.FromString(data).event
                if event.type == event_pb2.EVENT_TYPE_BOOKMARK:
                    continue
                text = event.camera.description
                if event.type != event_pb2.EVENT_TYPE_CAMERA_UPDATED or not text.startswith(MARK):
                    self.unrelated += 1
                    continue
                _, seq_text, sent_text = text.split()
                seq = int(seq_text)
                watcher.seen[seq] += 1
                if seq == 0:
                    continue  # the marker that proves the stream is live; not timed
                ms = (received_ns - int(sent_text)) / 1e6
                self.latencies.append(ms)
                self.deliveries += 1
                if ms > self.worst.get(seq, -1.0):
                    self.worst[seq] = ms
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.errors[exc.code().name] += 1
        finally:
            watcher.open = False

    def final(self, seqs: Sequence[int]) -> FinalWire:
        """Missed and duplicate deliveries of `seqs` per watcher, and the latencies (of every
        timed delivery, also of updates whose call failed on the client but was committed)."""
        missed = duplicate = delivered = 0
        for w in self.watchers:
            for s in seqs:
                n = w.seen[s]
                missed += n == 0
                duplicate += max(0, n - 1)
                delivered += n
        return (
            self.latencies.tobytes(),
            self.worst,
            missed,
            duplicate,
            delivered,
            dict(self.errors),
            self.unrelated,
        )


def _subscriber_main(
    target: str,
    metadata: Metadata,
    count: int,
    per_channel: int,
    after_revision: int,
    request_filter: str,
    conn: Connection,
) -> None:
    """Entry point of one spawned subscriber process: obey the parent's commands over `conn`.

    Commands: ("status", seqs) -> StatusWire; ("final", seqs) -> FinalWire and exit.
    """

    async def run() -> None:
        subs = Subscribers(target, metadata, count, per_channel, after_revision, request_filter)
        subs.start()
        loop = asyncio.get_running_loop()
        conn.send("ready")
        try:
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command[0] == "status":
                    conn.send(
                        (
                            sum(w.open for w in subs.watchers),
                            subs.complete(command[1]),
                            subs.deliveries,
                            dict(subs.errors),
                        )
                    )
                elif command[0] == "final":
                    conn.send(subs.final(command[1]))
                    return
        finally:
            await subs.close()

    try:
        asyncio.run(run())
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass  # the parent went away or Ctrl-C: nothing to report to
    except Exception as exc:  # report any other failure to the parent instead of hanging it
        with contextlib.suppress(OSError):
            conn.send(f"subscriber process failed: {type(exc).__name__}: {exc}")
    finally:
        conn.close()


class SubscriberProcesses:
    """The spawned subscriber processes, commanded over pipes."""

    def __init__(
        self,
        target: str,
        metadata: Metadata,
        subscribers: int,
        processes: int,
        per_channel: int,
        after_revision: int,
        request_filter: str,
    ) -> None:
        # Spawn, never fork: a forked child of a process with live gRPC objects can hang.
        ctx = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[multiprocessing.process.BaseProcess] = []
        for i in range(processes):
            share = subscribers // processes + (1 if i < subscribers % processes else 0)
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=_subscriber_main,
                args=(
                    target,
                    metadata,
                    share,
                    per_channel,
                    after_revision,
                    request_filter,
                    child_end,
                ),
                daemon=True,
            )
            proc.start()
            child_end.close()
            self._pipes.append(parent_end)
            self._procs.append(proc)

    @property
    def pids(self) -> list[int]:
        """Process ids of the subscriber processes."""
        return [p.pid for p in self._procs if p.pid is not None]

    async def _receive(self, pipe: Connection) -> object:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, pipe.poll, PIPE_TIMEOUT_S):
            raise RuntimeError("a subscriber process did not answer in time")
        try:
            return pipe.recv()
        except EOFError:
            raise RuntimeError(
                "a subscriber process exited without reporting (see its traceback above)"
            ) from None

    async def ask(self, *command: object) -> list[object]:
        """Send `command` to every process; returns their answers."""
        for pipe in self._pipes:
            pipe.send(command)
        answers = []
        for pipe in self._pipes:
            answer = await self._receive(pipe)
            if isinstance(answer, str):
                raise RuntimeError(answer)
            answers.append(answer)
        return answers

    async def wait_ready(self) -> None:
        """Wait until every process has started its streams."""
        for pipe in self._pipes:
            message = await self._receive(pipe)
            if message != "ready":
                raise RuntimeError(str(message))

    async def status(self, want: Sequence[int]) -> tuple[int, int, int, Counter[str]]:
        """(open streams, streams that saw every seq in `want`, deliveries, errors) over all."""
        total = (0, 0, 0, Counter[str]())
        for answer in await self.ask("status", want):
            opened, done, deliveries, errors = cast(StatusWire, answer)
            total = (
                total[0] + opened,
                total[1] + done,
                total[2] + deliveries,
                total[3] + Counter(errors),
            )
        return total

    async def close(self) -> None:
        """End the processes (killed by PID if they do not exit)."""
        for pipe in self._pipes:
            pipe.close()
        loop = asyncio.get_running_loop()
        for proc in self._procs:
            await loop.run_in_executor(None, proc.join, 10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# The updater (in the bench process)


@dataclass
class Updates:
    """What the updater did."""

    done: list[int] = field(default_factory=list)  # seqs whose UpdateCamera succeeded
    failed: Counter[str] = field(default_factory=Counter)
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    late: int = 0  # updates that started more than 50 ms after their slot


async def update(
    stub: camera_pb2_grpc.CameraServiceAsyncStub, admin: Metadata, camera_id: str, seq: int
) -> None:
    """One UpdateCamera of the description, stamped with `seq` and the send time."""
    await stub.UpdateCamera(
        camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=camera_id, description=describe(seq)),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        ),
        metadata=admin,
        timeout=CALL_TIMEOUT_S,
    )


async def run_updates(
    stub: camera_pb2_grpc.CameraServiceAsyncStub,
    admin: Metadata,
    cameras: Sequence[str],
    rate: float,
    seconds: float,
) -> Updates:
    """`rate` updates per second for `seconds`, open loop: each at its slot, however long the
    previous ones take (a slow server then shows as latency, not as a lower rate)."""
    result = Updates()
    count = round(rate * seconds)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(seq: int) -> None:
        slot = start + (seq - 1) / rate
        delay = slot - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            result.late += 1
        began = time.monotonic()
        try:
            await update(stub, admin, cameras[seq % len(cameras)], seq)
        except grpc.aio.AioRpcError as exc:
            result.failed[exc.code().name] += 1
            return
        result.latencies_ms.append((time.monotonic() - began) * 1000.0)
        result.done.append(seq)

    await asyncio.gather(*(one(seq) for seq in range(1, count + 1)))
    result.done.sort()
    return result


# ---------------------------------------------------------------------------------------------
# Main


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _pct(usage: Usage | None, seconds: float) -> str:
    if usage is None or usage.cpu_s is None:
        return "-"
    return f"{100 * usage.cpu_s / seconds:.0f}%"


async def _wait(
    subs: SubscriberProcesses, want: Sequence[int], subscribers: int, within_s: float, what: str
) -> tuple[float, Counter[str]]:
    """Poll until every subscriber saw every seq in `want`; returns the seconds and errors."""
    started = time.monotonic()
    while True:
        opened, done, _, errors = await subs.status(want)
        if done == subscribers:
            return time.monotonic() - started, errors
        if time.monotonic() - started > within_s:
            print(
                f"  !!! {what}: {done}/{subscribers} subscribers complete after "
                f"{within_s:.0f} s ({opened} streams open; errors {dict(errors)})",
                file=sys.stderr,
                flush=True,
            )
            return time.monotonic() - started, errors
        await asyncio.sleep(0.2)


async def prefill(
    stub: camera_pb2_grpc.CameraServiceAsyncStub,
    admin: Metadata,
    cameras: Sequence[str],
    count: int,
) -> float:
    """`count` camera updates before the subscribers connect (fills the server's event ring)."""
    started = time.monotonic()
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with sem:
            await stub.UpdateCamera(
                camera_pb2.UpdateCameraRequest(
                    camera=camera_pb2.Camera(
                        id=cameras[i % len(cameras)], description=f"prefill {i}"
                    ),
                    update_mask=field_mask_pb2.FieldMask(paths=["description"]),
                ),
                metadata=admin,
                timeout=CALL_TIMEOUT_S,
            )

    await asyncio.gather(*(one(i) for i in range(count)))
    return time.monotonic() - started


async def bench(args: argparse.Namespace, work: Path, database_url: str, prefix: str) -> int:
    """Start the control plane, open the watchers, drive the updates and print the report."""
    admin_password = secrets.token_urlsafe(18)
    port = free_port()
    source = server_source()
    server = start_control_plane(
        {
            **server_env(work / "data", port, admin_password, database_url, prefix),
            # Every subscriber is admin: above the per-principal stream bound (default 100).
            "CAMFLEET_MAX_STREAMS_PER_PRINCIPAL": str(args.subscribers + 10),
        },
        work / "server.log",
    )
    target = f"{LOOPBACK}:{port}"
    channel = grpc.aio.insecure_channel(target)
    subs: SubscriberProcesses | None = None
    try:
        await wait_serving(target, server)
        login = await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=admin_password)
        )
        admin: Metadata = (("authorization", f"Bearer {login.tokens.access_token}"),)
        stub = camera_pb2_grpc.CameraServiceStub(channel)
        cameras = [
            (
                await stub.CreateCamera(
                    camera_pb2.CreateCameraRequest(
                        camera=camera_pb2.Camera(name=f"fanout-{i:03d}", description="")
                    ),
                    metadata=admin,
                    timeout=CALL_TIMEOUT_S,
                )
            ).camera.id
            for i in range(args.cameras)
        ]
        prefill_s = await prefill(stub, admin, cameras, args.prefill) if args.prefill else 0.0
        revision = (
            await stub.ListCameras(camera_pb2.ListCamerasRequest(page_size=1), metadata=admin)
        ).revision
        subs = SubscriberProcesses(
            target,
            admin,
            args.subscribers,
            args.processes,
            args.streams_per_channel,
            revision,
            args.filter,
        )
        await subs.wait_ready()
        # The marker (seq 0): once every subscriber has it, every stream is live.
        await update(stub, admin, cameras[0], 0)
        opened_s, errors = await _wait(subs, [0], args.subscribers, 60, "marker")
        if errors:
            raise RuntimeError(f"watch streams failed before the updates: {dict(errors)}")
        print(
            f"bench_watch_fanout: backend={args.backend} subscribers={args.subscribers} "
            f"processes={args.processes} streams/channel={args.streams_per_channel} "
            f"rate={args.rate:g}/s seconds={args.seconds:g} cameras={args.cameras} "
            f"prefill={args.prefill} filter={args.filter or '-'!r} ({os.cpu_count()} cores, "
            f"Python {platform.python_version()}, grpcio {grpc.__version__}, load average "
            f"{load_average()}; server code {source})",
            flush=True,
        )
        # The server keeps its newest events in a ring of RING_SIZE that every watcher reads
        # from; how full it is changes what a delivery costs (see bench/README.md).
        in_ring = min(RING_SIZE, args.cameras + args.prefill + 1)
        print(
            f"  server event ring: ~{in_ring} of {RING_SIZE} events before the updates"
            + (
                ""
                if in_ring >= RING_SIZE
                else f" (a long-running server's is full: --prefill {RING_SIZE} measures that)"
            ),
            flush=True,
        )
        print(
            f"  setup: {args.subscribers} watchers live {opened_s:.1f} s after the marker"
            + (f"; {args.prefill} prefill updates in {prefill_s:.1f} s" if args.prefill else ""),
            flush=True,
        )
        loop = asyncio.get_running_loop()
        sub_pids = subs.pids
        meters = {
            "server": CpuMeter.of_pid(server.pid),
            "subscribers": CpuMeter(lambda: (sub_pids, None)),
        }
        if database_url:
            meters["db"] = CpuMeter(postgres_backends(database_url))
            meters["redis"] = CpuMeter(redis_server_pids)
        before = {k: await loop.run_in_executor(None, m.sample) for k, m in meters.items()}
        started = time.monotonic()
        updates = await run_updates(stub, admin, cameras, args.rate, args.seconds)
        drain_s, errors = await _wait(
            subs, updates.done, args.subscribers, args.drain_timeout, "drain"
        )
        elapsed = time.monotonic() - started
        after = {k: await loop.run_in_executor(None, m.sample) for k, m in meters.items()}
        usage = {k: CpuMeter.usage(before[k], after[k]) for k in meters}
        rss = memory_mib(server.pid)
        server.check_alive()
        finals = await subs.ask("final", updates.done)
        return report(args, updates, finals, usage, elapsed, drain_s, rss)
    finally:
        if subs is not None:
            await subs.close()
        await channel.close(None)
        server.stop()


def report(
    args: argparse.Namespace,
    updates: Updates,
    finals: list[object],
    usage: dict[str, Usage],
    elapsed: float,
    drain_s: float,
    rss: tuple[float, float],
) -> int:
    """Print the numbers; returns the exit status."""
    latencies: array[float] = array("d")
    worst: dict[int, float] = {}
    missed = duplicate = deliveries = unrelated = 0
    errors: Counter[str] = Counter()
    for final in finals:
        raw, per_seq, m, d, n, errs, other = cast(FinalWire, final)
        part: array[float] = array("d")
        part.frombytes(raw)
        latencies.extend(part)
        for seq, ms in per_seq.items():
            worst[seq] = max(worst.get(seq, 0.0), ms)
        missed, duplicate, deliveries = missed + m, duplicate + d, deliveries + n
        unrelated += other
        errors.update(errs)
    lat = list(latencies)
    expected = len(updates.done) * args.subscribers
    print("  latency change -> watcher (ms), all deliveries:")
    print(
        f"    p50 {_percentile(lat, 0.5):.1f}   p95 {_percentile(lat, 0.95):.1f}   "
        f"p99 {_percentile(lat, 0.99):.1f}   max {max(lat, default=float('nan')):.1f}"
    )
    per_update = list(worst.values())
    print("  until the last watcher had it (ms), per update:")
    print(
        f"    p50 {_percentile(per_update, 0.5):.1f}   p99 {_percentile(per_update, 0.99):.1f}   "
        f"max {max(per_update, default=float('nan')):.1f}"
    )
    upd = list(updates.latencies_ms)
    print(
        f"  updates: {len(updates.done)} done at {len(updates.done) / args.seconds:.1f}/s, "
        f"UpdateCamera p50 {_percentile(upd, 0.5):.1f} ms p99 {_percentile(upd, 0.99):.1f} ms"
        f", {sum(updates.failed.values())} failed, {updates.late} started late"
    )
    # Timed deliveries include those of updates that failed on the client (deadline) but were
    # committed: the server pushed them all.
    pushed = len(lat)
    print(
        f"  deliveries: {deliveries} of {expected} expected; missed {missed}, duplicate "
        f"{duplicate}, other events {unrelated}; {pushed / elapsed:.0f}/s over {elapsed:.1f} s "
        f"(the last {drain_s:.1f} s of it draining)"
    )
    print(
        f"  CPU over that time: server {_pct(usage['server'], elapsed)} "
        f"(RSS {rss[0]:.0f} MiB, peak {rss[1]:.0f}), subscribers "
        f"{_pct(usage['subscribers'], elapsed)}"
        + (
            f", PostgreSQL {_pct(usage['db'], elapsed)}, Redis {_pct(usage['redis'], elapsed)}"
            if "db" in usage
            else ""
        )
    )
    server_cpu = usage["server"].cpu_s
    if server_cpu and pushed:
        print(f"  server CPU per delivery: {1e6 * server_cpu / pushed:.0f} µs")
    print(f"  load average after: {load_average()}", flush=True)
    status = 0
    problems = []
    if missed or duplicate:
        problems.append(f"{missed} missed and {duplicate} duplicate deliveries")
    if updates.failed:
        problems.append(f"UpdateCamera failed: {dict(updates.failed)}")
    if errors:
        problems.append(f"watch streams ended with errors: {dict(errors)}")
    for problem in problems:
        print(f"  !!! {problem}", file=sys.stderr)
        status = 1
    return status


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_watch_fanout", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--subscribers", type=int, default=500, help="WatchEvents streams")
    parser.add_argument("--processes", type=int, default=2, help="subscriber processes")
    parser.add_argument(
        "--streams-per-channel",
        type=int,
        default=100,
        help="watch streams sharing one TCP connection",
    )
    parser.add_argument("--rate", type=float, default=20.0, help="UpdateCamera calls per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of updates")
    parser.add_argument("--cameras", type=int, default=20, help="cameras updated round-robin")
    parser.add_argument(
        "--filter", default="", help="WatchEvents filter of every subscriber (default: everything)"
    )
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="camera updates before the watchers connect (fills the event ring)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="seconds to wait after the last update for every delivery",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args(argv)
    # Bounded by construction.
    if not 1 <= args.subscribers <= 5000 or not 1 <= args.processes <= 16:
        parser.error("--subscribers must be 1..5000 and --processes 1..16")
    if args.processes > args.subscribers or not 1 <= args.streams_per_channel <= 1000:
        parser.error("--processes must be at most --subscribers; --streams-per-channel 1..1000")
    if not 0 < args.rate <= 1000 or not 0 < args.seconds <= 600:
        parser.error("--rate must be in (0, 1000] and --seconds in (0, 600]")
    if not 1 <= args.cameras <= 1000 or not 0 <= args.prefill <= 200_000:
        parser.error("--cameras must be 1..1000 and --prefill 0..200000")
    if not 1 <= args.drain_timeout <= 600:
        parser.error("--drain-timeout must be 1..600")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 0 ok, 1 missed deliveries, failures or setup problems."""
    args = parse_args(argv)
    return run_bench("bench_watch_fanout", bench, args)


if __name__ == "__main__":
    raise SystemExit(main())
