"""Heartbeat ingest: simulated node agents against the control plane and a bare grpc.aio server.

    python -m bench.bench_heartbeats [--nodes 1000] [--cameras-per-node 10] [--seconds 60]
                                     [--backend sqlite|postgres] [--processes 2] [--ramp]
                                     [--replicas N]

The issue's target: 1,000 nodes x 10 cameras heartbeating at 1 Hz on one control-plane process,
with no node falsely marked LOST. One run starts the real control plane (`python -m server
--heartbeat-interval 1 --node-lost-after 3 --node-startup-grace 0`) and a bare grpc.aio bidi
server (bench/bidi_sink_server.py) as subprocesses on free loopback ports, creates the cameras,
one join token and the nodes, and then drives the same load against each: `--nodes` Connect
streams from `--processes` spawned load processes, each stream a Hello listing its node's
cameras as live, then one Heartbeat (host metrics and a StreamReport per camera) per second at a
random phase. It prints heartbeats sent per second, server CPU and RSS, the load generator's CPU,
the control plane's responsiveness (health-check round trips during the window), how many nodes
went LOST (NODE_STATE_CHANGED events watched during the run, and ListNodes at the end) and the
control-plane / bare CPU ratio. `--ramp` then raises the heartbeat rate step by step until the
control plane uses ~95 % of a core. `--replicas N` (N >= 2, PostgreSQL) runs the control plane
as N replicas behind Envoy instead (bench/heartbeat_replicas.py) and adds each replica's and
Envoy's CPU, and what the replicas reach together. Everything it starts is stopped by PID, and
every database, Redis key and temporary directory it creates is removed, also on failure or
Ctrl-C.
See bench/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
from camfleet.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
)
from google.protobuf import field_mask_pb2, timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.bench_camera_rpc import run_bench
from bench.heartbeat_replicas import (
    ControlPlanes,
    PartRow,
    PartUsage,
    part_rows,
    together,
    usage_of,
)
from harness.control_plane import server_env
from harness.cpu import CpuMeter, Usage, load_average, memory_mib
from harness.databases import postgres_backends, redis_server_pids
from harness.ports import LOOPBACK, free_port
from harness.processes import ROOT, Child, clean_env

CONNECT = "/camfleet.v1.AgentService/Connect"
SINK_STATS = "/bench.Sink/Stats"
CALL_TIMEOUT_S = 30.0
# How long a Hello may wait for its Welcome: on a loaded control plane a Hello writes the node
# and each of its cameras, so the first thousand queue up behind each other.
WELCOME_TIMEOUT_S = 120.0
PIPE_TIMEOUT_S = 60.0
PROBE_EVERY_S = 0.2
RAMP_RATES_HZ = (2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
RAMP_SETTLE_S = 3.0
CPU_LIMIT = 0.95
HEARTBEAT_FLAGS = (
    "--heartbeat-interval",
    "1",
    "--node-lost-after",
    "3",
    "--node-startup-grace",
    "0",
)
# Each agent's channel is its own TCP connection (as real agents on their own hosts), not the
# process-wide shared subchannel.
AGENT_CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)

# One agent as plain data for the pipe: (credential, serialized Hello body, serialized
# ConnectRequest holding only the Heartbeat).
AgentWire = tuple[str, bytes, bytes]


def _identity(data: bytes) -> bytes:
    return data


# ---------------------------------------------------------------------------------------------
# Simulated agents (each load process runs its share of them in one event loop)


@dataclass
class AgentCounters:
    """What the agents of one load process did so far (`max_*`: since the previous report)."""

    sent: int = 0
    send_errors: int = 0
    connected: int = 0
    welcomed: int = 0
    reconnects: int = 0
    assignments: int = 0
    # Heartbeats sent more than a second after they were due: the load generator fell behind.
    late_sends: int = 0
    connect_failures: Counter[str] = field(default_factory=Counter)
    ended: Counter[str] = field(default_factory=Counter)
    # How late the latest heartbeat send was, at worst (the client's own timeliness).
    max_late_s: float = 0.0
    # Welcome -> an Assignment that came later: how far the control plane's assignment
    # follower lags behind the camera changes of a Hello.
    max_assignment_delay_s: float = 0.0

    def to_wire(self) -> dict[str, object]:
        """Plain data for the pipe (classes of a spawned `__main__` do not unpickle there)."""
        return {
            f.name: dict(v) if isinstance(v := getattr(self, f.name), Counter) else v
            for f in fields(self)
        }

    @classmethod
    def from_wire(cls, data: dict[str, object]) -> AgentCounters:
        """Inverse of `to_wire`."""
        return cls(**{k: Counter(v) if isinstance(v, dict) else v for k, v in data.items()})  # type: ignore[arg-type]

    def __add__(self, other: AgentCounters) -> AgentCounters:
        merged: dict[str, object] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            merged[f.name] = max(mine, theirs) if f.name.startswith("max_") else mine + theirs
        return AgentCounters(**merged)  # type: ignore[arg-type]

    def reset_maxima(self) -> None:
        """Start the `max_*` figures afresh (after each report)."""
        self.max_late_s = self.max_assignment_delay_s = 0.0


def _stamped(event_id: str, body: bytes) -> bytes:
    """A ConnectRequest with a fresh id and time in front of a pre-serialized body.

    Serialized protobuf messages concatenate as a merge, so only the two small header fields
    are built per message; the heartbeat itself (10 stream reports) is serialized once.
    """
    now = time.time_ns()
    header = agent_pb2.ConnectRequest(
        event_id=event_id,
        time=timestamp_pb2.Timestamp(seconds=now // 1_000_000_000, nanos=now % 1_000_000_000),
    )
    return header.SerializeToString() + body


class AgentFleet:
    """The agents of one load process: one Connect stream each, reconnecting when it ends."""

    def __init__(
        self,
        target: str,
        agents: Sequence[AgentWire],
        streams_per_channel: int,
        connect_concurrency: int,
        rate_hz: float,
        on_assignment: Callable[[agent_pb2.Assignment], None] | None = None,
    ) -> None:
        self.counters = AgentCounters()
        self._on_assignment = on_assignment
        self.interval = 1.0 / rate_hz
        self._agents = agents
        self._channels = [
            grpc.aio.insecure_channel(target, options=AGENT_CHANNEL_OPTIONS)
            for _ in range(0, len(agents), streams_per_channel)
        ]
        self._per_channel = streams_per_channel
        self._connecting = asyncio.Semaphore(connect_concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self._tag = secrets.token_hex(3)
        self._closed = False

    def start(self) -> None:
        """Start every agent (connections are limited to `connect_concurrency` at a time)."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._agent(i)) for i in range(len(self._agents))]

    async def close(self) -> None:
        """Cancel every stream (the control plane sees the agents vanish) and the channels."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self._channels:
            await channel.close(None)

    async def _agent(self, index: int) -> None:
        credential, hello, heartbeat = self._agents[index]
        connect = self._channels[index // self._per_channel].stream_stream(
            CONNECT, request_serializer=_identity, response_deserializer=_identity
        )
        metadata = (("authorization", f"Bearer {credential}"),)
        prefix = f"{self._tag}-{index}-"
        seq = 0
        first = True
        while True:
            if not first:
                self.counters.reconnects += 1
            first = False
            async with self._connecting:
                # Without a request iterator: the agent writes with call.write().
                call = connect(metadata=metadata)  # type: ignore[call-arg]
                try:
                    seq += 1
                    await call.write(_stamped(f"{prefix}{seq}", hello))
                    welcome = await asyncio.wait_for(call.read(), WELCOME_TIMEOUT_S)
                except (grpc.aio.AioRpcError, TimeoutError, asyncio.InvalidStateError) as exc:
                    call.cancel()
                    reason = (
                        exc.code().name
                        if isinstance(exc, grpc.aio.AioRpcError)
                        else type(exc).__name__
                    )
                    self.counters.connect_failures[reason] += 1
                    await asyncio.sleep(1.0 + random.random())
                    continue
            if welcome is grpc.aio.EOF:  # type: ignore[attr-defined]
                self.counters.connect_failures[(await call.code()).name] += 1
                await asyncio.sleep(1.0 + random.random())
                continue
            self.counters.welcomed += 1
            self.counters.connected += 1
            try:
                seq = await self._heartbeats(call, heartbeat, prefix, seq)
            finally:
                self.counters.connected -= 1
            code, details = await call.code(), await call.details()
            self.counters.ended[f"{code.name} ({details[:60]})"] += 1
            # As the real agent: back off with jitter, then say Hello again.
            await asyncio.sleep(1.0 + random.random())

    async def _heartbeats(
        self, call: grpc.aio.StreamStreamCall[bytes, bytes], heartbeat: bytes, prefix: str, seq: int
    ) -> int:
        """Send heartbeats until the control plane ends the stream; returns the last seq."""
        writing = asyncio.Lock()
        loop = asyncio.get_running_loop()
        reader = asyncio.create_task(self._read(call, writing, loop.time()))
        # A random phase, so the fleet's heartbeats spread over the second instead of arriving
        # in one burst (agents start at random times in the field too).
        due = loop.time() + random.random() * self.interval
        try:
            while not reader.done():
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                late = loop.time() - due
                self.counters.max_late_s = max(self.counters.max_late_s, late)
                if late > 1.0:
                    self.counters.late_sends += 1
                seq += 1
                message = _stamped(f"{prefix}{seq}", heartbeat)
                try:
                    async with writing:
                        await call.write(message)
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    self.counters.send_errors += 1
                    break
                self.counters.sent += 1
                due += self.interval
                # Fell behind by more than one interval (a stalled loop): do not burst to
                # catch up, as an agent's timer would not either.
                now = loop.time()
                if due < now - self.interval:
                    due = now
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return seq

    async def _read(
        self, call: grpc.aio.StreamStreamCall[bytes, bytes], writing: asyncio.Lock, welcomed: float
    ) -> None:
        """Read what the control plane sends; acknowledge assignments as an agent does."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            while True:
                data = await call.read()
                if data is grpc.aio.EOF or not isinstance(data, bytes):  # type: ignore[attr-defined]
                    return
                response = agent_pb2.ConnectResponse.FromString(data)
                if response.WhichOneof("body") == "assignment":
                    self.counters.assignments += 1
                    self.counters.max_assignment_delay_s = max(
                        self.counters.max_assignment_delay_s, loop.time() - welcomed
                    )
                    if self._on_assignment is not None:
                        self._on_assignment(response.assignment)
                    ack = agent_pb2.ConnectRequest(
                        event_id=secrets.token_hex(8),
                        ack=agent_pb2.AssignmentAck(version=response.assignment.version),
                    )
                    async with writing:
                        await call.write(ack.SerializeToString())


def _load_process_main(
    target: str,
    agents: list[AgentWire],
    streams_per_channel: int,
    connect_concurrency: int,
    rate_hz: float,
    conn: Connection,
) -> None:
    """Entry point of one spawned load process: obey the parent's commands over `conn`.

    Commands: ("start",), ("stats",), ("rate", hz), ("close",); each is answered with the
    process's counters as plain data (or an error string).
    """

    async def run() -> None:
        fleet = AgentFleet(target, agents, streams_per_channel, connect_concurrency, rate_hz)
        loop = asyncio.get_running_loop()
        conn.send("ready")
        try:
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command[0] == "start":
                    fleet.start()
                elif command[0] == "rate":
                    fleet.interval = 1.0 / float(command[1])
                elif command[0] == "close":
                    await fleet.close()
                    conn.send(fleet.counters.to_wire())
                    return
                conn.send(fleet.counters.to_wire())
                fleet.counters.reset_maxima()
        finally:
            await fleet.close()

    try:
        asyncio.run(run())
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass  # the parent went away or Ctrl-C: nothing to report to
    except Exception as exc:  # report any other failure to the parent instead of hanging it
        with contextlib.suppress(OSError):
            conn.send(f"load process failed: {type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _split(items: Sequence[AgentWire], parts: int) -> list[list[AgentWire]]:
    return [list(items[i::parts]) for i in range(parts)]


class LoadProcesses:
    """The spawned load processes driving one target, commanded over pipes."""

    def __init__(
        self,
        target: str,
        agents: Sequence[AgentWire],
        processes: int,
        streams_per_channel: int,
        connect_concurrency: int,
        rate_hz: float,
    ) -> None:
        # Spawn, never fork: a forked child of a process with live gRPC objects can hang.
        self.worst_late_s = 0.0
        self.worst_assignment_delay_s = 0.0
        ctx = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[multiprocessing.process.BaseProcess] = []
        for share in _split(agents, processes):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=_load_process_main,
                args=(target, share, streams_per_channel, connect_concurrency, rate_hz, child_end),
                daemon=True,
            )
            proc.start()
            child_end.close()
            self._pipes.append(parent_end)
            self._procs.append(proc)

    @property
    def pids(self) -> list[int]:
        """Process ids of the load processes."""
        return [p.pid for p in self._procs if p.pid is not None]

    async def _receive(self, pipe: Connection) -> object:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, pipe.poll, PIPE_TIMEOUT_S):
            raise RuntimeError("a load process did not answer in time")
        try:
            return pipe.recv()
        except EOFError:
            raise RuntimeError(
                "a load process exited without reporting (see its traceback above)"
            ) from None

    async def wait_ready(self) -> None:
        """Wait until every process has imported everything and built its channels."""
        for pipe in self._pipes:
            message = await self._receive(pipe)
            if message != "ready":
                raise RuntimeError(str(message))

    async def command(self, *command: object) -> AgentCounters:
        """Send `command` to every process; returns their summed counters."""
        for pipe in self._pipes:
            pipe.send(command)
        total = AgentCounters()
        for pipe in self._pipes:
            reply = await self._receive(pipe)
            if not isinstance(reply, dict):
                raise RuntimeError(str(reply))
            total = total + AgentCounters.from_wire(reply)
        # The processes report maxima since their previous report; keep the run's worst here.
        self.worst_late_s = max(self.worst_late_s, total.max_late_s)
        self.worst_assignment_delay_s = max(
            self.worst_assignment_delay_s, total.max_assignment_delay_s
        )
        return total

    async def close(self) -> AgentCounters | None:
        """Close every stream and end the processes (killed by PID if they do not exit)."""
        counters: AgentCounters | None = None
        with contextlib.suppress(RuntimeError, OSError):
            counters = await self.command("close")
        for pipe in self._pipes:
            pipe.close()
        for proc in self._procs:
            await asyncio.get_running_loop().run_in_executor(None, proc.join, 10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        return counters


# ---------------------------------------------------------------------------------------------
# Fixture: cameras, a join token, nodes


@dataclass(frozen=True)
class Fleet:
    """What the control plane knows after setup."""

    admin: tuple[tuple[str, str], ...]
    agents: list[AgentWire]
    camera_count: int
    cameras_s: float
    register_s: float
    # One more node with one camera, run by the bench process itself: renaming its camera
    # and timing the Assignment that follows measures how far the control plane lags behind.
    probe: AgentWire
    probe_camera: str


def _report(camera_id: str, i: int) -> agent_pb2.StreamReport:
    # Values differ between nodes but stay put over time: a live stream's metrics rarely move
    # by a fifth, so after the first heartbeat no STREAM_UPDATED events are due (as in the
    # field).
    return agent_pb2.StreamReport(
        camera_id=camera_id,
        bitrate_bps=2_000_000 + 1000 * (i % 500),
        fps=25.0,
        width=1280,
        height=720,
        video_codec="H264",
        audio_codec="AAC",
        clients=i % 4,
        publish_start_time=timestamp_pb2.Timestamp(seconds=int(time.time()) - 3600),
        media_flowing=True,
    )


def agent_wire(credential: str, camera_ids: Sequence[str], i: int) -> AgentWire:
    """One simulated agent: its credential, Hello body and Heartbeat body (serialized once)."""
    reports = [_report(c, i) for c in camera_ids]
    hello = agent_pb2.ConnectRequest(
        hello=agent_pb2.Hello(
            version="bench-agent",
            capacity=len(camera_ids) + 6,
            rtmp_url="rtmp://127.0.0.1:19350/live",
            http_url="http://127.0.0.1:18080",
            streams=reports,
        )
    )
    heartbeat = agent_pb2.ConnectRequest(
        heartbeat=agent_pb2.Heartbeat(
            host=node_pb2.HostMetrics(
                cpu_percent=10.0 + i % 50,
                memory_used_bytes=(2 + i % 4) << 30,
                memory_total_bytes=16 << 30,
                disk_used_bytes=(100 + i % 300) << 30,
                disk_total_bytes=1 << 40,
                load_average_1m=0.5 + (i % 10) / 10,
            ),
            streams=reports,
        )
    )
    return credential, hello.SerializeToString(), heartbeat.SerializeToString()


async def _bounded(coros: Sequence[Callable[[], object]], limit: int, what: str) -> list[object]:
    """Run the calls `limit` at a time, printing progress to stderr."""
    sem = asyncio.Semaphore(limit)
    done = 0
    step = max(1, len(coros) // 10)

    async def one(make: Callable[[], object]) -> object:
        nonlocal done
        async with sem:
            result = await make()  # type: ignore[misc]
        done += 1
        if done % step == 0:
            print(f"  {what}: {done}/{len(coros)}", file=sys.stderr, flush=True)
        return result

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def make_fleet(
    channel: grpc.aio.Channel, admin_password: str, nodes: int, per_node: int
) -> Fleet:
    """Log in as admin, create nodes x per_node cameras, one join token and the nodes."""
    auth = auth_pb2_grpc.AuthServiceStub(channel)
    login = await auth.Login(auth_pb2.LoginRequest(username="admin", password=admin_password))
    admin = (("authorization", f"Bearer {login.tokens.access_token}"),)
    cameras = camera_pb2_grpc.CameraServiceStub(channel)
    started = time.monotonic()

    def create(i: int) -> Callable[[], object]:
        async def call() -> str:
            camera = camera_pb2.Camera(
                name=f"bench-n{i // per_node:04d}-c{i % per_node:02d}",
                location=f"site {i // per_node}",
                labels={"bench": "heartbeats"},
            )
            resp = await cameras.CreateCamera(
                camera_pb2.CreateCameraRequest(camera=camera),
                metadata=admin,
                timeout=CALL_TIMEOUT_S,
            )
            return str(resp.camera.id)

        return call

    ids = [
        str(i)
        for i in await _bounded(
            [create(i) for i in range(nodes * per_node + 1)], 16, "cameras created"
        )
    ]
    probe_camera = ids.pop()
    cameras_s = time.monotonic() - started
    started = time.monotonic()
    token = await node_pb2_grpc.NodeServiceStub(channel).CreateJoinToken(
        node_pb2.CreateJoinTokenRequest(
            join_token=node_pb2.JoinToken(description="bench_heartbeats", max_uses=nodes + 1)
        ),
        metadata=admin,
    )
    agents_stub = agent_pb2_grpc.AgentServiceStub(channel)

    def register(i: int) -> Callable[[], object]:
        async def call() -> str:
            name = f"bench-node-{i:04d}" if i < nodes else "bench-probe"
            resp = await agents_stub.RegisterNode(
                agent_pb2.RegisterNodeRequest(join_token=token.secret, name=name),
                timeout=CALL_TIMEOUT_S,
            )
            return str(resp.credential)

        return call

    credentials = [
        str(c)
        for c in await _bounded([register(i) for i in range(nodes + 1)], 16, "nodes registered")
    ]
    probe = agent_wire(credentials.pop(), [probe_camera], nodes)
    agents = [
        agent_wire(cred, ids[i * per_node : (i + 1) * per_node], i)
        for i, cred in enumerate(credentials)
    ]
    return Fleet(
        admin, agents, len(ids), cameras_s, time.monotonic() - started, probe, probe_camera
    )


class AssignmentProbe:
    """The probe node's agent (in this process) and the lag of a camera change to its node.

    Each measurement renames the probe's camera and waits for the Assignment carrying the new
    name: the control plane's assignment follower handles camera events in order, so the time
    is how far it is behind (a backlog from a connect storm shows here first).
    """

    def __init__(self, target: str, fleet: Fleet, channel: grpc.aio.Channel) -> None:
        self.agent = AgentFleet(target, [fleet.probe], 1, 1, 1.0, self._assigned)
        self._cameras = camera_pb2_grpc.CameraServiceStub(channel)
        self._admin = fleet.admin
        self._camera = fleet.probe_camera
        self._waiting: dict[str, asyncio.Future[float]] = {}

    def _assigned(self, assignment: agent_pb2.Assignment) -> None:
        for camera in assignment.cameras:
            future = self._waiting.pop(camera.name, None)
            if future is not None and not future.done():
                future.set_result(time.monotonic())

    async def lag(self, within_s: float) -> float | None:
        """Seconds from a rename of the probe's camera to its Assignment; None on timeout."""
        name = f"bench-probe-{secrets.token_hex(4)}"
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[name] = arrived
        began = time.monotonic()
        await self._cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=self._camera, name=name),
                update_mask=field_mask_pb2.FieldMask(paths=["name"]),
            ),
            metadata=self._admin,
            timeout=CALL_TIMEOUT_S,
        )
        try:
            async with asyncio.timeout(within_s):
                return await arrived - began
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(name, None)

    async def settle(self, within_s: float) -> tuple[float, list[float | None]]:
        """Probe until two lags in a row are under a second (the follower caught up), at most
        `within_s`; returns the seconds taken and the lags seen."""
        started = time.monotonic()
        lags: list[float | None] = []
        while True:
            left = within_s - (time.monotonic() - started)
            if left <= 0:
                break
            lags.append(await self.lag(left))
            if len(lags) >= 2 and all(x is not None and x < 1.0 for x in lags[-2:]):
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - started, lags

    async def sample(self, until: float, into: list[float | None]) -> None:
        """A lag every 5 s until `until`."""
        while time.monotonic() < until - 1:
            began = time.monotonic()
            into.append(await self.lag(max(1.0, until - began)))
            await asyncio.sleep(max(0.0, 5.0 - (time.monotonic() - began)))


# ---------------------------------------------------------------------------------------------
# Observing the control plane


@dataclass
class NodeStateLog:
    """NODE_STATE_CHANGED events seen by one watcher: (monotonic time, node id, state, why)."""

    events: list[tuple[float, str, int, str]] = field(default_factory=list)
    error: str = ""

    def lost(self, since: float = 0.0, until: float = float("inf")) -> list[tuple[str, str]]:
        """(node id, reason) of LOST events inside [since, until)."""
        return [
            (n, why)
            for t, n, s, why in self.events
            if s == node_pb2.NODE_STATE_LOST and since <= t < until
        ]


async def watch_node_states(
    channel: grpc.aio.Channel,
    admin: tuple[tuple[str, str], ...],
    after_revision: int,
    into: NodeStateLog,
) -> None:
    """Record every NODE_STATE_CHANGED event from `after_revision` on, until cancelled.

    A watch that falls behind the server's retained events (REVISION_COMPACTED) or fails
    resumes from the newest revision after noting it in `into.error`: the events in between are
    not seen, so the LOST count is then a lower bound (ListNodes at the end is the other check).
    """
    stub = event_pb2_grpc.EventServiceStub(channel)
    cursor = after_revision
    while True:
        call = stub.WatchEvents(
            event_pb2.WatchEventsRequest(after_revision=cursor, filter="type = NODE_STATE_CHANGED"),
            metadata=admin,
        )
        try:
            async for resp in call:
                event = resp.event
                cursor = max(cursor, event.revision)
                if event.type == event_pb2.EVENT_TYPE_NODE_STATE_CHANGED:
                    into.events.append(
                        (time.monotonic(), event.node.id, event.node.state, event.node.state_reason)
                    )
            return
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            into.error += f"{exc.code().name}: {(exc.details() or '')[:120]}; "
            cursor = 0  # from now on
            await asyncio.sleep(1.0)
        finally:
            call.cancel()


async def probe(
    channel: grpc.aio.Channel, until: float, into: array[float], failures: Counter[str]
) -> None:
    """Health-check round trips (ms) every PROBE_EVERY_S until `until`: the event loop's lag."""
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="")
    while time.monotonic() < until:
        began = time.monotonic()
        try:
            await stub.Check(request, timeout=10.0)
            into.append((time.monotonic() - began) * 1000.0)
        except grpc.aio.AioRpcError as exc:
            failures[exc.code().name] += 1
        await asyncio.sleep(max(0.0, PROBE_EVERY_S - (time.monotonic() - began)))


async def count_total(
    call: Callable[..., object], request: object, admin: tuple[tuple[str, str], ...]
) -> int:
    """total_size of a List call."""
    resp = await call(request, metadata=admin, timeout=CALL_TIMEOUT_S)  # type: ignore[misc]
    return int(resp.total_size)


@dataclass
class Window:
    """What one measured window saw."""

    label: str
    seconds: float
    target_rate: float  # heartbeats per second the fleet should send
    before: AgentCounters
    after: AgentCounters
    server: Usage
    load: Usage
    db: Usage | None = None
    redis: Usage | None = None
    received: int | None = None  # messages the bare server got (None: not countable)
    rss_mib: tuple[float, float] = (0.0, 0.0)
    probe_ms: array[float] = field(default_factory=lambda: array("d"))
    probe_failures: Counter[str] = field(default_factory=Counter)
    # Each replica and Envoy on their own, when there are several replicas.
    parts: dict[str, PartUsage] = field(default_factory=dict)

    @property
    def sent_per_s(self) -> float:
        """Heartbeats sent per second inside the window."""
        return (self.after.sent - self.before.sent) / self.seconds

    def cpu(self, usage: Usage | None) -> float | None:
        """A meter's CPU as a share of one core."""
        if usage is None or usage.cpu_s is None:
            return None
        return usage.cpu_s / self.seconds

    @property
    def us_per_heartbeat(self) -> float | None:
        """Server CPU microseconds per heartbeat sent."""
        sent = self.after.sent - self.before.sent
        if self.server.cpu_s is None or not sent:
            return None
        return 1e6 * self.server.cpu_s / sent


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def measure(
    label: str,
    seconds: float,
    target_rate: float,
    load: LoadProcesses,
    server_pids: Sequence[int],
    db: CpuMeter | None = None,
    redis: CpuMeter | None = None,
    probe_channel: grpc.aio.Channel | None = None,
    sink_channel: grpc.aio.Channel | None = None,
    parts: Mapping[str, int] | None = None,
) -> Window:
    """Counters, CPU and memory over `seconds` of steady load; the server's CPU and memory are
    those of `server_pids` summed, and each of `parts` (name: PID) is measured on its own too,
    from the same samples."""
    loop = asyncio.get_running_loop()
    part_pids = dict(parts or {})
    server_meter = CpuMeter(lambda: ([*server_pids, *part_pids.values()], None))
    pids = load.pids
    load_meter = CpuMeter(lambda: (pids, None))
    meters = [m for m in (server_meter, load_meter, db, redis) if m is not None]
    stats = (
        sink_channel.unary_unary(
            SINK_STATS, request_serializer=_identity, response_deserializer=_identity
        )
        if sink_channel is not None
        else None
    )
    received_before = int(await stats(b"", timeout=CALL_TIMEOUT_S)) if stats is not None else 0
    before_counters = await load.command("stats")
    # In a thread: the PostgreSQL meter queries the database for its backends.
    before = [await loop.run_in_executor(None, m.sample) for m in meters]
    started = time.monotonic()
    latencies: array[float] = array("d")
    failures: Counter[str] = Counter()
    prober = (
        asyncio.create_task(probe(probe_channel, started + seconds, latencies, failures))
        if probe_channel is not None
        else None
    )
    await asyncio.sleep(seconds)
    after = [await loop.run_in_executor(None, m.sample) for m in meters]
    elapsed = time.monotonic() - started
    after_counters = await load.command("stats")
    received_after = int(await stats(b"", timeout=CALL_TIMEOUT_S)) if stats is not None else 0
    if prober is not None:
        await prober
    usage = {id(m): CpuMeter.usage(b, a) for m, b, a in zip(meters, before, after, strict=True)}
    # The server meter's samples (always the first) hold every replica's and Envoy's CPU.
    servers = before[0], after[0]
    return Window(
        label=label,
        seconds=elapsed,
        target_rate=target_rate,
        before=before_counters,
        after=after_counters,
        server=usage_of(*servers, server_pids),
        load=usage[id(load_meter)],
        db=usage.get(id(db)) if db is not None else None,
        redis=usage.get(id(redis)) if redis is not None else None,
        received=(received_after - received_before) if stats is not None else None,
        rss_mib=_summed(memory_mib(pid) for pid in server_pids),
        probe_ms=latencies,
        probe_failures=failures,
        parts={
            name: PartUsage(usage_of(*servers, [pid]), memory_mib(pid)[0])
            for name, pid in part_pids.items()
        },
    )


def _summed(pairs: Iterable[tuple[float, float]]) -> tuple[float, float]:
    now, peak = zip(*pairs, strict=True)
    return sum(now), sum(peak)


# ---------------------------------------------------------------------------------------------
# Report


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (WARNING|ERROR) (\S+): (.*)$")
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exceeded|Cancelled)): ")
_VARIABLE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|bench-node-\d+|\(ref \w+\)"
    r"|\b\d+(\.\d+)?\b"
)


def log_digest(path: Path, top: int = 8) -> list[str]:
    """The server log's warnings, errors and exception types, counted (ids and numbers masked),
    most frequent first: what went wrong, in a few lines."""
    kinds: Counter[str] = Counter()
    exceptions: Counter[str] = Counter()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        if match := _LOG_LINE.match(line):
            level, logger, message = match.groups()
            kinds[f"{level} {logger}: {_VARIABLE.sub('#', message)[:90]}"] += 1
        elif match := _EXCEPTION_LINE.match(line):
            exceptions[match.group(1)] += 1
    lines = [f"    {n:>6} x {kind}" for kind, n in kinds.most_common(top)]
    lines += [f"    {n:>6} x exception {name}" for name, n in exceptions.most_common(top)]
    return lines


def server_source() -> str:
    """The checkout's commit and whether server/ has uncommitted changes: the code a run
    measured (read when the control plane starts; others may be editing it)."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        sha = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [git, "status", "--porcelain", "--", "server"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + (" + uncommitted server/ changes" if dirty else "")


def _seconds(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.2f} s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


COLUMNS = (
    "hb/s sent",
    "hb/s recv",
    "srv CPU",
    "µs/hb",
    "RSS MiB",
    "load CPU",
    "late ms",
    "db CPU",
    "redis CPU",
    "probe p50",
    "p99",
    "max ms",
)
WIDTHS = (10, 10, 9, 7, 9, 9, 8, 8, 10, 10, 7, 8)
HEADER = f"  {'target':<26}" + "".join(f"{c:>{w}}" for c, w in zip(COLUMNS, WIDTHS, strict=True))


def format_row(label: str, cells: Sequence[str]) -> str:
    """One table line: the label, then `cells` under COLUMNS."""
    return f"  {label:<26}" + "".join(f"{c:>{w}}" for c, w in zip(cells, WIDTHS, strict=True))


def format_part(row: PartRow) -> str:
    """A replica's or Envoy's line: heartbeats, CPU, CPU per heartbeat and memory."""
    rest = ("-",) * (len(COLUMNS) - 5)
    return format_row(
        row.label,
        (
            "-" if row.hb_per_s is None else f"{'~' * row.estimated}{row.hb_per_s:.0f}",
            "-",
            _pct(row.cpu),
            "-" if row.us_per_hb is None else f"{'~' * row.estimated}{row.us_per_hb:.0f}",
            "-" if row.rss_mib is None else f"{row.rss_mib:.0f}",
            *rest,
        ),
    )


def format_window(w: Window) -> str:
    """One table line."""
    per_hb = w.us_per_heartbeat
    probes = list(w.probe_ms)
    cells = (
        f"{w.sent_per_s:.0f}",
        "-" if w.received is None else f"{w.received / w.seconds:.0f}",
        _pct(w.cpu(w.server)),
        "-" if per_hb is None else f"{per_hb:.0f}",
        f"{w.rss_mib[0]:.0f}",
        _pct(w.cpu(w.load)),
        f"{1000 * w.after.max_late_s:.0f}",
        _pct(w.cpu(w.db)),
        _pct(w.cpu(w.redis)),
        "-" if not probes else f"{_percentile(probes, 0.5):.1f}",
        "-" if not probes else f"{_percentile(probes, 0.99):.1f}",
        "-" if not probes else f"{max(probes):.0f}",
    )
    return format_row(w.label, cells)


def describe_counters(c: AgentCounters) -> str:
    """Connection troubles of the load processes, if any."""
    parts = []
    if c.send_errors:
        parts.append(f"{c.send_errors} failed sends")
    if c.reconnects:
        parts.append(f"{c.reconnects} reconnects")
    if c.late_sends:
        parts.append(f"{c.late_sends} heartbeats sent more than 1 s late")
    if c.connect_failures:
        parts.append(
            "connect failures "
            + ", ".join(f"{k} x{v}" for k, v in c.connect_failures.most_common())
        )
    if c.ended:
        parts.append(
            "streams ended by the server "
            + ", ".join(f"{k} x{v}" for k, v in c.ended.most_common())
        )
    return "; ".join(parts) or "none"


# ---------------------------------------------------------------------------------------------
# Main


@dataclass
class Outcome:
    """What the run found, for the verdict and the exit status."""

    false_lost: int = 0
    problems: list[str] = field(default_factory=list)


async def wait_connected(load: LoadProcesses, want: int, within_s: float, what: str) -> float:
    """Poll the load processes until `want` streams were welcomed; returns the seconds taken."""
    started = time.monotonic()
    last_print = started
    while True:
        counters = await load.command("stats")
        if counters.connected >= want:
            return time.monotonic() - started
        now = time.monotonic()
        if now - started > within_s:
            raise RuntimeError(
                f"{what}: only {counters.connected}/{want} streams welcomed after "
                f"{within_s:.0f} s ({describe_counters(counters)})"
            )
        if now - last_print >= 5:
            last_print = now
            print(
                f"  {what}: {counters.connected}/{want} streams welcomed",
                file=sys.stderr,
                flush=True,
            )
        await asyncio.sleep(0.5)


async def wait_fleet_ready(
    args: argparse.Namespace,
    load: LoadProcesses,
    server: ControlPlanes,
    channel: grpc.aio.Channel,
    fleet: Fleet,
    started: float,
) -> None:
    """Wait until every node is READY and every camera ONLINE, or until the counts stop moving
    for `--settle` seconds with every stream up (nodes LOST while their stream stays open never
    come back by themselves: that is a finding, not a reason to wait forever)."""
    cameras = camera_pb2_grpc.CameraServiceStub(channel)
    nodes = node_pb2_grpc.NodeServiceStub(channel)
    # The probe node and its camera count too.
    n, want_online = len(fleet.agents) + 1, fleet.camera_count + 1
    last: tuple[int, int, int] | None = None
    changed = last_print = time.monotonic()
    while True:
        server.check_alive()
        ready = await count_total(
            nodes.ListNodes,
            node_pb2.ListNodesRequest(page_size=1, filter="state = READY"),
            fleet.admin,
        )
        lost = await count_total(
            nodes.ListNodes,
            node_pb2.ListNodesRequest(page_size=1, filter="state = LOST"),
            fleet.admin,
        )
        online = await count_total(
            cameras.ListCameras,
            camera_pb2.ListCamerasRequest(page_size=1, filter="status = ONLINE"),
            fleet.admin,
        )
        if ready == n and online == want_online:
            return
        now = time.monotonic()
        counters = await load.command("stats")
        if (ready, online, lost) != last:
            last, changed = (ready, online, lost), now
        elif now - changed >= args.settle and counters.connected == n - 1:
            print(
                f"  !!! the control plane settled with {ready}/{n} nodes READY, {lost} LOST and "
                f"{online}/{want_online} cameras ONLINE although all {n} agents are "
                "connected and heartbeating; measuring anyway",
                flush=True,
            )
            return
        if now - started > args.connect_timeout:
            raise RuntimeError(
                f"after {args.connect_timeout:.0f} s only {ready}/{n} nodes "
                f"READY ({lost} LOST) and {online}/{want_online} cameras "
                f"ONLINE ({describe_counters(counters)})"
            )
        if now - last_print >= 5:
            last_print = now
            print(
                f"  control plane: {ready}/{n} nodes READY, {lost} LOST, "
                f"{online}/{want_online} cameras ONLINE, {counters.connected} streams up",
                file=sys.stderr,
                flush=True,
            )
        await asyncio.sleep(1.0)


async def baseline_phase(
    args: argparse.Namespace, target: str, fleet: Fleet, sink: Child, sink_channel: grpc.aio.Channel
) -> Window:
    """The same load against the bare bidi server."""
    load = LoadProcesses(
        target,
        fleet.agents,
        args.processes,
        args.streams_per_channel,
        args.connect_concurrency,
        1.0,
    )
    try:
        await load.wait_ready()
        await load.command("start")
        await wait_connected(load, len(fleet.agents), args.connect_timeout, "bare server")
        await asyncio.sleep(args.warmup)
        sink.check_alive()
        window = await measure(
            "bare grpc.aio bidi",
            args.seconds,
            len(fleet.agents),
            load,
            [sink.pid],
            sink_channel=sink_channel,
        )
        sink.check_alive()
        return window
    finally:
        await load.close()


async def control_plane_phase(
    args: argparse.Namespace,
    target: str,
    fleet: Fleet,
    server: ControlPlanes,
    channel: grpc.aio.Channel,
    database_url: str,
    outcome: Outcome,
) -> list[Window]:
    """Connect the fleet, measure at 1 Hz, optionally ramp; watches LOST all along."""
    cameras = camera_pb2_grpc.CameraServiceStub(channel)
    nodes = node_pb2_grpc.NodeServiceStub(channel)
    n = len(fleet.agents)
    revision = (
        await cameras.ListCameras(camera_pb2.ListCamerasRequest(page_size=1), metadata=fleet.admin)
    ).revision
    states = NodeStateLog()
    watcher = asyncio.create_task(watch_node_states(channel, fleet.admin, revision, states))
    db = CpuMeter(postgres_backends(database_url)) if database_url else None
    redis = CpuMeter(redis_server_pids) if database_url else None
    load = LoadProcesses(
        target,
        fleet.agents,
        args.processes,
        args.streams_per_channel,
        args.connect_concurrency,
        1.0,
    )
    windows: list[Window] = []
    probe = AssignmentProbe(target, fleet, channel)
    try:
        probe.agent.start()
        await load.wait_ready()
        started = time.monotonic()
        await load.command("start")
        welcomed_s = await wait_connected(load, n, args.connect_timeout, "control plane")
        await wait_fleet_ready(args, load, server, channel, fleet, started)
        all_ready_s = time.monotonic() - started
        connected = await load.command("stats")
        print(
            f"  connect: {n} streams welcomed in {welcomed_s:.1f} s; nodes READY and cameras "
            f"ONLINE after {all_ready_s:.1f} s; "
            f"LOST while connecting: {len(states.lost())}; "
            f"stream trouble: {describe_counters(connected)}",
            flush=True,
        )
        await asyncio.sleep(args.warmup)
        # The window starts once the control plane has worked off what the connect queued:
        # a camera change must reach its node within a second again.
        settled_s, lags = await probe.settle(args.settle_timeout)
        print(
            f"  camera change -> its node's Assignment after the connect and {args.warmup:g} s "
            f"of warm-up: {', '.join(_seconds(x) for x in lags[:8])}"
            + (" ..." if len(lags) > 8 else "")
            + f"; window starts {settled_s:.0f} s later",
            flush=True,
        )
        window_start = time.monotonic()
        server.check_alive()
        window_lags: list[float | None] = []
        sampler = asyncio.create_task(probe.sample(window_start + args.seconds, window_lags))
        main = await measure(
            server.label,
            args.seconds,
            n,
            load,
            server.pids,
            db,
            redis,
            probe_channel=channel,
            parts=server.parts,
        )
        await sampler
        windows.append(main)
        print(format_window(main), flush=True)
        if main.parts:
            streams = await server.streams()
            for row in part_rows(main.seconds, main.sent_per_s, main.parts, streams):
                print(format_part(row), flush=True)
        main_end = time.monotonic()
        if args.ramp:
            windows.extend(await ramp(args, load, server, channel, db, redis, n, states))
        # Let the sweeper act on anything the last window did (lost_after is 3 s).
        await asyncio.sleep(4.0)
        server.check_alive()
        lost_now = await count_total(
            nodes.ListNodes,
            node_pb2.ListNodesRequest(page_size=1, filter="state = LOST"),
            fleet.admin,
        )
        ready_now = await count_total(
            nodes.ListNodes,
            node_pb2.ListNodesRequest(page_size=1, filter="state = READY"),
            fleet.admin,
        )
        final = await load.command("stats")
        connect_lost = states.lost(0.0, window_start)
        window_lost = states.lost(window_start, main_end)
        ramp_lost = states.lost(main_end)
        outcome.false_lost = len(connect_lost) + len(window_lost)
        print()
        print(
            f"  nodes at the end: {ready_now} READY, {lost_now} LOST (ListNodes; "
            f"{n} + the probe node)"
        )
        timed = sorted(x for x in window_lags if x is not None)
        if window_lags:
            print(
                f"  camera change -> its node's Assignment in the 1 Hz window: "
                f"p50 {_seconds(_percentile(timed, 0.5) if timed else None)}, "
                f"max {_seconds(timed[-1] if timed else None)} "
                f"({len(window_lags)} probes, {len(window_lags) - len(timed)} timed out)"
            )
        print(
            f"  LOST events: {len(connect_lost)} while connecting/warming up, "
            f"{len(window_lost)} in the 1 Hz window"
            + (f", {len(ramp_lost)} during the ramp" if args.ramp else "")
        )
        for node_id, why in (connect_lost + window_lost + ramp_lost)[:10]:
            print(f"    nodes/{node_id}: {why}")
        if states.error:
            print(
                "  !!! the NODE_STATE_CHANGED watch broke and resumed from then on (LOST events "
                f"above are a lower bound): {states.error}"
            )
        print(f"  stream trouble over the whole run: {describe_counters(final)}")
        print(
            f"  load generator timeliness: worst heartbeat send {1000 * load.worst_late_s:.0f} ms "
            f"after it was due; assignments received {final.assignments}, the latest "
            f"{load.worst_assignment_delay_s:.1f} s after its stream's Welcome"
        )
        if lost_now and not args.ramp:
            outcome.false_lost = max(outcome.false_lost, lost_now)
        return windows
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await probe.agent.close()
        await load.close()


async def ramp(
    args: argparse.Namespace,
    load: LoadProcesses,
    server: ControlPlanes,
    channel: grpc.aio.Channel,
    db: CpuMeter | None,
    redis: CpuMeter | None,
    n: int,
    states: NodeStateLog,
) -> list[Window]:
    """Raise the heartbeat rate until the control plane uses CPU_LIMIT of a core."""
    windows: list[Window] = []
    print()
    print(
        f"  ramp: {args.ramp_step:g} s per step after {RAMP_SETTLE_S:g} s to settle; stops "
        f"at {100 * CPU_LIMIT:.0f}% server CPU, a LOST node, or a load generator that falls "
        "behind",
        flush=True,
    )
    for hz in (r for r in RAMP_RATES_HZ if r <= args.ramp_max_hz):
        await load.command("rate", hz)
        settle_from = time.monotonic()
        await asyncio.sleep(RAMP_SETTLE_S)
        server.check_alive()
        w = await measure(
            f"control plane @ {hz:g} Hz",
            args.ramp_step,
            n * hz,
            load,
            server.pids,
            db,
            redis,
            probe_channel=channel,
        )
        windows.append(w)
        print(format_window(w), flush=True)
        cpu = w.cpu(w.server) or 0.0
        if states.lost(settle_from):
            print(f"  ramp stops: {len(states.lost(settle_from))} nodes went LOST at {hz:g} Hz")
            break
        if cpu >= CPU_LIMIT:
            print(
                f"  ramp stops: the control plane used {100 * cpu:.0f}% of a core at "
                f"{w.sent_per_s:.0f} heartbeats/s"
            )
            break
        if w.sent_per_s < 0.9 * n * hz:
            print(
                f"  ramp stops: the load generator sent {w.sent_per_s:.0f}/s of the "
                f"{n * hz:.0f}/s asked (load CPU {_pct(w.cpu(w.load))}): the machine, not the "
                "control plane, is the limit here"
            )
            break
    await load.command("rate", 1.0)
    return windows


async def bench(args: argparse.Namespace, work: Path, database_url: str, prefix: str) -> int:
    """Start both servers, build the fleet, run both phases and print the report."""
    admin_password = secrets.token_urlsafe(18)
    sink_port = free_port()

    def env(port: int, data: Path) -> dict[str, str]:
        values = server_env(data, port, admin_password, database_url, prefix)
        values["CAMFLEET_LOG_LEVEL"] = args.server_log_level
        return values

    source = server_source()
    server = ControlPlanes(work, args.replicas, env, HEARTBEAT_FLAGS)
    sink: Child | None = None
    channels: list[grpc.aio.Channel] = []
    outcome = Outcome()
    try:
        sink = Child(
            "bare bidi server",
            [
                sys.executable,
                "-m",
                "bench.bidi_sink_server",
                "--listen",
                f"{LOOPBACK}:{sink_port}",
            ],
            clean_env(),
            work / "sink.log",
        )
        await server.start()
        server_target, sink_target = server.target, f"{LOOPBACK}:{sink_port}"
        channel = grpc.aio.insecure_channel(server_target)
        sink_channel = grpc.aio.insecure_channel(sink_target)
        channels += [channel, sink_channel]
        await wait_sink(sink_channel, sink)
        setup_started = time.monotonic()
        fleet = await make_fleet(channel, admin_password, args.nodes, args.cameras_per_node)
        print(
            f"bench_heartbeats: backend={args.backend} nodes={args.nodes} "
            f"cameras/node={args.cameras_per_node} rate=1 Hz seconds={args.seconds:g} "
            f"warmup={args.warmup:g} processes={args.processes} "
            f"streams/channel={args.streams_per_channel}"
            + (f" replicas={args.replicas} behind Envoy" if args.replicas > 1 else "")
            + f" ({os.cpu_count()} cores, Python "
            f"{platform.python_version()}, grpcio {grpc.__version__}, load average "
            f"{load_average()}; server code {source})",
            flush=True,
        )
        print(
            f"  setup: {fleet.camera_count} cameras in {fleet.cameras_s:.1f} s, "
            f"{args.nodes} nodes registered in {fleet.register_s:.1f} s "
            f"({time.monotonic() - setup_started:.0f} s in all)",
            flush=True,
        )
        windows: list[Window] = []
        baseline: Window | None = None
        if not args.no_baseline:
            baseline = await baseline_phase(args, sink_target, fleet, sink, sink_channel)
            windows.append(baseline)
            # The bare server is done: its idle loop should not share the cores from here on.
            sink.stop()
        print(HEADER, flush=True)
        if baseline is not None:
            print(format_window(baseline), flush=True)
        windows += await control_plane_phase(
            args, server_target, fleet, server, channel, database_url, outcome
        )
        server.check_alive()
        print(f"  load average after: {load_average()}", flush=True)
        return verdict(args, baseline, windows, outcome, server)
    finally:
        for ch in channels:
            await ch.close(None)
        server.stop()
        if sink is not None:
            sink.stop()
        if args.server_log:
            server.keep_logs(args.server_log)
        for name, log in server.logs:
            digest = log_digest(log)
            if digest:
                print(f"  {name} log, warnings and errors (ids and numbers masked as #):")
                print("\n".join(digest), flush=True)


def verdict(
    args: argparse.Namespace,
    baseline: Window | None,
    windows: list[Window],
    outcome: Outcome,
    server: ControlPlanes,
) -> int:
    """Print the ratio, the capacity figure and the headline; returns the exit status."""
    main = next((w for w in windows if w.label == server.label), None)
    status = 0
    print()
    if main is not None and main.parts:
        bare = baseline.cpu(baseline.server) if baseline is not None else None
        for line in together(
            server.count, main.seconds, main.sent_per_s, main.parts, bare, CPU_LIMIT
        ):
            print(line)
    elif main is not None and baseline is not None:
        cp, bare = main.cpu(main.server), baseline.cpu(baseline.server)
        if cp is not None and bare:
            print(
                f"  control plane CPU / bare CPU = {cp / bare:.1f} "
                f"({_pct(cp)} vs {_pct(bare)} of a core at {main.sent_per_s:.0f} heartbeats/s)"
            )
    ramped = [w for w in windows if w.label.startswith("control plane @")]
    if main is not None and not main.parts:
        per_hb = main.us_per_heartbeat
        if per_hb:
            print(
                f"  control plane CPU per heartbeat at 1 Hz: {per_hb:.0f} µs -> about "
                f"{CPU_LIMIT * 1e6 / per_hb:.0f} heartbeats/s at {100 * CPU_LIMIT:.0f}% of a "
                "core if it scaled linearly"
            )
    if ramped:
        under = [
            w
            for w in [main, *ramped]
            if w is not None
            and (w.cpu(w.server) or 0.0) < CPU_LIMIT
            and w.sent_per_s >= 0.9 * w.target_rate
        ]
        best = max(under, key=lambda w: w.sent_per_s, default=None)
        hit = next((w for w in ramped if (w.cpu(w.server) or 0.0) >= CPU_LIMIT), None)
        below = (
            f"{best.sent_per_s:.0f} heartbeats/s at {_pct(best.cpu(best.server))} of a core"
            if best is not None
            else "none"
        )
        if hit is not None:
            print(
                f"  max sustainable (ramp): {below} (the highest step under "
                f"{100 * CPU_LIMIT:.0f}%); {hit.sent_per_s:.0f} heartbeats/s took "
                f"{_pct(hit.cpu(hit.server))}"
            )
        else:
            print(
                f"  max sustainable (ramp): {100 * CPU_LIMIT:.0f}% of a core not reached; "
                f"highest step {below}"
            )
    if main is not None and main.sent_per_s < 0.95 * main.target_rate:
        outcome.problems.append(
            f"the load generator sent {main.sent_per_s:.0f} heartbeats/s of the "
            f"{main.target_rate:.0f}/s asked: the 1 Hz figures understate the load"
        )
    print(f"  false lost: {outcome.false_lost}", flush=True)
    for problem in outcome.problems:
        print(f"  !!! {problem}", file=sys.stderr)
        status = 1
    if outcome.false_lost:
        print(
            "  !!! nodes that kept heartbeating were marked LOST; server log tail:", file=sys.stderr
        )
        print(server.tail(20), file=sys.stderr)
        status = 2
    return status


async def wait_sink(channel: grpc.aio.Channel, child: Child) -> None:
    """Wait until the bare server answers Stats."""
    stats = channel.unary_unary(
        SINK_STATS, request_serializer=_identity, response_deserializer=_identity
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(grpc.aio.AioRpcError):
            await stats(b"", timeout=1.0)
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{child.name} did not answer after 60 s:\n{child.tail()}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_heartbeats", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--nodes", type=int, default=1000, help="simulated agents")
    parser.add_argument(
        "--cameras-per-node",
        type=int,
        default=10,
        help="cameras each node streams (one StreamReport each)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds at 1 Hz")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="unmeasured seconds after every node is READY"
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres"),
        default=None,
        help="sqlite (the default for one control plane) or postgres (implied by --replicas)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="control-plane replicas; 2 or more run behind Envoy on PostgreSQL + Redis",
    )
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument(
        "--streams-per-channel",
        type=int,
        default=1,
        help="agents sharing one TCP connection (1: one each, as in the field)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=16,
        help="Hellos waiting for their Welcome at once, per load process",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=600.0,
        help="seconds for every node to become READY",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=20.0,
        help="seconds without change after which a fleet that is not all READY is measured anyway",
    )
    parser.add_argument(
        "--server-log", type=Path, default=None, help="keep the control plane's log in this file"
    )
    parser.add_argument(
        "--server-log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="the control plane's CAMFLEET_LOG_LEVEL",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=180.0,
        help="after --warmup, seconds to wait at most for the control plane to catch up "
        "(a camera change reaching its node within a second)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare server phase")
    parser.add_argument(
        "--ramp",
        action="store_true",
        help="after the 1 Hz window, raise the rate until ~95%% server CPU",
    )
    parser.add_argument("--ramp-step", type=float, default=10.0, help="measured seconds per step")
    parser.add_argument(
        "--ramp-max-hz", type=float, default=32.0, help="highest heartbeat rate per node to try"
    )
    args = parser.parse_args(argv)
    # Bounded by construction: at most 10 minutes per window, a sane fleet.
    if not 0 < args.seconds <= 600 or not 0 <= args.warmup <= 120:
        parser.error("--seconds must be in (0, 600] and --warmup in [0, 120]")
    if not 1 <= args.nodes <= 5000 or not 1 <= args.cameras_per_node <= 50:
        parser.error("--nodes must be 1..5000 and --cameras-per-node 1..50")
    if not 1 <= args.processes <= 16 or args.processes > args.nodes:
        parser.error("--processes must be 1..16 and at most --nodes")
    if not 1 <= args.streams_per_channel <= 1000 or not 1 <= args.connect_concurrency <= 1000:
        parser.error("--streams-per-channel and --connect-concurrency must be 1..1000")
    if not 10 <= args.connect_timeout <= 3600 or not 1 <= args.ramp_step <= 120:
        parser.error("--connect-timeout must be 10..3600 and --ramp-step 1..120")
    if not 1 < args.ramp_max_hz <= 100:
        parser.error("--ramp-max-hz must be in (1, 100]")
    if not 1 <= args.replicas <= 8:
        parser.error("--replicas must be 1..8")
    if args.replicas > 1 and args.backend == "sqlite":
        parser.error("--replicas shares one PostgreSQL and Redis: not with --backend sqlite")
    if args.replicas > 1 and args.ramp:
        parser.error("--ramp measures one process; --replicas reports the linear capacity")
    args.backend = args.backend or ("postgres" if args.replicas > 1 else "sqlite")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 0 ok, 1 a setup or load problem, 2 false LOST nodes."""
    args = parse_args(argv)
    return run_bench("bench_heartbeats", bench, args)


if __name__ == "__main__":
    raise SystemExit(main())
