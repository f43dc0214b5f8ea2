"""Alerting at fleet scale: 10,000 cameras, 1,000 of them going offline and back within a minute.

    .venv/bin/python -m bench.bench_alerts [--backend sqlite|postgres|both] [--cameras 10000]
        [--offline 1000] [--nodes 100] [--minute 60] [--for 5] [--group-wait 1]
        [--group-interval 5] [--no-node-lost]

Per backend: a throwaway database (a temporary SQLite file, or a PostgreSQL database and a Redis
prefix, removed afterwards) filled with rows: --nodes READY nodes and --cameras push cameras
ONLINE on them (labels site and zone). A webhook channel to a real aiohttp receiver on
127.0.0.1 that verifies every request's Standard Webhooks signature (`standardwebhooks`), and a
policy grouping by node to it. Then two minutes, each in a fresh child process
(bench/alerts_fleet.py: the control plane's alerting as server/app.py wires it, the leader's
evaluator, dispatcher and delivery jobs, and the camera status writer the agents' reports go
through), with the same plan of status changes:
- baseline: no rules. What the same jobs and the same status changes cost without alerting.
- rules: a camera_offline rule (and a node_lost rule, which finds nothing: no node is lost),
  each with `for` --for seconds.
Prints the child's CPU over each minute (from /proc), the CPU inside evaluation rounds (the
sum, and per round p50/p99), the dispatcher's, the database backends' (PostgreSQL), the
notifications the receiver got (grouped: how many alerts they carried), and for each camera
the time from its status change to the notification carrying its alert (firing, resolved).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.alerts_fleet import fill, make_plan
from harness.cpu import CpuMeter, load_average
from harness.databases import postgres_backends, throwaway_postgres, throwaway_redis_prefix
from harness.processes import Child, ChildExited, clean_env
from server.alerts.channels_store import ChannelStore
from server.alerts.model import Channel, Policy, WebhookConfig
from server.alerts.policies_store import PolicyStore
from server.db.engine import Sessions, create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import AlertRow, DeliveryAttemptRow, NotificationRow

READY_TIMEOUT_S = 120.0


# --- the receiver ----------------------------------------------------------------------------


@dataclass
class Arrival:
    at: float  # time.time() when the request arrived
    webhook_id: str
    kind: str
    alerts: list[tuple[str, str, str]]  # (camera or node id, state, alert id)


@dataclass
class Receiver:
    """Verifies each request's signature (401 if bad) and notes what it carried."""

    secret: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        at = time.time()
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        alerts = [
            (a["labels"].get("camera") or a["labels"].get("node", ""), a["state"], a["id"])
            for a in payload["alerts"]
        ]
        self.arrivals.append(Arrival(at, request.headers["webhook-id"], payload["kind"], alerts))
        return web.Response(status=204)


async def start_receiver(receiver: Receiver) -> tuple[web.AppRunner, str]:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook"


# --- one minute ------------------------------------------------------------------------------


@dataclass
class Minute:
    name: str
    cpu_s: float = 0.0
    db_cpu: str = "-"  # PostgreSQL backends' CPU s (">=": some exited in the minute)
    stats: dict[str, Any] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)


async def _wait_file(path: Path, child: Child, timeout_s: float) -> dict[str, Any]:
    end = time.monotonic() + timeout_s
    while not path.exists():  # noqa: ASYNC240 (a stat every 0.1 s)
        child.check_alive()
        if time.monotonic() > end:
            raise TimeoutError(f"{child.name}: no {path.name} within {timeout_s:g} s")
        await asyncio.sleep(0.1)
    return dict(json.loads(path.read_text()))  # noqa: ASYNC240 (a small file, once)


async def run_minute(
    name: str, env: dict[str, Any], plan: dict[str, Any], receiver: Receiver, tmp: Path
) -> Minute:
    out = tmp / name
    out.mkdir()
    (out / "plan.json").write_text(json.dumps(plan))
    argv = [sys.executable, "-m", "bench.alerts_fleet", "--url", env["url"], "--plan",
            str(out / "plan.json"), "--out", str(out)]  # fmt: skip
    if env["prefix"]:
        argv += ["--redis-prefix", env["prefix"]]
    child = Child(f"alerting ({name})", argv, clean_env(), log=out / "child.log")
    meter = CpuMeter.of_pid(child.pid)
    db = CpuMeter(postgres_backends(env["url"])) if env["prefix"] else None
    minute = Minute(name)
    try:
        t0 = (await _wait_file(out / "ready.json", child, READY_TIMEOUT_S))["t0"]
        receiver.arrivals.clear()
        await asyncio.sleep(max(0.0, t0 - time.time()))
        before, db_before = meter.sample(), db.sample() if db else None
        await asyncio.sleep(max(0.0, t0 + plan["minute_s"] - time.time()))
        usage = CpuMeter.usage(before, meter.sample())
        minute.cpu_s = usage.cpu_s or 0.0
        if db is not None and db_before is not None:
            used = CpuMeter.usage(db_before, db.sample())
            minute.db_cpu = f"{'>=' if used.exited else ''}{used.cpu_s or 0.0:.2f}"
        minute.stats = await _wait_file(out / "stats.json", child, plan["minute_s"])
        await _drain(receiver, minute.stats, env["drain_s"], child)
        minute.arrivals = list(receiver.arrivals)
    except (ChildExited, TimeoutError):
        print(f"!!! {child.name} failed; its log ends:\n{child.tail(40)}", file=sys.stderr)
        raise
    finally:
        child.stop()
    errors = [ln for ln in (out / "child.log").read_text(errors="replace").splitlines()
              if "Traceback" in ln or "ERROR" in ln]  # fmt: skip
    minute.stats["log_errors"] = len(errors)
    return minute


async def _drain(receiver: Receiver, stats: dict[str, Any], drain_s: float, child: Child) -> None:
    """Until every camera back online has its resolved notification (at most drain_s)."""
    back = {c[0] for c in stats["changes"] if c[1] == "online" and c[3]}
    end = time.monotonic() + drain_s
    while time.monotonic() < end and back:
        child.check_alive()
        told = {c for a in receiver.arrivals for c, state, _ in a.alerts if state == "resolved"}
        if back <= told:
            return
        await asyncio.sleep(0.25)


# --- a backend -------------------------------------------------------------------------------


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[dict[str, Any]]:
    if backend == "sqlite":
        yield {"url": f"sqlite+aiosqlite:///{tmp / 'alerts.db'}", "prefix": ""}
        return
    with throwaway_postgres("bench_alerts") as url, throwaway_redis_prefix("bench-alerts") as p:
        yield {"url": url, "prefix": p}


async def setup(sessions: Sessions, args: argparse.Namespace, url: str) -> tuple[str, str]:
    """The webhook channel (its generated secret) and the policy grouping by node."""
    channel, secret = await ChannelStore(sessions).create(
        Channel("", "bench receiver", WebhookConfig(url=url, timeout_s=10.0))
    )
    await PolicyStore(sessions).create(
        Policy("", "by node", [channel.id], group_by=["node"], group_wait_s=args.group_wait,
               group_interval_s=args.group_interval, repeat_interval_s=4 * 3600.0)
    )  # fmt: skip
    return channel.id, secret


async def run_backend(backend: str, args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-alerts-")))
        env = stack.enter_context(database(backend, tmp)) | {"drain_s": args.drain}
        engine = create_engine(env["url"], pool_size=2)
        receiver = Receiver()
        runner, hook_url = await start_receiver(receiver)
        try:
            await upgrade_to_head(engine)
            sessions = session_factory(engine)
            began = time.perf_counter()
            homes = await fill(sessions, args.cameras, args.nodes)
            filled_s = time.perf_counter() - began
            _, receiver.secret = await setup(sessions, args, hook_url)
            plan = {"changes": make_plan(homes, args.offline, args.minute, args.seed),
                    "minute_s": args.minute, "warmup_s": args.warmup, "for_s": args.for_s,
                    "node_lost": not args.no_node_lost, "rules": False}  # fmt: skip
            print(
                f"bench_alerts: backend={backend} cameras={args.cameras} nodes={args.nodes} "
                f"offline={args.offline} (inserted in {filled_s:.1f} s) minute={args.minute:g} s; "
                f"rules: camera_offline{' + node_lost' if plan['node_lost'] else ''}, for "
                f"{args.for_s:g} s; policy: group_by node, group_wait {args.group_wait:g} s, "
                f"group_interval {args.group_interval:g} s ({os.cpu_count()} cores, load "
                f"average {load_average()})",
                flush=True,
            )
            base = await run_minute("baseline", env, plan, receiver, tmp)
            rules = await run_minute("rules", env, plan | {"rules": True}, receiver, tmp)
            async with sessions() as session:
                by_status = select(NotificationRow.status, func.count()).group_by(
                    NotificationRow.status
                )
                rows = dict((await session.execute(by_status)).all())
                attempts = await session.scalar(
                    select(func.count()).select_from(DeliveryAttemptRow)
                )
                labels = list(await session.scalars(select(AlertRow.labels)))
            cams = Counter(lb.get("camera") for lb in labels if lb.get("camera"))
            rows["alert rows"] = len(labels)
            rows["cameras alerted"] = len(cams)
            rows["cameras with 2+ alerts"] = sum(1 for n in cams.values() if n > 1)
            report(base, rules, args, rows, int(attempts or 0), receiver.bad_signatures)
        finally:
            await runner.cleanup()
            await engine.dispose()


# --- the report ------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


JOBS = {"alert_evaluator": "evaluator", "alert_dispatcher": "dispatcher",
        "alert_delivery": "delivery", "status writes": "status writes", "event log": "event log",
        "leadership": "leadership", "other": "other tasks"}  # fmt: skip


def _cpu_rows(m: Minute, minute_s: float) -> list[str]:
    t0 = m.stats["t0"]
    rounds = [r for r in m.stats["rounds"] if t0 <= r["t"] < t0 + minute_s]
    own = [r["own"] * 1000 for r in rounds]
    proc = [r["cpu"] * 1000 for r in rounds]
    wall = [r["wall"] * 1000 for r in rounds]
    jobs = m.stats["jobs"]
    rest = m.cpu_s - sum(jobs.values())
    by_job = ", ".join(f"{v} {jobs.get(k, 0.0):.2f}" for k, v in JOBS.items())
    return [
        f"  {m.name:<9} {m.cpu_s:8.2f} {100 * m.cpu_s / minute_s:4.0f}% {len(rounds):6d} "
        f"{sum(own) / 1000:7.2f} {sum(proc) / 1000:7.2f} {pct(own, 50):7.1f} {pct(own, 99):7.1f} "
        f"{max(own, default=0):7.1f} {pct(proc, 50):7.1f} {pct(proc, 99):7.1f} "
        f"{pct(wall, 50):7.1f} {pct(wall, 99):7.1f} {m.db_cpu:>7}",
        f"            CPU s by job: {by_job}, outside tasks {rest:.2f}",
    ]


def _latencies(m: Minute, word: str, state: str) -> tuple[list[float], int]:
    """Seconds from each camera's change to `word` to the first notification carrying its
    alert in `state`; and how many changed cameras got none."""
    changed = {c[0]: c[2] for c in m.stats["changes"] if c[1] == word and c[3]}
    first: dict[str, float] = {}
    for a in sorted(m.arrivals, key=lambda a: a.at):
        for cam, st, _ in a.alerts:
            if st == state and cam in changed and cam not in first:
                first[cam] = a.at
    return [first[c] - changed[c] for c in first], len(changed) - len(first)


def report(
    base: Minute,
    rules: Minute,
    args: argparse.Namespace,
    rows: dict[str, int],
    attempts: int,
    bad: int,
) -> None:
    print("                                  in rounds s   round's own CPU ms  round's proc CPU"
          "   round wall ms")  # fmt: skip
    print("  minute    proc CPU  core rounds     own    proc     p50     p99     max     p50"
          "     p99     p50     p99  db CPU")  # fmt: skip
    for m in (base, rules):
        print("\n".join(_cpu_rows(m, args.minute)))
    extra = rules.cpu_s - base.cpu_s
    ev = rules.stats["jobs"].get("alert_evaluator", 0) - base.stats["jobs"].get(
        "alert_evaluator", 0
    )
    print(
        f"  alerting over the baseline: {extra:+.2f} s CPU in the minute "
        f"({100 * extra / args.minute:+.0f} % of a core); the evaluator's own {ev:+.2f} s"
    )
    rs = [r for r in rules.stats["rounds"] if rules.stats["t0"] <= r["t"]]
    print(
        f"  evaluator (rules minute): opened {sum(r['opened'] for r in rs)}, fired "
        f"{sum(r['fired'] for r in rs)}, resolved {sum(r['resolved'] for r in rs)}; "
        f"failed rule evaluations {sum(r['failed'] for r in rs)}; error lines in the child's "
        f"log: baseline {base.stats['log_errors']}, rules {rules.stats['log_errors']}"
    )
    kinds: Counter[str] = Counter()
    carried: Counter[str] = Counter()
    per: dict[str, list[int]] = {}
    for a in rules.arrivals:
        kinds[a.kind] += 1
        carried[a.kind] += len(a.alerts)
        per.setdefault(a.kind, []).append(len(a.alerts))
    ids = Counter(a.webhook_id for a in rules.arrivals)
    print(
        "  notifications received: "
        + ", ".join(
            f"{k} {kinds[k]} carrying {carried[k]} alerts (per notification p50 "
            f"{pct(per[k], 50):g}, max {max(per[k])})"
            for k in sorted(kinds)
        )
        + f"; in the baseline minute {len(base.arrivals)}; duplicate ids "
        f"{sum(n - 1 for n in ids.values())}; bad signatures {bad}"
    )
    told = {(c, i) for a in rules.arrivals for c, st, i in a.alerts if st == "firing"}
    rows["alerts told firing"] = len(told)
    rows["for cameras"] = len({c for c, _ in told})
    counts = ", ".join(f"{k} {v}" for k, v in rows.items())
    print(f"  database after: {counts}; delivery attempts {attempts}")
    for word, state in (("offline", "firing"), ("online", "resolved")):
        lat, missing = _latencies(rules, word, state)
        print(
            f"  camera {word:<7} -> {state:<8} notification: p50 {pct(lat, 50):5.2f} s, p99 "
            f"{pct(lat, 99):5.2f} s, max {max(lat, default=0):5.2f} s (n={len(lat)}"
            f", none for {missing})"
        )
    print(f"  load average after: {load_average()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--offline", type=int, default=1_000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--minute", type=float, default=60.0, help="seconds of each minute")
    parser.add_argument("--for", dest="for_s", type=float, default=5.0)
    parser.add_argument("--group-wait", type=float, default=1.0)
    parser.add_argument("--group-interval", type=float, default=5.0)
    parser.add_argument("--no-node-lost", action="store_true")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        asyncio.run(run_backend(backend, args))


if __name__ == "__main__":
    main()
