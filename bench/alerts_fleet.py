"""bench_alerts.py's fleet and its alerting control plane.

`fill` inserts the fleet as rows (nodes READY, push cameras ONLINE on them, two labels each).
`make_plan` draws which cameras go offline when and come back when.

Run as a module, this is the child process the bench measures: the control plane's alerting as
server/app.py wires it (the same event log, publisher, leadership, presence, camera status
writer and `build_alerts`, whose leader jobs run: evaluator, dispatcher, delivery), plus the
plan's status changes made through the real CameraStatusWriter in this process, as the
agents' publish/unpublish reports reach it in a control plane (each change commits its camera
event, which wakes the evaluator). Each evaluation round and dispatcher pass is timed in
process CPU (every thread: aiosqlite's work included). It writes `ready.json` (the minute's
start, t0) once it leads and has evaluated, `stats.json` at the end of the minute, and runs
until SIGTERM.

    python -m bench.alerts_fleet --url URL [--redis-prefix P] --plan plan.json --out DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite.core
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import insert

from server.alerts.model import CameraOffline, NodeLost, Rule, Severity
from server.alerts.rules_store import RulesStore
from server.alerts.wiring import build_alerts
from server.cameras.model import CameraStatus
from server.cameras.status import CameraStatusWriter
from server.config import Settings
from server.db.engine import Sessions, create_engine, session_factory
from server.db.models import CameraLabelRow, CameraRow, NodeRow
from server.eventlog.redis_log import RedisEventLog
from server.eventlog.sql_log import SqlEventLog
from server.events.publisher import EventPublisher
from server.leader.leadership import Leadership
from server.nodes.load_events import NodeLoadEvents
from server.nodes.presence import MemoryPresence, Presence, RedisPresence
from server.placement.store import PlacementRecorder

REDIS_URL = "redis://127.0.0.1:6379/0"
OFFLINE_REASON = "the publisher disconnected"  # what an agent's unpublish reports


# --- the fleet (the bench process, before the child starts) ---------------------------------


async def fill(sessions: Sessions, cameras: int, nodes: int) -> dict[str, str]:
    """`nodes` READY nodes and `cameras` push cameras ONLINE for a day, spread over them, with
    labels site and zone; returns camera id -> node id."""
    now = datetime.now(UTC)
    day_ago = now - timedelta(days=1)
    node_ids = [str(uuid.uuid4()) for _ in range(nodes)]
    node_rows = [
        {"id": nid, "name": f"edge-{i:03d}", "name_key": f"edge-{i:03d}",
         "credential_hash": uuid.uuid4().hex, "state": "ready", "state_changed_at": day_ago,
         "labels": {"site": f"site-{i // 10:02d}"}}
        for i, nid in enumerate(node_ids)
    ]  # fmt: skip
    homes: dict[str, str] = {}
    camera_rows, label_rows = [], []
    for i in range(cameras):
        cid, node = str(uuid.uuid4()), i % nodes
        homes[cid] = node_ids[node]
        camera_rows.append(
            {"id": cid, "name": f"cam-{i:05d}", "name_key": f"cam-{i:05d}",
             "stream_key": uuid.uuid4().hex, "ingest_mode": "push", "node_id": node_ids[node],
             "status": "online", "status_changed_at": day_ago, "created_at": day_ago}
        )  # fmt: skip
        label_rows.append({"camera_id": cid, "key": "site", "value": f"site-{node // 10:02d}"})
        label_rows.append({"camera_id": cid, "key": "zone", "value": f"zone-{i % 7}"})
    async with sessions.begin() as session:
        await session.execute(insert(NodeRow), node_rows)
        for start in range(0, len(camera_rows), 2000):
            await session.execute(insert(CameraRow), camera_rows[start : start + 2000])
        for start in range(0, len(label_rows), 4000):
            await session.execute(insert(CameraLabelRow), label_rows[start : start + 4000])
    return homes


def make_plan(homes: dict[str, str], offline: int, minute_s: float, seed: int) -> list[list[Any]]:
    """[offset s, camera id, node id, "offline"|"online"], sorted: `offline` cameras drawn at
    random go offline over the minute's first third and come back 1/4 to 1/2 of the minute
    later (60 s: offline at 0-20 s, back by 50 s)."""
    rng = random.Random(seed)
    chosen = rng.sample(sorted(homes), min(offline, len(homes)))
    changes: list[list[Any]] = []
    for cid in chosen:
        down = rng.uniform(0.0, minute_s / 3)
        up = down + rng.uniform(minute_s / 4, minute_s / 2)
        changes += [[down, cid, homes[cid], "offline"], [up, cid, homes[cid], "online"]]
    return sorted(changes)


def bench_rules(for_s: float, node_lost: bool) -> list[Rule]:
    rules = [Rule("", "camera offline", CameraOffline(), severity=Severity.WARNING, for_s=for_s)]
    if node_lost:
        rules.append(Rule("", "node lost", NodeLost(), severity=Severity.CRITICAL, for_s=for_s))
    return rules


# --- the child: the control plane's alerting, timed ------------------------------------------


class _NoCameras:
    """build_alerts' CameraStreams (e-mail snapshots): the bench has webhook channels only."""

    async def get(self, camera_id: str) -> Any:
        raise RuntimeError("bench_alerts has no camera service (webhook channels only)")

    async def stream_urls(self, camera_id: str, include_publish_url: bool, grant: Any) -> Any:
        raise RuntimeError("bench_alerts has no camera service (webhook channels only)")


# CPU by job: every task's coroutine is stepped through _Stepped, which adds the event-loop
# thread's CPU of each step (time.thread_time) to the task, and SQLite's work done for the task
# on aiosqlite's connection thread is added to it too (PostgreSQL's psycopg runs on the loop).
# A task's job is the JOB context variable it runs with (inherited by the tasks it starts).
JOB: ContextVar[str] = ContextVar("bench_job", default="other")
_STEPPED: list[_Stepped] = []


class _Stepped(Coroutine[Any, Any, Any]):
    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro, self.job, self.loop_s, self.db_s, self.began = coro, "other", 0.0, 0.0, 0.0
        _STEPPED.append(self)

    def _step(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.began = time.thread_time()
        try:
            return fn(*args)
        finally:
            self.loop_s += time.thread_time() - self.began
            self.began = 0.0
            self.job = JOB.get()

    def send(self, value: Any) -> Any:
        return self._step(self.coro.send, value)

    def throw(self, *args: Any) -> Any:
        return self._step(self.coro.throw, *args)

    def close(self) -> None:
        self.coro.close()

    def __await__(self) -> Any:
        return self.coro.__await__()

    def cpu_now(self) -> float:
        """Its CPU so far, the step running now included."""
        running = time.thread_time() - self.began if self.began else 0.0
        return self.loop_s + self.db_s + running


def _account_tasks(loop: asyncio.AbstractEventLoop) -> None:
    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        return asyncio.Task(_Stepped(coro), loop=loop, **kw)

    loop.set_task_factory(factory)
    original: Any = aiosqlite.core.Connection._execute

    async def execute(self: Any, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        task = asyncio.current_task()
        stepped = task.get_coro() if task is not None else None
        if not isinstance(stepped, _Stepped):
            return await original(self, fn, *args, **kw)

        def timed() -> Any:
            began = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                stepped.db_s += time.thread_time() - began

        return await original(self, timed)

    aiosqlite.core.Connection._execute = execute  # type: ignore[method-assign]


def by_job() -> dict[str, float]:
    jobs: dict[str, float] = {}
    for s in _STEPPED:
        jobs[s.job] = jobs.get(s.job, 0.0) + s.cpu_now()
    return jobs


def _named(
    name: str, job: Callable[[], Awaitable[None]]
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        JOB.set(name)
        await job()

    return run


def _timed(
    records: list[dict[str, Any]], fn: Callable[..., Any], after: Callable[[], dict[str, Any]]
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """Wrap a job's one-pass coroutine: each call's process CPU (every thread, whatever task),
    its own task's CPU (`own`, see _Stepped) and wall time, plus `after()`."""

    async def timed(*args: Any, **kw: Any) -> Any:
        task = asyncio.current_task()
        me = task.get_coro() if task is not None else None
        own = me.cpu_now() if isinstance(me, _Stepped) else 0.0
        t, cpu, wall = time.time(), time.process_time(), time.perf_counter()
        try:
            return await fn(*args, **kw)
        finally:
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            own = me.cpu_now() - own if isinstance(me, _Stepped) else 0.0
            records.append({"t": t, "cpu": cpu, "own": own, "wall": wall, **after()})

    return timed


async def child(args: argparse.Namespace) -> None:
    plan = json.loads(Path(args.plan).read_text())  # noqa: ASYNC240 (before anything runs)
    out = Path(args.out)
    _account_tasks(asyncio.get_running_loop())
    engine = create_engine(args.url, Settings().database_pool_size)
    sessions = session_factory(engine)
    redis: Redis | None = None
    presence: Presence = MemoryPresence()
    reset = JOB.set("event log")
    if args.redis_prefix:
        pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=200, timeout=10)
        redis = Redis(connection_pool=pool)
        events: SqlEventLog | RedisEventLog = RedisEventLog(
            redis, args.redis_prefix, engine, sessions
        )
        presence = RedisPresence(redis, args.redis_prefix)
    else:
        events = SqlEventLog(engine, sessions)
    await events.start()
    JOB.reset(reset)
    publisher = EventPublisher(events)
    leadership = Leadership.for_engine(engine, sessions)
    placements = PlacementRecorder(
        publisher.camera_changed,
        publisher.camera_placed,
        NodeLoadEvents(publisher.node_changed, presence).stage,
    )
    status = CameraStatusWriter(sessions, publisher.camera_changed, placements)
    alerts = build_alerts(
        sessions, events, publisher, fence=leadership.fence, presence=presence, cameras=_NoCameras()
    )
    evaluator = alerts.jobs["alert_evaluator"].__self__  # type: ignore[attr-defined]
    dispatcher = alerts.jobs["alert_dispatcher"].__self__  # type: ignore[attr-defined]
    if plan["rules"]:
        store = RulesStore(sessions, evaluator.transitions)
        for rule in bench_rules(plan["for_s"], plan["node_lost"]):
            await store.create(rule)
    rounds: list[dict[str, Any]] = []
    passes: list[dict[str, Any]] = []

    def round_stats() -> dict[str, Any]:
        s = evaluator.last_round
        return {"opened": s.opened, "fired": s.fired, "resolved": s.resolved,
                "failed": len(s.failed_rules)}  # fmt: skip

    evaluator.evaluate_once = _timed(rounds, evaluator.evaluate_once, round_stats)
    dispatcher.dispatch_once = _timed(passes, dispatcher.dispatch_once, dict)
    leadership.run_while_leader({k: _named(k, job) for k, job in alerts.jobs.items()})
    reset = JOB.set("leadership")
    await leadership.start()
    JOB.reset(reset)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await asyncio.wait_for(leadership.wait_leading(), 30)
        while not rounds:  # noqa: ASYNC110 (the evaluator's first round, once)
            await asyncio.sleep(0.1)
        await asyncio.sleep(plan["warmup_s"])
        t0 = float(int(time.time()) + 2)
        _write(out / "ready.json", {"t0": t0})
        await asyncio.sleep(t0 - time.time())
        jobs0 = by_job()
        changes = await _drive(status, plan["changes"], t0)
        await asyncio.sleep(max(0.0, t0 + plan["minute_s"] - time.time()))
        jobs1 = by_job()
        jobs = {k: v - jobs0.get(k, 0.0) for k, v in jobs1.items()}
        changed = [c.result() for c in changes]
        stats = {"t0": t0, "rounds": rounds, "passes": passes, "changes": changed, "jobs": jobs}
        _write(out / "stats.json", stats)
        await stop.wait()
    finally:
        await leadership.close()
        await events.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


async def _drive(
    status: CameraStatusWriter, plan: list[list[Any]], t0: float
) -> list[asyncio.Task[list[Any]]]:
    """Start each status change at its time (each its own task, as agents' reports arrive
    concurrently); returns the tasks: [camera id, status, time written (s), changed?]."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[list[Any]]] = []

    async def change(camera_id: str, node_id: str, word: str) -> list[Any]:
        JOB.set("status writes")
        at = datetime.now(UTC)
        new = CameraStatus.OFFLINE if word == "offline" else CameraStatus.ONLINE
        reason = OFFLINE_REASON if new is CameraStatus.OFFLINE else ""
        row = await status.set(camera_id, new, reason, node_id, at)
        return [camera_id, word, at.timestamp(), row is not None]

    for offset, camera_id, node_id, word in plan:
        delay = t0 + offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(change(camera_id, node_id, word)))
    await asyncio.gather(*tasks)
    return tasks


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--redis-prefix", default="")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--out", required=True)
    asyncio.run(child(parser.parse_args()))


if __name__ == "__main__":
    main()
