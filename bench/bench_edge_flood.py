"""Login through Envoy while one client floods the edge (issue 10, finding 1), beside Login with
no flood, in one run.

    python -m bench.bench_edge_flood [--logins 200] [--concurrency 1] [--streams 2000]
                                     [--slow 1500]

One run starts the real control plane (`python -m server`, SQLite) and Envoy with the config
./start renders (scripts/envoy_config.py: the same routes, timeouts, limits and circuit
breakers), Envoy reaching the control plane on its proxy socket as in ./start (so the control
plane sees each client's own address). Then:

1. quiet: `--logins` Logins as admin (correct password: successful logins count against no
   limit) over plain gRPC from 127.0.0.1, `--concurrency` at a time: straight to the control
   plane (what a Login costs on this machine now), then through Envoy;
2. flood: ONE client, bound to source address 127.0.0.2, opens `--streams` idle streams through
   Envoy (grpc-web over HTTP/1.1, one connection each: half grpc.health.v1.Health/Watch with no
   credential, half WatchEvents with a viewer's token) and `--slow` slow connections (a grpc-web
   Login's headers with `content-length: 1000000` and 1 byte of body each; one that Envoy closes
   is opened again), and holds them all;
3. the same Logins again while the flood holds.

It prints Login p50/p99/max of both, the ratio of the p99s, what the flood got (streams held,
refused with RESOURCE_EXHAUSTED; slow connections cut off by Envoy), Envoy's counters, and PASS
when the flood's p99 is under 1 s and at most 3x the quiet p99. Everything it starts is stopped
by PID and its temporary directory removed, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from camfleet.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    common_pb2,
    event_pb2,
    user_pb2,
    user_pb2_grpc,
)
from grpc_health.v1 import health_pb2

from bench.bench_heartbeats import server_source
from harness.control_plane import server_env, start_control_plane, wait_serving
from harness.cpu import load_average, memory_mib
from harness.ports import LOOPBACK, free_port
from harness.processes import Child
from scripts.envoy_admin import admin_request, raise_open_file_limit, routes_to_control_plane
from scripts.envoy_config import render

ENVOY = str(Path(sys.executable).with_name("envoy"))
ATTACKER = "127.0.0.2"
TARGET_P99_S = 1.0
TARGET_RATIO = 3.0
CLASSIFY_S = 5.0  # a stream not refused by then is held (WatchEvents says nothing for 30 s)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@dataclass
class Logins:
    """Latencies of successful Logins, and failures."""

    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        if not self.seconds:
            return f"  {label}: no successful Login ({self.failures[:3]})"
        p50, p99 = _percentile(self.seconds, 50), _percentile(self.seconds, 99)
        return (
            f"  {label}: {len(self.seconds)} Logins, p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {max(self.seconds) * 1000:.0f} ms, "
            f"{len(self.failures)} failed"
        )


async def measure_logins(target: str, password: str, count: int, concurrency: int) -> Logins:
    """`count` admin Logins through `target`, `concurrency` at a time, each timed."""
    result = Logins()
    request = auth_pb2.LoginRequest(username="admin", password=password)
    queue = iter(range(count))
    async with grpc.aio.insecure_channel(target) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)

        async def worker() -> None:
            for _ in queue:
                started = time.monotonic()
                try:
                    await stub.Login(request, timeout=30)
                    result.seconds.append(time.monotonic() - started)
                except grpc.aio.AioRpcError as err:
                    result.failures.append(f"{err.code().name}: {err.details()}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def _grpc_web_post(port: int, method: str, body: bytes, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"POST {method} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n{extra}"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


def _framed(message: bytes) -> bytes:
    return struct.pack(">BI", 0, len(message)) + message


@dataclass
class Flood:
    """One client's idle streams and slow connections, held open."""

    port: int
    viewer_token: str
    streams: int
    slow: int
    held: int = 0
    refused: int = 0
    stream_errors: int = 0
    slow_open: int = 0
    slow_cut: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    all_slow_sent: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(
            LOOPBACK, self.port, local_addr=(ATTACKER, 0)
        )
        self.writers.append(writer)
        return reader, writer

    async def _stream(self, i: int) -> None:
        if i % 2:
            request = _grpc_web_post(
                self.port,
                "/camfleet.v1.EventService/WatchEvents",
                _framed(event_pb2.WatchEventsRequest().SerializeToString()),
                {"authorization": f"Bearer {self.viewer_token}"},
            )
        else:
            request = _grpc_web_post(
                self.port,
                "/grpc.health.v1.Health/Watch",
                _framed(health_pb2.HealthCheckRequest().SerializeToString()),
                {},
            )
        try:
            reader, writer = await self._connect()
            writer.write(request)
            await writer.drain()
            seen = b""
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLASSIFY_S):
                    while b"grpc-status" not in seen and b"\x00\x00\x00\x00" not in seen:
                        chunk = await reader.read(4096)
                        if not chunk:
                            break
                        seen += chunk
        except OSError:
            self.stream_errors += 1
            return
        if b"grpc-status: 8" in seen or b"grpc-status:8" in seen:
            self.refused += 1
        elif b"grpc-status" in seen or (seen and not seen.startswith(b"HTTP/1.1 200")):
            self.stream_errors += 1
        else:
            self.held += 1  # the connection stays open either way: the attacker holds it

    async def _slow_connection(self) -> None:
        request = _grpc_web_post(self.port, "/camfleet.v1.AuthService/Login", b"", {})
        request = request.replace(b"content-length: 0", b"content-length: 1000000") + b"\x00"
        while True:  # one that Envoy closes is opened again
            try:
                reader, writer = await self._connect()
                writer.write(request)
                await writer.drain()
                self.slow_open += 1
                if self.slow_open + self.slow_cut >= self.slow:
                    self.all_slow_sent.set()
                await reader.read()  # until Envoy gives up on the body (408) and closes
                self.slow_open -= 1
                self.slow_cut += 1
                writer.close()
            except OSError:
                await asyncio.sleep(0.5)

    async def start(self) -> None:
        """Open everything; returns once every stream was answered or held CLASSIFY_S."""
        self.tasks = [asyncio.create_task(self._slow_connection()) for _ in range(self.slow)]
        gate = asyncio.Semaphore(200)

        async def one(i: int) -> None:
            async with gate:
                await self._stream(i)

        await asyncio.gather(*(one(i) for i in range(self.streams)))
        await self.all_slow_sent.wait()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()


def envoy_stats(admin: Path) -> dict[str, int]:
    """A few of Envoy's counters and gauges."""
    names = (
        "http.api.downstream_cx_active",
        "http.api.downstream_rq_active",
        "cluster.control_plane.upstream_rq_active",
        "cluster.control_plane.upstream_rq_pending_overflow",
        "http.api.downstream_rq_timeout",
    )
    _, text = admin_request(admin, "GET", "/stats?format=json")
    found = {s["name"]: int(s.get("value", 0)) for s in json.loads(text)["stats"] if "name" in s}
    return {name: found.get(name, 0) for name in names}


async def _viewer_token(channel: grpc.aio.Channel, admin: tuple[tuple[str, str], ...]) -> str:
    password = secrets.token_urlsafe(18)
    user = await user_pb2_grpc.UserServiceStub(channel).CreateUser(
        user_pb2.CreateUserRequest(
            user=user_pb2.User(
                username=f"flood-{secrets.token_hex(3)}", role=common_pb2.ROLE_VIEWER
            ),
            password=password,
        ),
        metadata=admin,
    )
    login = await auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(username=user.user.username, password=password)
    )
    return login.tokens.access_token


async def bench(args: argparse.Namespace, work: Path) -> int:
    """Start the control plane and Envoy, measure quiet, flood, measure again, report."""
    password = secrets.token_urlsafe(18)
    port, edge_port = free_port(), free_port()
    source = server_source()
    env = server_env(work / "data", port, password, "", "")
    # As ./start: Envoy reaches the control plane on its proxy socket, the one peer whose
    # x-forwarded-for (the flood's address, 127.0.0.2) the control plane believes.
    proxy_socket = work / "control-plane.sock"
    env["CAMFLEET_PROXY_SOCKET"] = str(proxy_socket)
    server = start_control_plane(env, work / "server.log")
    admin_socket = work / "envoy-admin.sock"
    config = work / "envoy.json"
    config.write_text(
        json.dumps(
            render(
                (LOOPBACK, edge_port),
                admin_socket,
                [(LOOPBACK, port)],
                control_plane_socket=str(proxy_socket),
            ),
            indent=1,
        )
    )
    envoy = Child(
        "envoy",
        [ENVOY, "-c", str(config), "--disable-hot-restart", "--log-level", "error"],
        env={},
        log=work / "envoy.log",
    )
    flood: Flood | None = None
    try:
        async with grpc.aio.insecure_channel(f"{LOOPBACK}:{port}") as direct:
            await wait_serving(f"{LOOPBACK}:{port}", server)
            login = await auth_pb2_grpc.AuthServiceStub(direct).Login(
                auth_pb2.LoginRequest(username="admin", password=password)
            )
            token = await _viewer_token(
                direct, (("authorization", f"Bearer {login.tokens.access_token}"),)
            )
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(routes_to_control_plane, admin_socket):
            envoy.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"envoy did not become ready:\n{envoy.tail()}")
            await asyncio.sleep(0.2)
        target = f"{LOOPBACK}:{edge_port}"
        print(
            f"edge flood bench: control plane (SQLite) + Envoy on {target}; load {load_average()}"
            f"; server code {source}"
        )
        await measure_logins(target, password, 10, 2)  # warm-up, not counted
        direct = await measure_logins(f"{LOOPBACK}:{port}", password, args.logins, args.concurrency)
        print(direct.line("quiet, straight to the control plane (what Login itself costs)"))
        quiet = await measure_logins(target, password, args.logins, args.concurrency)
        print(quiet.line("quiet, through Envoy"))
        flood = Flood(edge_port, token, args.streams, args.slow)
        started = time.monotonic()
        await flood.start()
        print(
            f"  flood from {ATTACKER} after {time.monotonic() - started:.1f} s: "
            f"{args.streams} streams tried, {flood.held} held, {flood.refused} refused "
            f"(RESOURCE_EXHAUSTED), {flood.stream_errors} other; {flood.slow_open} slow "
            f"connections open, {flood.slow_cut} cut off by Envoy"
        )
        print(f"  envoy: {envoy_stats(admin_socket)}")
        loud = await measure_logins(target, password, args.logins, args.concurrency)
        print(loud.line("flood, through Envoy"))
        print(
            f"  during the flood: {flood.slow_open} slow connections open, {flood.slow_cut} cut "
            f"off so far; envoy RSS {memory_mib(envoy.pid)[0]:.0f} MiB, control plane RSS "
            f"{memory_mib(server.pid)[0]:.0f} MiB; load {load_average()}"
        )
        server.check_alive()
        envoy.check_alive()
    finally:
        if flood is not None:
            await flood.stop()
        envoy.stop()
        server.stop()
    if not quiet.seconds or not loud.seconds:
        print("FAIL: Logins failed")
        return 1
    q99, f99 = _percentile(quiet.seconds, 99), _percentile(loud.seconds, 99)
    ratio = f99 / q99
    ok = f99 < TARGET_P99_S and ratio <= TARGET_RATIO and not loud.failures
    print(
        f"  Login p99 quiet {q99 * 1000:.0f} ms, flood {f99 * 1000:.0f} ms, ratio {ratio:.2f}x "
        f"(target: under {TARGET_P99_S * 1000:.0f} ms and at most {TARGET_RATIO:.0f}x)"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    """Entry point; the exit code says PASS (0) or FAIL (1)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=200, help="Logins per measurement")
    parser.add_argument("--concurrency", type=int, default=1, help="Logins in flight")
    parser.add_argument("--streams", type=int, default=2000, help="idle streams of the flood")
    parser.add_argument("--slow", type=int, default=1500, help="slow connections of the flood")
    args = parser.parse_args()
    # 2 descriptors per flood connection here and in Envoy (which inherits this limit).
    raise_open_file_limit()
    # Short: the admin socket's path must fit in 107 bytes.
    work = Path(tempfile.mkdtemp(prefix="edge-flood-", dir="/tmp"))
    try:
        return asyncio.run(bench(args, work))
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
