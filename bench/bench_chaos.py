"""Chaos soak: does the platform lose anything while its parts keep dying?

A test fleet (harness/fleet.py): 3 node agents, each in its own network namespace, behind the
fleet ingest; 2 control-plane replicas behind Envoy on a PostgreSQL of the bench's own
(harness/private_servers.py: initdb in a temporary directory, its own port) and a redis-server
of its own (the machine's Redis with a key prefix of the run when redis-server is missing;
then Redis is never restarted); 12 pull cameras reading an RTSP source on the bridge and 4
push cameras publishing through the ingest (they reconnect like real cameras), every one
recorded in 2 s segments; an alert rule for cameras offline and nodes lost, notifying a
webhook receiver. For --minutes, every --every seconds one fault drawn at random (--seed):

  agent     SIGKILL of a node agent's process group, restarted 2 s later (as systemd would)
  nginx     SIGKILL of a node's nginx (master and workers); its agent must restart it
  recorder  SIGKILL of one recording ffmpeg;  puller: SIGKILL of one RTSP-pulling ffmpeg
  replica   SIGKILL of a control-plane replica, restarted 2 s later
  redis     redis-server SIGKILLed and started again (append-only file, as compose.yaml)
  postgres  immediate shutdown (SIGQUIT: every session dropped, WAL recovery) and start
  link      a node's link cut (no reset) for --cut seconds

Meanwhile a client updates a camera and reads cameras and timelines every second, and a
watcher follows WatchEvents. After the last fault, once every node is READY and the nodes'
spools are in, it prints recorded ÷ expected per camera over the chaos window (expected: the
whole window, less the time the timeline puts down to NODE_LOST; target >= 99.5 % for pull
cameras), the gaps of any other cause beside the fault before them, segments lost or
duplicated in the index (0), committed events the watcher never got (0), calls that failed
INTERNAL or UNKNOWN (0) and notifications delivered twice (0).

    .venv/bin/python -m bench.bench_chaos [--minutes 10] [--every 20] [--seed 1] [--cut 10]
        [--only agent,link,...]

Needs root (network namespaces), PostgreSQL's server binaries, redis-server, ffmpeg, nginx,
Envoy, GStreamer. Everything it starts is ended by PID, namespaces and temporary directories
removed, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, ExitStack
from datetime import UTC, datetime
from typing import Any

import grpc
from camfleet.v1 import alert_pb2, camera_pb2

from bench.chaos_observers import ClientLoad, EventWatcher
from bench.chaos_report import (
    RESTART_AFTER_S,
    Fault,
    FaultLog,
    report,
    spool_settled,
)
from harness.alert_api import AlertApi, new_secret
from harness.alert_receivers import webhook_receiver
from harness.databases import REDIS_URL
from harness.fleet import Fleet, FleetNode, FleetTiming, Replica, running_fleet
from harness.fleet_cameras import PushCamera
from harness.fleet_reads import READY, cameras, until
from harness.netns import ip, kill_namespace
from harness.private_servers import PrivatePostgres, PrivateRedis, private_postgres, private_redis
from harness.processes import ChildExited, process_tree
from harness.rtsp_source import rtsp_source

C = camera_pb2
A = alert_pb2
TIMING = FleetTiming(heartbeat_s=1.0, lost_after_s=3.0, segment_s=2)
FAULTS = ("agent", "nginx", "recorder", "puller", "replica", "redis", "postgres", "link")
SETTLE_S = 180.0
LOGIN_EVERY_S = 240.0  # access tokens live 15 minutes by default


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def _children(node: FleetNode, want: str) -> list[int]:
    """PIDs under the node's agent that are `want`: its nginx (master and workers), recorders
    (the agent's segment collector, or an encoding ffmpeg's segment muxer) or pulling ffmpegs
    (an RTSP input)."""
    if not node.running:
        return []
    found = []
    for pid in process_tree(node.pid):
        argv = _cmdline(pid)
        if not argv:  # it exited between the listing and the read (its cmdline is empty then)
            continue
        line = " ".join(argv)
        ffmpeg = "ffmpeg" in argv[0]
        collector = "node_agent.recording.collector" in argv
        if (
            (want == "nginx" and line.startswith("nginx:"))
            or (want == "recorder" and (collector or (ffmpeg and "segment" in argv)))
            or (want == "puller" and ffmpeg and "rtsp://" in line)
        ):
            found.append(pid)
    return found


class Chaos(FaultLog):
    """Draws and applies the faults; the nodes being cut or restarted are left alone until
    they are back."""

    def __init__(
        self,
        fleet: Fleet,
        pg: PrivatePostgres,
        redis: PrivateRedis | None,
        args: argparse.Namespace,
    ) -> None:
        self.fleet, self.pg, self.redis = fleet, pg, redis
        self.rng = random.Random(args.seed)
        self.cut_s = float(args.cut)
        self.kinds = [k for k in (args.only or FAULTS) if k != "redis" or redis is not None]
        super().__init__()
        self.busy: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def _later(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _node(self) -> FleetNode | None:
        free = [n for n in self.fleet.nodes if n.name not in self.busy and n.running]
        return self.rng.choice(free) if free else None

    def _log(self, kind: str, target: str) -> None:
        fault = Fault(datetime.now(UTC), kind, target)
        self.faults.append(fault)
        print(f"  {fault.at:%H:%M:%S} {kind:8} {target}", flush=True)

    async def strike(self) -> None:
        kind = self.rng.choice(self.kinds)
        if kind in ("agent", "nginx", "recorder", "puller", "link"):
            node = self._node()
            if node is None:
                self.skipped[kind] += 1
                return
            if kind == "agent":
                self.busy.add(node.name)
                self._log(kind, node.name)
                self.fleet.kill_node(node)
                self._left_over(node)
                self._later(self._restart_node(node))
            elif kind == "link":
                self.busy.add(node.name)
                self._log(kind, f"{node.name} for {self.cut_s:.0f} s")
                self.fleet.cut(node)
                self._later(self._restore(node))
            else:
                pids = _children(node, kind)
                if not pids:
                    self.skipped[kind] += 1
                    return
                # nginx: the whole server (master and workers); else one process.
                victims = pids if kind == "nginx" else [self.rng.choice(pids)]
                self._log(kind, f"{node.name} pid {','.join(map(str, victims))}")
                for pid in victims:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        elif kind == "replica":
            alive = [r for r in self.fleet.replicas if r.running and f"r{r.index}" not in self.busy]
            if not alive:
                self.skipped[kind] += 1
                return
            replica = self.rng.choice(alive)
            self.busy.add(f"r{replica.index}")
            self._log(kind, f"control-plane-{replica.index}")
            self.fleet.kill_replica(replica)
            self._later(self._restart_replica(replica))
        elif kind == "redis":
            assert self.redis is not None
            self._log(kind, "restart (SIGKILL)")
            self.redis.restart(crash=True)
        elif kind == "postgres":
            self._log(kind, "restart (immediate shutdown)")
            await asyncio.to_thread(self.pg.restart, crash=True)

    def _left_over(self, node: FleetNode) -> None:
        """Kill everything left in the node's namespace until nothing is (as systemd kills a
        unit's whole control group), and note what survived the agent's process group: a
        process forked during the kill (an nginx worker) is in no snapshot of the tree, and
        the agent started next must cope with one (node_agent/nginx/stale.py)."""
        pids = [int(p) for p in ip("netns", "pids", node.net.namespace, check=False).split()]
        if pids:
            names = ", ".join(f"{p} {' '.join(_cmdline(p))[:40]}" for p in pids)
            self.left_over.append(f"{datetime.now(UTC):%H:%M:%S} {node.name}: {names}")
        kill_namespace(node.net.namespace)

    async def _supervised(self, what: str, start: Callable[[], Awaitable[None]]) -> None:
        """Start `what` again RESTART_AFTER_S after it died, and again after every failed start
        (as systemd's or compose's restart policy would); each failed start is a finding."""
        while True:
            await asyncio.sleep(RESTART_AFTER_S)
            try:
                await start()
                return
            except (ChildExited, RuntimeError, TimeoutError) as err:
                tail = str(err).strip().splitlines()[-1][:200] if str(err).strip() else ""
                failed = f"{datetime.now(UTC):%H:%M:%S} {what} failed to start: {tail}"
                self.failed_starts.append(failed)
                print(f"  {failed}", flush=True)

    async def _restart_node(self, node: FleetNode) -> None:
        try:
            await self._supervised(node.name, lambda: self.fleet.start_node(node))
        finally:
            self.busy.discard(node.name)

    async def _restore(self, node: FleetNode) -> None:
        await asyncio.sleep(self.cut_s)
        self.fleet.restore(node)
        self.busy.discard(node.name)

    async def _restart_replica(self, replica: Replica) -> None:
        what = f"control-plane-{replica.index}"
        try:
            await self._supervised(what, lambda: self.fleet.start_replica(replica))
        finally:
            self.busy.discard(f"r{replica.index}")

    async def wind_down(self) -> None:
        """Let the pending restarts and restores finish."""
        if self.tasks:
            await asyncio.gather(*self.tasks)


async def keep_logged_in(fleet: Fleet) -> None:
    """Log in again every LOGIN_EVERY_S: the run outlasts an access token."""
    while True:
        await asyncio.sleep(LOGIN_EVERY_S)
        try:
            await fleet.login()
        except grpc.aio.AioRpcError as err:
            print(f"  log in again failed ({err.code().name}); next try in 10 s", flush=True)
            await asyncio.sleep(10)


async def setup_cameras(
    fleet: Fleet, src_url: str, tag: str, pulls: int, pushes: int, stack: AsyncExitStack
) -> dict[str, tuple[str, str]]:
    """Creates the cameras (labelled chaos=tag), starts the push publishers; id -> (name, mode)."""
    out: dict[str, tuple[str, str]] = {}
    for i in range(pulls + pushes):
        pull = i < pulls
        name = f"chaos-{'pull' if pull else 'push'}-{i if pull else i - pulls}"
        camera = C.Camera(
            name=name,
            labels={"chaos": tag},
            recording_enabled=True,
            ingest_mode=C.INGEST_MODE_PULL if pull else C.INGEST_MODE_PUSH,
            source_url=src_url if pull else "",
        )
        resp = await fleet.cameras.CreateCamera(
            C.CreateCameraRequest(camera=camera), metadata=fleet.admin, timeout=30
        )
        out[resp.camera.id] = (name, "pull" if pull else "push")
        if not pull:
            url = fleet.ingest_url(resp.camera.stream_key)
            push = PushCamera(name, url, fleet.root / f"push-{name}.log")
            push.start()
            stack.push_async_callback(push.stop)
    return out


async def run(args: argparse.Namespace) -> None:
    tag = secrets.token_hex(4)
    with ExitStack() as servers:
        pg = servers.enter_context(private_postgres())
        redis = servers.enter_context(private_redis()) if shutil.which("redis-server") else None
        redis_url = redis.url if redis is not None else REDIS_URL
        async with (
            running_fleet(
                backend="postgres",
                replicas=2,
                timing=TIMING,
                database_url=pg.url,
                redis_url=redis_url,
            ) as fleet,
            AsyncExitStack() as stack,
        ):
            src = stack.enter_context(
                rtsp_source(
                    fleet.root / "rtsp", host=fleet.host, size=(320, 180), fps=15, shared=False
                )
            )
            for i in range(3):
                await fleet.add_node(f"chaos-{i}", labels={"chaos": tag})
            await fleet.start_ingest()
            secret = new_secret()
            hook = await stack.enter_async_context(webhook_receiver(secret))
            api = AlertApi(fleet)
            channel = await api.webhook(f"hook {tag}", hook.url, secret)
            dark = A.AlertCondition(camera_offline=A.CameraOfflineCondition())
            await api.rule(f"camera dark {tag}", dark, for_s=5, match_labels={"chaos": tag})
            lost = A.AlertCondition(node_lost=A.NodeLostCondition())
            await api.rule(f"node lost {tag}", lost, for_s=1, match_labels={"chaos": tag})
            await api.policy(f"on call {tag}", [channel], {"chaos": tag})

            first = await fleet.cameras.ListCameras(
                C.ListCamerasRequest(page_size=1), metadata=fleet.admin, timeout=15
            )
            watcher = EventWatcher(fleet, int(first.revision))
            watcher.start()
            stack.push_async_callback(watcher.stop)
            ids = await setup_cameras(fleet, src.url, tag, args.pulls, args.pushes, stack)
            names = [n for n, _ in ids.values()]
            await until(
                "every camera ONLINE", lambda: cameras(fleet),
                lambda cams: all(cams[n].status == C.CAMERA_STATUS_ONLINE for n in names), 180,
            )  # fmt: skip
            await asyncio.sleep(3 * TIMING.segment_s)
            refresh = asyncio.get_running_loop().create_task(keep_logged_in(fleet))
            stack.callback(refresh.cancel)
            load = ClientLoad(fleet, list(ids), random.Random(args.seed))
            load.start()
            stack.push_async_callback(load.stop)

            chaos = Chaos(fleet, pg, redis, args)
            t0 = datetime.now(UTC)
            print(f"bench_chaos: {args.minutes:g} min from {t0:%H:%M:%S}, a fault every "
                  f"{args.every:g} s (seed {args.seed}) among {', '.join(chaos.kinds)}; "
                  f"{args.pulls} pull + {args.pushes} push cameras on 3 nodes, 2 replicas; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
            end = time.monotonic() + args.minutes * 60
            next_at = time.monotonic() + args.every
            while time.monotonic() < end:
                await asyncio.sleep(max(0.0, min(next_at, end) - time.monotonic()))
                if time.monotonic() >= end:
                    break
                await chaos.strike()
                next_at += args.every
            t1 = datetime.now(UTC)
            await chaos.wind_down()
            print(f"faults over, {t1:%H:%M:%S}; settling (nodes READY, spools in)", flush=True)
            try:
                await until(
                    "every node READY", fleet.node_states,
                    lambda s: all(n.state == READY for n in s.values()), SETTLE_S,
                )  # fmt: skip
            except AssertionError as err:
                print(f"NOT settled, reporting anyway: {err}", flush=True)
            await fleet.login()
            unlisted = await spool_settled(fleet, list(ids), t0, t1, SETTLE_S)
            await report(fleet, pg.dsn, ids, chaos, watcher, load, hook, (t0, t1), unlisted)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=20.0, help="seconds between faults")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cut", type=float, default=10.0, help="seconds a link stays cut")
    parser.add_argument("--pulls", type=int, default=12)
    parser.add_argument("--pushes", type=int, default=4)
    parser.add_argument(
        "--only", type=lambda s: [k for k in s.split(",") if k], help=f"faults among {FAULTS}"
    )
    args = parser.parse_args()
    if args.only and set(args.only) - set(FAULTS):
        parser.error(f"--only: faults are {', '.join(FAULTS)}")
    asyncio.run(run(args))


if __name__ == "__main__":
    cli()
