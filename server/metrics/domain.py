"""The fleet's state as `camfleet_` metrics, read at scrape time.

`FleetMetrics.refresh()` reads what this process knows (presence for heartbeats, streams and
disks; a few grouped queries for cameras, nodes, gaps and alerts) into one `Snapshot`, at most
once per `max_age_s`: Prometheus servers scraping two replicas every few seconds cost a handful
of queries, not one per scrape each. `collect()` (prometheus_client calls it, synchronously)
only turns the last snapshot into families.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.conditions.disk import DiskHistory
from server.alerts.model import AlertState
from server.cameras.model import CameraStatus
from server.db.engine import Sessions
from server.db.models import AlertRow, CameraRow, EventCounterRow, NodeRow, RecordingGapRow
from server.eventlog.log import EventLog
from server.nodes.presence import Presence
from server.nodes.registry import NodeState

# Recording states as cameras store them (the agent's RecorderState values).
RECORDING_STATES = ("idle", "recording", "error")
# recording.proto's GapCause values as stored.
GAP_CAUSES = (
    "node_lost",
    "source_error",
    "recorder_crash",
    "disk_full",
    "camera_stopped",
    "unknown",
)
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class CameraFacts:
    """One active camera: id, name, status, recording state and whether it records."""

    id: str
    name: str
    status: str
    recording_state: str
    recording: bool


@dataclass(frozen=True)
class NodeFacts:
    """One node: state, heartbeat age (None: none here) and disk (None: not reported)."""

    id: str
    name: str
    state: str
    heartbeat_age_s: float | None
    disk_free_bytes: int | None
    disk_total_bytes: int | None
    days_until_full: float | None


@dataclass(frozen=True)
class StreamFacts:
    """One live stream as its node last reported it."""

    camera_id: str
    camera: str
    node_id: str
    bitrate_bps: int
    fps: float
    clients: int


@dataclass
class Snapshot:
    """Everything the collector reports, as read at `taken` (monotonic)."""

    taken: float = 0.0
    cameras: list[CameraFacts] = field(default_factory=list)
    nodes: list[NodeFacts] = field(default_factory=list)
    streams: list[StreamFacts] = field(default_factory=list)
    gap_seconds: dict[str, float] = field(default_factory=dict)
    gaps_open: dict[str, int] = field(default_factory=dict)
    alerts_firing: dict[str, int] = field(default_factory=dict)
    event_revision: int = 0
    event_lag: int = 0


class FleetMetrics(Collector):
    """`camfleet_` families from a snapshot refreshed at most every `max_age_s`. `watchers()`
    says how many WatchEvents streams are open (the transport counts them)."""

    def __init__(
        self,
        sessions: Sessions,
        presence: Presence,
        events: EventLog,
        watchers: Callable[[], int],
        *,
        max_age_s: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._presence = presence
        self._events = events
        self._watchers = watchers
        self._max_age_s = max_age_s
        self._disks = DiskHistory()
        self._snapshot = Snapshot()
        # Scrapes that arrive together (two Prometheus servers) share one reading.
        self._reading = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the fleet again unless the last reading is younger than `max_age_s`."""
        async with self._reading:
            taken = self._snapshot.taken
            if taken and time.monotonic() - taken < self._max_age_s:
                return
            self._snapshot = await self._read()

    async def _read(self) -> Snapshot:
        snap = Snapshot(taken=time.monotonic())
        now = datetime.now(UTC)
        async with self._sessions() as session:
            cameras = (
                await session.execute(
                    select(
                        CameraRow.id,
                        CameraRow.name,
                        CameraRow.status,
                        CameraRow.recording_state,
                        CameraRow.recording_enabled,
                    ).where(CameraRow.active.is_(True))
                )
            ).all()
            nodes = (await session.execute(select(NodeRow.id, NodeRow.name, NodeRow.state))).all()
            snap.gap_seconds = await _gap_seconds(session, now)
            open_gaps = await session.execute(
                select(RecordingGapRow.cause, func.count())
                .where(RecordingGapRow.end_time.is_(None))
                .group_by(RecordingGapRow.cause)
            )
            snap.gaps_open = {cause: int(n) for cause, n in open_gaps}
            firing = await session.execute(
                select(AlertRow.severity, func.count())
                .where(AlertRow.state == AlertState.FIRING.value)
                .group_by(AlertRow.severity)
            )
            snap.alerts_firing = {severity: int(n) for severity, n in firing}
            committed = await session.scalar(select(func.max(EventCounterRow.revision)))
        snap.cameras = [CameraFacts(c[0], c[1], c[2], c[3], bool(c[4])) for c in cameras]
        names = {c.id: c.name for c in snap.cameras}
        snap.event_revision = await self._events.current_revision()
        snap.event_lag = max(0, int(committed or 0) - snap.event_revision)
        beats = await self._presence.last_heartbeats()
        wall = time.time()
        for node_id, name, state in nodes:
            live = await self._presence.host(node_id) if state == NodeState.READY.value else None
            free = total = days = None
            if live is not None and live.host.disk_total_bytes > 0:
                total = live.host.disk_total_bytes
                free = max(0, total - live.host.disk_used_bytes)
                # The alerts' own growth measure (least squares over up to 6 hours).
                self._disks.add(node_id, now, live.host.disk_used_bytes)
                growth = self._disks.growth_per_s(node_id)
                days = free / growth / 86400 if growth and growth > 0 else None
            beat = beats.get(node_id)
            age = max(0.0, wall - beat) if beat is not None else None
            snap.nodes.append(NodeFacts(node_id, name, state, age, free, total, days))
        self._disks.forget({n.id for n in snap.nodes})
        snap.streams = [
            StreamFacts(
                s.camera_id,
                names.get(s.camera_id, ""),
                s.node_id,
                s.metrics.bitrate_bps,
                s.metrics.fps,
                s.metrics.clients,
            )
            for s in await self._presence.streams()
        ]
        return snap

    def describe(self) -> Iterable[Metric]:
        """Nothing: families are built at collect time only."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The families of the last snapshot."""
        snap = self._snapshot
        yield from _camera_families(snap)
        yield from _node_families(snap)
        yield from _stream_families(snap)
        yield from _log_families(snap)
        yield GaugeMetricFamily(
            "camfleet_watchers",
            "WatchEvents streams open on this replica.",
            value=self._watchers(),
        )


def _camera_families(snap: Snapshot) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        "camfleet_cameras", "Active cameras by status.", labels=["status"]
    )
    counts = dict.fromkeys((s.value for s in CameraStatus), 0)
    for c in snap.cameras:
        counts[c.status] = counts.get(c.status, 0) + 1
    for status, n in counts.items():
        by_status.add_metric([status], n)
    yield by_status
    up = GaugeMetricFamily(
        "camfleet_camera_up",
        "1 when an active camera is ONLINE, else 0.",
        labels=["camera_id", "camera"],
    )
    recorder = GaugeMetricFamily(
        "camfleet_camera_recorder_state",
        "1 for the recording state of each camera that records (idle, recording, error).",
        labels=["camera_id", "camera", "state"],
    )
    for c in snap.cameras:
        up.add_metric([c.id, c.name], 1 if c.status == CameraStatus.ONLINE.value else 0)
        if c.recording:
            for state in RECORDING_STATES:
                recorder.add_metric([c.id, c.name, state], 1 if c.recording_state == state else 0)
    yield up
    yield recorder


def _node_families(snap: Snapshot) -> Iterator[Metric]:
    nodes = GaugeMetricFamily("camfleet_nodes", "Nodes by state.", labels=["state"])
    node_counts = dict.fromkeys((s.value for s in NodeState), 0)
    for n in snap.nodes:
        node_counts[n.state] = node_counts.get(n.state, 0) + 1
    for state, count in node_counts.items():
        nodes.add_metric([state], count)
    yield nodes
    labels = ["node_id", "node"]
    age = GaugeMetricFamily(
        "camfleet_node_heartbeat_age_seconds",
        "Seconds since the node's last heartbeat reached the fleet.",
        labels=labels,
    )
    free = GaugeMetricFamily(
        "camfleet_node_disk_free_bytes", "Free bytes of the node's recordings disk.", labels=labels
    )
    total = GaugeMetricFamily(
        "camfleet_node_disk_total_bytes", "Size of the node's recordings disk.", labels=labels
    )
    days = GaugeMetricFamily(
        "camfleet_node_disk_days_until_full",
        "Days until the node's disk is full at its growth over up to 6 hours (absent until "
        "10 minutes of history, or while it does not grow).",
        labels=labels,
    )
    for n in snap.nodes:
        key = [n.id, n.name]
        if n.heartbeat_age_s is not None:
            age.add_metric(key, n.heartbeat_age_s)
        if n.disk_free_bytes is not None and n.disk_total_bytes is not None:
            free.add_metric(key, n.disk_free_bytes)
            total.add_metric(key, n.disk_total_bytes)
        if n.days_until_full is not None:
            days.add_metric(key, n.days_until_full)
    yield from (age, free, total, days)


def _stream_families(snap: Snapshot) -> Iterator[Metric]:
    stream_labels = ["camera_id", "camera", "node_id"]
    bitrate = GaugeMetricFamily(
        "camfleet_stream_bitrate_bps",
        "Live stream bitrate its node measured.",
        labels=stream_labels,
    )
    fps = GaugeMetricFamily(
        "camfleet_stream_frame_rate", "Live stream frames per second.", labels=stream_labels
    )
    viewers = GaugeMetricFamily(
        "camfleet_stream_clients", "Readers of the live stream on its node.", labels=stream_labels
    )
    for s in snap.streams:
        key = [s.camera_id, s.camera, s.node_id]
        bitrate.add_metric(key, s.bitrate_bps)
        fps.add_metric(key, s.fps)
        viewers.add_metric(key, s.clients)
    yield from (bitrate, fps, viewers)


def _log_families(snap: Snapshot) -> Iterator[Metric]:
    gaps = CounterMetricFamily(
        "camfleet_recording_gap_seconds_total",
        "Seconds cameras should have been recorded and were not, by cause (open gaps to now).",
        labels=["cause"],
    )
    open_gaps = GaugeMetricFamily(
        "camfleet_recording_gaps_open", "Recording gaps still open, by cause.", labels=["cause"]
    )
    for cause in sorted({*GAP_CAUSES, *snap.gap_seconds, *snap.gaps_open}):
        gaps.add_metric([cause], snap.gap_seconds.get(cause, 0.0))
        open_gaps.add_metric([cause], snap.gaps_open.get(cause, 0))
    yield from (gaps, open_gaps)
    firing = GaugeMetricFamily(
        "camfleet_alerts_firing", "Alerts firing, by severity.", labels=["severity"]
    )
    for severity in sorted({*SEVERITIES, *snap.alerts_firing}):
        firing.add_metric([severity], snap.alerts_firing.get(severity, 0))
    yield firing
    yield GaugeMetricFamily(
        "camfleet_event_log_revision",
        "Newest event revision this replica relayed to watchers.",
        value=snap.event_revision,
    )
    yield GaugeMetricFamily(
        "camfleet_event_log_lag_revisions",
        "Events committed but not yet relayed to this replica's watchers.",
        value=snap.event_lag,
    )


async def _gap_seconds(session: AsyncSession, now: datetime) -> dict[str, float]:
    """Seconds of gaps by cause: closed ones summed by the database, open ones up to `now`."""
    start, end = RecordingGapRow.start_time, RecordingGapRow.end_time
    if session.get_bind().dialect.name == "sqlite":
        length = (func.julianday(end) - func.julianday(start)) * 86400.0
    else:
        length = func.extract("epoch", end - start)
    seconds: dict[str, float] = {}
    closed = await session.execute(
        select(RecordingGapRow.cause, func.sum(length))
        .where(end.is_not(None))
        .group_by(RecordingGapRow.cause)
    )
    for cause, total in closed:
        seconds[cause] = float(total or 0.0)
    opened = await session.execute(select(RecordingGapRow.cause, start).where(end.is_(None)))
    for cause, began in opened:
        seconds[cause] = seconds.get(cause, 0.0) + max(0.0, (now - began).total_seconds())
    return seconds
