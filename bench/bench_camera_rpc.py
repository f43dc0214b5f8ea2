"""Throughput of authenticated GetCamera / ListCameras against a bare grpc.aio echo server.

    python -m bench.bench_camera_rpc [--seconds 10] [--concurrency 64] [--clients 1]
                                     [--backend sqlite|postgres] [--page-size 20] [--metrics]

In one run it starts the real control plane (`python -m server`) and a bare echo server
(bench/echo_server.py) as subprocesses on free loopback ports, creates cameras and credentials,
then drives each scenario with `--concurrency` concurrent callers for `--seconds` after a
warm-up, and prints requests per second, latency percentiles, CPU use and the ratio of each
camera RPC to the echo baseline (the issue's target: GetCamera/echo >= 0.5). Every server it
starts is stopped and every database, Redis key and temporary directory it creates is removed,
also when it fails. Traffic goes to 127.0.0.1 only. A run with any failed call says so and exits
with status 1. With `--metrics` a second control plane with /metrics on (its gRPC metrics
interceptor counting every call) runs beside the first, the camera scenarios are measured on
both in the same rounds, and the server CPU per call with metrics is printed beside the one
without (the issue's target: under 5 % more). See bench/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
import urllib.request
from array import array
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
from camfleet.v1 import (
    api_token_pb2,
    api_token_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    user_pb2,
    user_pb2_grpc,
)
from google.protobuf import field_mask_pb2
from prometheus_client.parser import text_string_to_metric_families

from harness.control_plane import server_env, start_control_plane, wait_serving
from harness.cpu import CpuMeter, Usage, load_average
from harness.databases import postgres_backends, throwaway_postgres, throwaway_redis_prefix
from harness.ports import LOOPBACK, free_port
from harness.processes import Child, clean_env
from server.transport.metrics import GrpcMetrics, MetricsInterceptor

ECHO_METHOD = "/bench.Echo/Echo"
GET_CAMERA = "/camfleet.v1.CameraService/GetCamera"
LIST_CAMERAS = "/camfleet.v1.CameraService/ListCameras"
LIST_FILTER = 'active = true AND name:"cam"'
WRITE_RATE = 20.0  # UpdateCamera calls per second in the *-writes scenarios
CALL_TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0
# Each load channel gets its own TCP connection instead of sharing the process-wide subchannel
# (the setup channel to the same server would otherwise carry the load too).
CLIENT_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)

Metadata = tuple[tuple[str, str], ...]
# A LoadResult as plain data: calls, errors, latencies (array bytes), client CPU, warm-up errors.
Wire = tuple[int, dict[str, int], bytes, float, dict[str, int]]


# ---------------------------------------------------------------------------------------------
# Load generation (runs in this process, or in `--clients` spawned processes)


@dataclass
class LoadResult:
    """What one load run (or one client process of it) observed inside the measured window."""

    calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    client_cpu_s: float = 0.0
    # Warm-up errors too: a scenario that fails only while warming up still failed.
    warmup_errors: Counter[str] = field(default_factory=Counter)

    def to_wire(self) -> Wire:
        """Plain data for the pipe (classes of a spawned `__main__` do not unpickle here)."""
        return (
            self.calls,
            dict(self.errors),
            self.latencies_ms.tobytes(),
            self.client_cpu_s,
            dict(self.warmup_errors),
        )

    @classmethod
    def from_wire(cls, data: Wire) -> LoadResult:
        """Inverse of `to_wire`."""
        latencies = array("d")
        latencies.frombytes(data[2])
        return cls(data[0], Counter(data[1]), latencies, data[3], Counter(data[4]))

    def merge(self, other: LoadResult) -> None:
        """Add another client's observations."""
        self.calls += other.calls
        self.errors.update(other.errors)
        self.latencies_ms.extend(other.latencies_ms)
        self.client_cpu_s += other.client_cpu_s
        self.warmup_errors.update(other.warmup_errors)


@dataclass(frozen=True)
class LoadSpec:
    """One scenario's traffic: where, which method, which request bytes, which credential."""

    target: str
    method: str
    payloads: tuple[bytes, ...]
    metadata: Metadata
    concurrency: int
    warmup_s: float
    seconds: float


def _identity(data: bytes) -> bytes:
    return data


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _drive(spec: LoadSpec, start_mono: float, channel: grpc.aio.Channel) -> LoadResult:
    """`spec.concurrency` callers in a loop from `start_mono`; only the window after warm-up counts.

    Requests and responses stay raw bytes (no protobuf work in the client), so the client costs
    the same for every scenario and as little as grpc.aio allows.
    """
    call = channel.unary_unary(
        spec.method, request_serializer=_identity, response_deserializer=_identity
    )
    window_start = start_mono + spec.warmup_s
    window_end = window_start + spec.seconds
    result = LoadResult()
    payloads, n = spec.payloads, len(spec.payloads)

    async def caller(index: int) -> None:
        k = index
        while True:
            began = time.monotonic()
            if began >= window_end:
                return
            code = ""
            try:
                await call(payloads[k % n], metadata=spec.metadata, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
            k += 1
            done = time.monotonic()
            if window_start <= done <= window_end:
                if code:
                    result.errors[code] += 1
                else:
                    result.calls += 1
                    result.latencies_ms.append((done - began) * 1000.0)
            elif code:
                result.warmup_errors[code] += 1
                if done < window_start:
                    # A failing call returns at once; do not spin the CPU the server needs.
                    await asyncio.sleep(0.01)

    async def cpu_meter() -> None:
        await _sleep_until(window_start)
        before = time.process_time()
        await _sleep_until(window_end)
        result.client_cpu_s = time.process_time() - before

    await _sleep_until(start_mono)
    await asyncio.gather(cpu_meter(), *(caller(i) for i in range(spec.concurrency)))
    return result


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _child_main(spec: LoadSpec, conn: Connection) -> None:
    """Entry point of one spawned client process: connect, report ready, wait for go, drive."""

    async def run() -> LoadResult:
        async with grpc.aio.insecure_channel(spec.target, options=CLIENT_OPTIONS) as channel:
            await asyncio.wait_for(channel.channel_ready(), CALL_TIMEOUT_S)
            conn.send("ready")
            start_wall: float = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            start_mono = time.monotonic() + (start_wall - time.time())
            return await _drive(spec, start_mono, channel)

    try:
        conn.send(asyncio.run(run()).to_wire())
    except Exception as exc:  # report any failure to the parent instead of hanging it
        conn.send(f"client process failed: {type(exc).__name__}: {exc}")
    finally:
        conn.close()


async def _usage_over_window(
    meters: Sequence[CpuMeter], window_start: float, seconds: float
) -> list[Usage]:
    """What each meter's processes used between `window_start` and `+ seconds`."""
    loop = asyncio.get_running_loop()
    await _sleep_until(window_start)
    # In a thread: a meter may query the database for its processes.
    before = [await loop.run_in_executor(None, m.sample) for m in meters]
    await _sleep_until(window_start + seconds)
    after = [await loop.run_in_executor(None, m.sample) for m in meters]
    return [CpuMeter.usage(b, a) for b, a in zip(before, after, strict=True)]


def _receive(pipe: Connection) -> object:
    try:
        return pipe.recv()
    except EOFError:
        raise RuntimeError(
            "a client process exited without reporting (see its traceback above)"
        ) from None


async def run_load(
    spec: LoadSpec, clients: int, meters: Sequence[CpuMeter]
) -> tuple[LoadResult, list[Usage]]:
    """Drive `spec` from `clients` processes (1: this one); returns results and meters' CPU s."""
    if clients <= 1:
        async with grpc.aio.insecure_channel(spec.target, options=CLIENT_OPTIONS) as channel:
            await asyncio.wait_for(channel.channel_ready(), CALL_TIMEOUT_S)
            start = time.monotonic() + 0.05
            driving = asyncio.ensure_future(_drive(spec, start, channel))
            try:
                cpu = await _usage_over_window(meters, start + spec.warmup_s, spec.seconds)
                return await driving, cpu
            finally:
                # Interrupted (Ctrl-C, a meter failing): stop the callers before the channel.
                if not driving.done():
                    driving.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await driving
    # Spawn, never fork: a forked child of a process with live gRPC objects can hang.
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    pipes: list[Connection] = []
    procs: list[multiprocessing.process.BaseProcess] = []
    try:
        for share in _split(spec.concurrency, clients):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=_child_main,
                args=(replace(spec, concurrency=share), child_end),
                daemon=True,
            )
            proc.start()
            child_end.close()
            pipes.append(parent_end)
            procs.append(proc)
        for pipe in pipes:
            if not await loop.run_in_executor(None, pipe.poll, START_TIMEOUT_S):
                raise RuntimeError("a client process did not connect in time")
            message = _receive(pipe)
            if message != "ready":
                raise RuntimeError(str(message))
        start_wall = time.time() + 0.1
        for pipe in pipes:
            pipe.send(start_wall)
        start_mono = time.monotonic() + (start_wall - time.time())
        cpu = await _usage_over_window(meters, start_mono + spec.warmup_s, spec.seconds)
        total = LoadResult()
        for pipe in pipes:
            deadline = spec.warmup_s + spec.seconds + CALL_TIMEOUT_S + 10
            if not await loop.run_in_executor(None, pipe.poll, deadline):
                raise RuntimeError("a client process did not report in time")
            part = _receive(pipe)
            if not isinstance(part, tuple):
                raise RuntimeError(str(part))
            total.merge(LoadResult.from_wire(part))
        return total, cpu
    finally:
        for pipe in pipes:
            pipe.close()
        for process in procs:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# Subprocesses: the control plane and the echo server


async def wait_echo(channel: grpc.aio.Channel, child: Child) -> None:
    """Wait until the echo server answers a call."""
    echo = channel.unary_unary(
        ECHO_METHOD, request_serializer=_identity, response_deserializer=_identity
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(grpc.aio.AioRpcError):
            if await echo(b"ping", timeout=1.0) == b"ping":
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(
        f"{child.name} did not answer after {START_TIMEOUT_S:.0f} s:\n{child.tail()}"
    )


# ---------------------------------------------------------------------------------------------
# Fixture data and scenarios


@dataclass(frozen=True)
class Fixture:
    """What the scenarios need: credentials and cameras of a freshly started control plane."""

    jwt: Metadata
    api_token: Metadata
    camera_ids: tuple[str, ...]
    sample_response: bytes  # a real GetCameraResponse, the echo payload


def _bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


async def make_fixture(
    channel: grpc.aio.Channel, admin_password: str, cameras: int, prefix: str = "bench"
) -> Fixture:
    """Log in as admin, create `cameras` cameras (named `prefix`-cam-N) and an API token with
    cameras.read."""
    auth = auth_pb2_grpc.AuthServiceStub(channel)
    login = await auth.Login(auth_pb2.LoginRequest(username="admin", password=admin_password))
    admin = _bearer(login.tokens.access_token)
    stub = camera_pb2_grpc.CameraServiceStub(channel)
    limit = asyncio.Semaphore(8)

    async def create(i: int) -> str:
        # Realistic rows: text fields and two labels (labels are a second query per read);
        # every fourth camera inactive so the filtered list really filters.
        camera = camera_pb2.Camera(
            name=f"{prefix}-cam-{i:04d}",
            description=f"benchmark camera {i}",
            location=f"building {i % 7}, floor {i % 5}",
            active=i % 4 != 0,
            labels={"site": f"site-{i % 3}", "zone": f"zone-{i % 10}"},
        )
        async with limit:
            resp = await stub.CreateCamera(
                camera_pb2.CreateCameraRequest(camera=camera), metadata=admin, timeout=30
            )
        return str(resp.camera.id)

    ids = tuple(await asyncio.gather(*(create(i) for i in range(cameras))))
    owner = await user_pb2_grpc.UserServiceStub(channel).CreateUser(
        user_pb2.CreateUserRequest(
            user=user_pb2.User(username=f"bench-{secrets.token_hex(4)}", role=common_pb2.ROLE_API),
            password=secrets.token_urlsafe(16),
        ),
        metadata=admin,
    )
    token = await api_token_pb2_grpc.ApiTokenServiceStub(channel).CreateApiToken(
        api_token_pb2.CreateApiTokenRequest(
            api_token=api_token_pb2.ApiToken(
                name="bench", owner_user_id=owner.user.id, scopes=["cameras.read"]
            )
        ),
        metadata=admin,
    )
    sample = await stub.GetCamera(camera_pb2.GetCameraRequest(id=ids[0]), metadata=admin)
    return Fixture(admin, _bearer(token.secret), ids, sample.SerializeToString())


@dataclass(frozen=True)
class Scenario:
    """One row of the table."""

    key: str  # name for --scenarios
    label: str
    target: str
    method: str
    payloads: tuple[bytes, ...]
    metadata: Metadata
    # Checks one real response before the load, so a fast wrong answer cannot pass as speed.
    check: Callable[[bytes], None]
    # Camera writes (UpdateCamera of a description, cameras in turn) made per second beside the
    # reads, so that caches that answer unchanged reads are measured while things change.
    writes_per_s: float = 0.0
    write_ids: tuple[str, ...] = ()


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"sanity check failed: {what}")


def scenarios(
    fx: Fixture, server: str, echo: str, page_size: int, write_rate: float = WRITE_RATE
) -> list[Scenario]:
    """Echo first (the baseline), then the camera RPCs."""
    gets = tuple(camera_pb2.GetCameraRequest(id=i).SerializeToString() for i in fx.camera_ids)
    known = set(fx.camera_ids)

    def check_get(data: bytes) -> None:
        _expect(
            camera_pb2.GetCameraResponse.FromString(data).camera.id in known,
            "GetCamera returned an unknown camera",
        )

    # make_fixture leaves every fourth camera (index 0, 4, 8, ...) inactive.
    active = sum(1 for i in range(len(fx.camera_ids)) if i % 4 != 0)

    def check_list(filtered: bool) -> Callable[[bytes], None]:
        want = min(page_size, active if filtered else len(known))

        def check(data: bytes) -> None:
            resp = camera_pb2.ListCamerasResponse.FromString(data)
            _expect(
                len(resp.cameras) == want,
                f"ListCameras returned {len(resp.cameras)} cameras, not {want}",
            )
            _expect(
                all(c.active for c in resp.cameras) or not filtered,
                "the filtered list returned an inactive camera",
            )

        return check

    def check_echo(data: bytes) -> None:
        _expect(data == fx.sample_response, "the echo server changed the payload")

    plain = camera_pb2.ListCamerasRequest(page_size=page_size).SerializeToString()
    filtered = camera_pb2.ListCamerasRequest(
        page_size=page_size, filter=LIST_FILTER
    ).SerializeToString()
    return [
        # The echo call carries the same credential so both servers parse the same metadata.
        Scenario(
            "echo",
            "echo (bare grpc.aio)",
            echo,
            ECHO_METHOD,
            (fx.sample_response,),
            fx.jwt,
            check_echo,
        ),
        Scenario("get", "GetCamera (JWT)", server, GET_CAMERA, gets, fx.jwt, check_get),
        Scenario(
            "get-token", "GetCamera (API token)", server, GET_CAMERA, gets, fx.api_token, check_get
        ),
        Scenario(
            "list",
            f"ListCameras ({page_size}/page)",
            server,
            LIST_CAMERAS,
            (plain,),
            fx.jwt,
            check_list(False),
        ),
        Scenario(
            "list-filter",
            "ListCameras (filter)",
            server,
            LIST_CAMERAS,
            (filtered,),
            fx.jwt,
            check_list(True),
        ),
        Scenario(
            "get-writes",
            f"GetCamera +{write_rate:g} writes/s",
            server,
            GET_CAMERA,
            gets,
            fx.jwt,
            check_get,
            write_rate,
            fx.camera_ids,
        ),
        Scenario(
            "list-writes",
            f"ListCameras +{write_rate:g} wr/s",
            server,
            LIST_CAMERAS,
            (plain,),
            fx.jwt,
            check_list(False),
            write_rate,
            fx.camera_ids,
        ),
    ]


SCENARIO_KEYS = ("echo", "get", "get-token", "list", "list-filter", "get-writes", "list-writes")


async def write_while(channel: grpc.aio.Channel, sc: Scenario, done: asyncio.Event) -> int:
    """UpdateCamera at `sc.writes_per_s` (one at a time, cameras in turn) until `done`; returns
    how many were made. The server CPU they take is counted in the reads' CPU per call: the
    cached answers are measured with the cost of keeping them fresh."""
    stub = camera_pb2_grpc.CameraServiceStub(channel)
    every = 1.0 / sc.writes_per_s
    made = 0
    next_at = time.monotonic()
    while not done.is_set():
        camera_id = sc.write_ids[made % len(sc.write_ids)]
        await stub.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=camera_id, description=f"benchmark write {made}"),
                update_mask=field_mask_pb2.FieldMask(paths=["description"]),
            ),
            metadata=sc.metadata,
            timeout=CALL_TIMEOUT_S,
        )
        made += 1
        next_at += every
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), max(0.0, next_at - time.monotonic()))
    return made


async def sanity_check(channel_for: Callable[[str], grpc.aio.Channel], sc: Scenario) -> None:
    """One call of the scenario, decoded and checked."""
    call = channel_for(sc.target).unary_unary(
        sc.method, request_serializer=_identity, response_deserializer=_identity
    )
    sc.check(await call(sc.payloads[0], metadata=sc.metadata, timeout=CALL_TIMEOUT_S))


# ---------------------------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class Row:
    """Measured numbers of one scenario."""

    key: str
    label: str
    result: LoadResult
    seconds: float
    server: Usage
    db: Usage | None  # PostgreSQL backends of the run's database

    @property
    def rps(self) -> float:
        """Completed calls per second inside the window."""
        return self.result.calls / self.seconds

    @property
    def cpu_per_call_us(self) -> float | None:
        """Server CPU microseconds per completed call (what the server's code costs)."""
        if self.server.cpu_s is None or not self.result.calls:
            return None
        return 1e6 * self.server.cpu_s / self.result.calls

    def percentile(self, q: float) -> float:
        """Latency percentile in ms (nearest rank)."""
        lat = sorted(self.result.latencies_ms)
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, max(0, round(q * len(lat)) - 1))]

    @property
    def error_count(self) -> int:
        """Failed calls, in the window and during warm-up."""
        return sum(self.result.errors.values()) + sum(self.result.warmup_errors.values())


def _pct(cpu_s: float | None, seconds: float) -> str:
    return "-" if cpu_s is None else f"{100 * cpu_s / seconds:.0f}%"


COLUMNS = (
    "rps",
    "p50 ms",
    "p99 ms",
    "errors",
    "srv CPU",
    "µs/call",
    "cli CPU",
    "db CPU",
    "db conn/s",
    "ratio",
)
HEADER = f"  {'scenario':<24}" + "".join(f"{c:>10}" for c in COLUMNS)


def format_row(row: Row, baseline: float | None) -> str:
    """One table line."""
    per_call = row.cpu_per_call_us
    db = row.db or Usage()
    # ">=": backends that exited in the window took their last CPU with them.
    db_cpu = (">=" if db.exited else "") + _pct(db.cpu_s, row.seconds)
    cells = (
        f"{row.rps:.0f}",
        f"{row.percentile(0.50):.1f}",
        f"{row.percentile(0.99):.1f}",
        str(row.error_count),
        _pct(row.server.cpu_s, row.seconds),
        "-" if per_call is None else f"{per_call:.0f}",
        _pct(row.result.client_cpu_s, row.seconds),
        db_cpu,
        "-" if db.sessions is None else f"{db.sessions / row.seconds:.0f}",
        f"{row.rps / baseline:.2f}" if baseline else "-",
    )
    return f"  {row.label:<24}" + "".join(f"{c:>10}" for c in cells)


# ---------------------------------------------------------------------------------------------
# Main


METERED = "+m"


async def start_metered(
    work: Path, admin_password: str, database_url: str, prefix: str
) -> tuple[Child, str, str]:
    """A second control plane, identical but for /metrics on (so its metrics interceptor
    counts every call): the child, its gRPC target and its metrics URL. On PostgreSQL it is a
    second replica of the same database."""
    port, metrics_port = free_port(), free_port()
    env = server_env(work / "data-metered", port, admin_password, database_url, prefix)
    env["CAMFLEET_METRICS_LISTEN"] = f"{LOOPBACK}:{metrics_port}"
    child = start_control_plane(env, work / "server-metered.log")
    target = f"{LOOPBACK}:{port}"
    await wait_serving(target, child)
    return child, target, f"http://{LOOPBACK}:{metrics_port}/metrics"


class _Context:
    """What the interceptor asks of a grpc.aio context on a call that succeeds."""

    def code(self) -> None:
        return None


async def interceptor_cost_us(calls: int = 200_000) -> tuple[float, float]:
    """CPU µs per call of a trivial unary handler as grpc.aio finds it (the continuation) and
    through MetricsInterceptor (its lookup, wrapper and counting), in this process: the
    interceptor's own cost without the noise of a loaded machine's scheduling."""
    metrics = GrpcMetrics()
    interceptor = MetricsInterceptor(metrics)

    async def echo(request: bytes, context: object) -> bytes:
        return request

    bare = grpc.unary_unary_rpc_method_handler(echo)

    async def continuation(details: object) -> Any:
        return bare

    details: Any = SimpleNamespace(method=GET_CAMERA)
    context = _Context()

    async def plain() -> None:
        handler = await continuation(details)
        await handler.unary_unary(b"x", context)

    async def metered() -> None:
        handler: Any = await interceptor.intercept_service(continuation, details)
        await handler.unary_unary(b"x", context)

    costs = []
    for one in (plain, metered):
        for _ in range(1000):  # warm up
            await one()
        began = time.process_time()
        for _ in range(calls):
            await one()
        costs.append(1e6 * (time.process_time() - began) / calls)
    _expect(
        sum(metrics.stats(GET_CAMERA, "unary").handled.values()) == calls + 1000,
        "the interceptor did not count every call",
    )
    return costs[0], costs[1]


async def check_counted(url: str, rows: Sequence[Row]) -> None:
    """The metered server's grpc_server_handled_total{GetCamera, OK} covers every GetCamera
    it answered in the measured windows: metrics that were not counted cost nothing."""

    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return str(resp.read().decode())

    text = await asyncio.get_running_loop().run_in_executor(None, fetch)
    counted = sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "grpc_server_handled_total"
        and s.labels.get("grpc_method") == "GetCamera"
        and s.labels.get("grpc_code") == "OK"
    )
    answered = sum(
        r.result.calls for r in rows if r.key.startswith("get") and r.key.endswith(METERED)
    )
    _expect(counted >= answered, f"/metrics counted {counted:.0f} GetCamera, fewer than {answered}")
    print(f"  /metrics of the metered server counted {counted:.0f} GetCamera OK (>= {answered})")


async def bench(args: argparse.Namespace, work: Path, database_url: str, prefix: str) -> int:
    """Start both servers, build the fixture, run every scenario and print the table."""
    admin_password = secrets.token_urlsafe(18)
    server_port, echo_port = free_port(), free_port()
    server = start_control_plane(
        server_env(work / "data", server_port, admin_password, database_url, prefix),
        work / "server.log",
    )
    echo: Child | None = None
    metered: Child | None = None
    channels: dict[str, grpc.aio.Channel] = {}
    try:
        echo = Child(
            "echo server",
            [
                sys.executable,
                "-m",
                "bench.echo_server",
                "--listen",
                f"{LOOPBACK}:{echo_port}",
            ],
            clean_env(),
            work / "echo.log",
        )
        server_target, echo_target = f"{LOOPBACK}:{server_port}", f"{LOOPBACK}:{echo_port}"

        def channel_for(target: str) -> grpc.aio.Channel:
            if target not in channels:
                channels[target] = grpc.aio.insecure_channel(target)
            return channels[target]

        children = {server_target: server, echo_target: echo}
        await wait_serving(server_target, server)
        await wait_echo(channel_for(echo_target), echo)
        fixture = await make_fixture(channel_for(server_target), admin_password, args.cameras)
        plan = [
            sc
            for sc in scenarios(
                fixture, server_target, echo_target, args.page_size, args.write_rate
            )
            if sc.key in args.scenarios
        ]
        metrics_url = ""
        if args.metrics:
            metered, metered_target, metrics_url = await start_metered(
                work, admin_password, database_url, prefix
            )
            children[metered_target] = metered
            metered_fixture = await make_fixture(
                channel_for(metered_target), admin_password, args.cameras, prefix="metered"
            )
            plan += [
                replace(sc, key=sc.key + METERED, label=sc.label + " +m")
                for sc in scenarios(
                    metered_fixture, metered_target, echo_target, args.page_size, args.write_rate
                )
                if sc.key in args.scenarios and sc.key != "echo"
            ]
        for sc in plan:
            await sanity_check(channel_for, sc)
        db_meter = CpuMeter(postgres_backends(database_url)) if database_url else None

        print(
            f"bench_camera_rpc: backend={args.backend} concurrency={args.concurrency} "
            f"clients={args.clients} seconds={args.seconds:g} rounds={args.rounds} "
            f"warmup={args.warmup:g} "
            f"cameras={args.cameras} ({os.cpu_count()} cores, Python {platform.python_version()}, "
            f"grpcio {grpc.__version__}, load average {load_average()})",
            flush=True,
        )
        print(HEADER, flush=True)
        # Scenario-major within a round, rounds outermost: with --rounds > 1 every scenario is
        # measured in slices spread over the whole run, so a change in the machine's background
        # load hits the baseline and the camera RPCs alike instead of skewing the ratio.
        slice_s = args.seconds / args.rounds
        acc: dict[str, tuple[LoadResult, list[Usage]]] = {}
        rows: list[Row] = []
        baseline: float | None = None
        writes: dict[str, int] = {}
        for round_no in range(args.rounds):
            last_round = round_no == args.rounds - 1
            for sc in plan:
                child = children[sc.target]
                child.check_alive()
                spec = LoadSpec(
                    sc.target,
                    sc.method,
                    sc.payloads,
                    sc.metadata,
                    args.concurrency,
                    args.warmup,
                    slice_s,
                )
                meters = [CpuMeter.of_pid(child.pid)]
                if db_meter is not None and child is not echo:
                    meters.append(db_meter)
                done = asyncio.Event()
                writer = (
                    asyncio.create_task(write_while(channel_for(sc.target), sc, done))
                    if sc.writes_per_s
                    else None
                )
                try:
                    result, usage = await run_load(spec, args.clients, meters)
                finally:
                    done.set()
                    if writer is not None:
                        writes[sc.key] = writes.get(sc.key, 0) + await writer
                if sc.key in acc:
                    total, total_usage = acc[sc.key]
                    total.merge(result)
                    result, usage = total, [a + b for a, b in zip(total_usage, usage, strict=True)]
                acc[sc.key] = (result, usage)
                if not last_round:
                    continue
                # A scenario's row is complete after its slice of the last round.
                row = Row(
                    sc.key,
                    sc.label,
                    result,
                    args.seconds,
                    usage[0],
                    usage[1] if usage[1:] else None,
                )
                rows.append(row)
                if sc.key == "echo":
                    baseline = row.rps or None
                print(format_row(row, baseline if sc.key != "echo" else None), flush=True)
            if not last_round:
                print(f"  (round {round_no + 1}/{args.rounds} done)", file=sys.stderr, flush=True)
        server.check_alive()
        for key, made in writes.items():
            print(f"  {key}: {made} UpdateCamera calls made beside the reads", flush=True)
        print(f"  load average after: {load_average()}", flush=True)
        if metrics_url:
            await check_counted(metrics_url, rows)
            bare_us, metered_us = await interceptor_cost_us()
            get = next((r for r in rows if r.key == "get"), None)
            share = ""
            if get is not None and get.cpu_per_call_us:
                extra = 100 * (metered_us - bare_us) / get.cpu_per_call_us
                share = f" = {extra:.2f}% of GetCamera's {get.cpu_per_call_us:.0f} µs"
            print(
                f"  metrics interceptor alone, in process: {metered_us:.2f} vs {bare_us:.2f} µs "
                f"per call, +{metered_us - bare_us:.2f} µs{share}"
            )
        return report(rows, baseline, args)
    finally:
        for channel in channels.values():
            await channel.close(None)
        for started in (server, echo, metered):
            if started is not None:
                started.stop()


def report(rows: list[Row], baseline: float | None, args: argparse.Namespace) -> int:
    """Print the ratios, the errors and the verdict; returns the exit status."""
    status = 0
    by_key = {r.key: r for r in rows}
    echo = by_key.get("echo")
    print()
    for key, name in (("get", "GetCamera"), ("list", "ListCameras")):
        row = by_key.get(key)
        if row is None or not baseline or echo is None:
            continue
        ratio = row.rps / baseline
        # The CPU ratio is what the server's code costs per call relative to echo; it moves far
        # less than rps when other processes compete for the two cores.
        cpu = (
            f"{echo.cpu_per_call_us / row.cpu_per_call_us:.2f}"
            if echo.cpu_per_call_us and row.cpu_per_call_us
            else "n/a"
        )
        target = ""
        if key == "get":
            target = f"  (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT MET'})"
        print(f"  {name + '/echo':<17} = {ratio:.2f} by rps, {cpu} by server CPU per call{target}")
    for key in SCENARIO_KEYS[1:]:
        off, on = by_key.get(key), by_key.get(key + METERED)
        if off is None or on is None or not off.cpu_per_call_us or not on.cpu_per_call_us:
            continue
        extra = 100.0 * (on.cpu_per_call_us / off.cpu_per_call_us - 1.0)
        verdict = ""
        if key == "get":
            verdict = f"  (target < 5%: {'met' if extra < 5.0 else 'NOT MET'})"
        print(
            f"  metrics on/off {off.label:<24} server CPU per call {on.cpu_per_call_us:.0f} vs "
            f"{off.cpu_per_call_us:.0f} µs: {extra:+.1f}%{verdict}"
        )
    get = by_key.get("get")
    if (
        args.fail_below is not None
        and baseline
        and get is not None
        and get.rps / baseline < args.fail_below
    ):
        print(f"  GetCamera/echo is below --fail-below {args.fail_below}", file=sys.stderr)
        status = 3
    failed = [r for r in rows if r.error_count]
    if failed:
        print("\n  !!! CALLS FAILED — these numbers are not valid !!!", file=sys.stderr)
        for r in failed:
            codes = r.result.errors + r.result.warmup_errors
            detail = ", ".join(f"{code} x{n}" for code, n in codes.most_common())
            print(f"  !!! {r.label}: {r.error_count} failed calls ({detail})", file=sys.stderr)
        status = 1
    if any(r.result.calls == 0 for r in rows):
        print("  !!! a scenario completed no call", file=sys.stderr)
        status = 1
    return status


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_camera_rpc", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="split --seconds into this many slices, alternating the scenarios (noisy machines)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight (all clients)")
    parser.add_argument(
        "--clients",
        type=int,
        default=1,
        help="client processes sharing --concurrency (1: the bench process itself)",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--page-size", type=int, default=20, help="ListCameras page_size")
    parser.add_argument("--cameras", type=int, default=100, help="cameras to create")
    parser.add_argument(
        "--write-rate",
        type=float,
        default=WRITE_RATE,
        help="UpdateCamera calls per second in the *-writes scenarios",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIO_KEYS),
        help=f"comma-separated subset of {', '.join(SCENARIO_KEYS)} (ratios need echo and get)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="also run each camera scenario on a second control plane with /metrics on and "
        "print its server CPU per call beside the first's",
    )
    parser.add_argument(
        "--fail-below",
        type=float,
        default=None,
        help="exit with status 3 when GetCamera/echo is below this ratio",
    )
    args = parser.parse_args(argv)
    # Bounded by construction: at most 10 minutes of load per scenario, sane fan-out.
    if not 0 < args.seconds <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--seconds must be in (0, 600] and --warmup in [0, 60]")
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be 1..100")
    if not 1 <= args.concurrency <= 4096 or not 1 <= args.clients <= 64:
        parser.error("--concurrency must be 1..4096 and --clients 1..64")
    if args.clients > args.concurrency:
        parser.error("--clients cannot exceed --concurrency")
    args.scenarios = [k.strip() for k in args.scenarios.split(",") if k.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIO_KEYS))
    if unknown or not args.scenarios:
        parser.error(f"--scenarios: unknown {unknown}; choose from {', '.join(SCENARIO_KEYS)}")
    if not 0 < args.write_rate <= 1000:
        parser.error("--write-rate must be in (0, 1000]")
    if not 1 <= args.page_size <= 1000 or not 1 <= args.cameras <= 10_000:
        parser.error("--page-size must be 1..1000 and --cameras 1..10000")
    return args


BenchFn = Callable[[argparse.Namespace, Path, str, str], Coroutine[Any, Any, int]]


def run_bench(name: str, run: BenchFn, args: argparse.Namespace) -> int:
    """Run `run(args, work dir, database URL, Redis prefix)` with a temporary work directory and,
    for `--backend postgres`, a throwaway database and key prefix; everything is removed after,
    also on failure or Ctrl-C (exit status 130)."""
    work = Path(tempfile.mkdtemp(prefix=f"camfleet-{name}-"))
    try:
        with contextlib.ExitStack() as stack:
            database_url = prefix = ""
            if args.backend == "postgres":
                database_url = stack.enter_context(throwaway_postgres("bench"))
                prefix = stack.enter_context(throwaway_redis_prefix("bench"))
            return asyncio.run(run(args, work, database_url, prefix))
    except (RuntimeError, OSError, grpc.aio.AioRpcError) as exc:
        print(f"{name}: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted; servers stopped, temporary data removed", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 0 ok, 1 failed calls or setup, 3 below --fail-below."""
    args = parse_args(argv)
    return run_bench("bench_camera_rpc", bench, args)


if __name__ == "__main__":
    raise SystemExit(main())
