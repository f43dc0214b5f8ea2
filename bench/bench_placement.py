"""Placement at scale: 10,000 pull cameras placed over 100 simulated nodes, then one lost node's
cameras (about 100) re-placed, with the pure planner and the store timed apart.

    python -m bench.bench_placement [--cameras 10000] [--nodes 100] [--backend sqlite|postgres|both]

The nodes are rows (READY, no agent behind them: the scheduler only reads rows); the cameras are
rows. Each run uses a throwaway database (a temporary SQLite file, or a throwaway PostgreSQL
database dropped afterwards), the real store (server/placement/store.py: fenced by a real
Leadership, history rows, CAMERA_PLACED and camera events staged in the outbox, audit entries,
and each touched node's NODE_UPDATED event with its counts, as server/app.py wires it) and the
real planner. Prints, per backend: reading the fleet, planning and storing the initial
placement, and planning and storing the failover, the last two against the target (≤ 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from harness.databases import throwaway_postgres
from server.cameras.model import ChangeKind
from server.config import sqlite_url
from server.db.engine import create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import CameraRow, NodeRow
from server.db.outbox import stage_event
from server.events import convert
from server.leader.leadership import Leadership
from server.nodes.live import NodeView
from server.nodes.load_events import NodeLoadEvents
from server.nodes.registry import NodeChange
from server.placement.model import Placement
from server.placement.planner import Planner
from server.placement.reading import read_cameras, read_nodes
from server.placement.store import PlacementRecorder, PlacementStore

TARGET_S = 1.0


@dataclass
class Timings:
    backend: str
    read_s: float = 0.0
    place_plan_s: float = 0.0
    place_store_s: float = 0.0
    placed: int = 0
    fail_plan_s: float = 0.0
    fail_store_s: float = 0.0
    moved: int = 0
    spread: str = ""


def _camera_changed(session: AsyncSession, kind: ChangeKind, row: CameraRow, message: str) -> None:
    event = convert.camera_event(kind, row, message)
    stage_event(session, event.kind, event.subject, event.payload)


def _camera_placed(session: AsyncSession, placement: Placement) -> None:
    event = convert.placement_event(placement)
    stage_event(session, event.kind, event.subject, event.payload)


def _node_changed(session: AsyncSession, change: NodeChange, node: NodeView, message: str) -> None:
    event = convert.node_event(change, node, message)
    stage_event(session, event.kind, event.subject, event.payload)


async def _fill(sessions: object, cameras: int, nodes: int) -> None:
    node_rows = [
        {"id": str(uuid.uuid4()), "name": f"sim-{i:03d}", "name_key": f"sim-{i:03d}",
         "credential_hash": "x", "state": "ready", "capacity": 0, "labels": {}}
        for i in range(nodes)
    ]  # fmt: skip
    camera_rows = [
        {"id": str(uuid.uuid4()), "name": f"cam-{i:05d}", "name_key": f"cam-{i:05d}",
         "stream_key": uuid.uuid4().hex, "ingest_mode": "pull",
         "source_url": f"rtsp://10.0.0.{i % 250}/stream", "node_selector": {}}
        for i in range(cameras)
    ]  # fmt: skip
    async with sessions.begin() as session:  # type: ignore[attr-defined]
        await session.execute(insert(NodeRow), node_rows)
        for start in range(0, len(camera_rows), 2000):
            await session.execute(insert(CameraRow), camera_rows[start : start + 2000])


async def run(url: str, backend: str, cameras: int, nodes: int) -> Timings:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    leadership = Leadership.for_engine(engine, sessions)
    await leadership.start()
    try:
        await _fill(sessions, cameras, nodes)
        node_loads = NodeLoadEvents(_node_changed)
        recorder = PlacementRecorder(_camera_changed, _camera_placed, node_loads.stage)
        store = PlacementStore(sessions, recorder, leadership.fence)
        out = Timings(backend)

        began = time.perf_counter()
        planner = Planner()
        for node in await read_nodes(sessions):
            planner.set_node(node)
        for camera in await read_cameras(sessions):
            planner.set_camera(camera)
        out.read_s = time.perf_counter() - began

        began = time.perf_counter()
        decisions = planner.place_waiting(0.0)
        out.place_plan_s = time.perf_counter() - began
        began = time.perf_counter()
        applied = await store.apply(decisions)
        out.place_store_s = time.perf_counter() - began
        out.placed = len(applied.rows)
        assert not applied.skipped, applied.skipped[:3]

        lost = max(planner.nodes.values(), key=lambda n: n.name)
        planner.set_node(replace(lost, ready=False))
        began = time.perf_counter()
        decisions = planner.failover(lost.id, 0.0)
        out.fail_plan_s = time.perf_counter() - began
        began = time.perf_counter()
        applied = await store.apply(decisions)
        out.fail_store_s = time.perf_counter() - began
        out.moved = len(applied.rows)
        assert not applied.skipped
        loads = Counter(c.node_id for c in planner.cameras.values())
        counts = [n for node_id, n in loads.items() if node_id != lost.id]
        out.spread = f"{min(counts)}-{max(counts)} cameras per node after the loss"
        return out
    finally:
        await leadership.close()
        await engine.dispose()


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgres":
        with throwaway_postgres("bench") as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="camfleet-bench-") as tmp:
        yield sqlite_url(Path(tmp))


def report(t: Timings, cameras: int, nodes: int) -> None:
    ok = "ok" if t.fail_plan_s + t.fail_store_s <= TARGET_S else "OVER TARGET"
    print(f"[{t.backend}] {cameras} cameras over {nodes} nodes")
    print(f"  read the fleet            {t.read_s * 1000:8.1f} ms")
    print(f"  initial placement planner {t.place_plan_s * 1000:8.1f} ms ({t.placed} placed)")
    print(f"  initial placement store   {t.place_store_s * 1000:8.1f} ms")
    print(f"  lost node planner         {t.fail_plan_s * 1000:8.1f} ms ({t.moved} re-placed)")
    print(f"  lost node store           {t.fail_store_s * 1000:8.1f} ms")
    print(
        f"  lost node re-placed in    {(t.fail_plan_s + t.fail_store_s) * 1000:8.1f} ms "
        f"(target <= {TARGET_S * 1000:.0f} ms: {ok}); {t.spread}"
    )


async def main_async(backends: list[str], cameras: int, nodes: int) -> None:
    for backend in backends:
        with database(backend) as url:
            report(await run(url, backend, cameras, nodes), cameras, nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    asyncio.run(main_async(backends, args.cameras, args.nodes))


if __name__ == "__main__":
    main()
