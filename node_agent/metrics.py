"""The agent's own Prometheus metrics on --metrics-listen (off by default): its live streams as
nginx's /stat last described them, its recorders, and its recording disks, read at scrape time
from the objects the agent already keeps (no polling of its own).

A listener of its own rather than a route of the callback API: that API is a Unix socket only
nginx's workers may reach, and the HLS port is public; metrics go where the operator binds them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from node_agent.config_values import HostPort
from node_agent.errors import StartupError
from node_agent.recording.manager import RecordingManager
from node_agent.streams import StreamTracker

log = logging.getLogger(__name__)


class AgentMetrics(Collector):
    """`camfleet_agent_` families. `recording()` is the agent's RecordingManager once it runs;
    `tiers` the recordings directories by tier name ("hot", "warm")."""

    def __init__(
        self,
        node: Callable[[], tuple[str, str]],
        version: str,
        streams: StreamTracker,
        recording: Callable[[], RecordingManager | None],
        tiers: dict[str, Path],
    ) -> None:
        self._node = node
        self._version = version
        self._streams = streams
        self._recording = recording
        self._tiers = tiers

    def describe(self) -> Iterable[Metric]:
        """Nothing: families are built at collect time only."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The families as the agent's objects stand now."""
        node_id, name = self._node()
        info = InfoMetricFamily("camfleet_agent", "This node agent.")
        info.add_metric([], {"node_id": node_id, "node": name, "version": self._version})
        yield info
        yield from self._stream_families()
        yield from self._recorder_families()
        yield from self._disk_families()

    def _stream_families(self) -> Iterator[Metric]:
        live = self._streams.live()
        yield GaugeMetricFamily(
            "camfleet_agent_streams", "Publishes this node accepted and still serves.", len(live)
        )
        labels = ["camera_id"]
        bitrate = GaugeMetricFamily(
            "camfleet_agent_stream_bitrate_bps", "Incoming bitrate nginx measured.", labels=labels
        )
        fps = GaugeMetricFamily(
            "camfleet_agent_stream_frame_rate", "Frames per second nginx measured.", labels=labels
        )
        clients = GaugeMetricFamily(
            "camfleet_agent_stream_clients",
            "Readers of the stream in nginx (recorders, HLS, pulls).",
            labels=labels,
        )
        flowing = GaugeMetricFamily(
            "camfleet_agent_stream_media_flowing",
            "1 once media arrived for the publish, else 0.",
            labels=labels,
        )
        for publish in live:
            key = [publish.camera_id]
            flowing.add_metric(key, 1 if publish.media_flowing else 0)
            if publish.stat is not None:
                bitrate.add_metric(key, publish.stat.bitrate_bps)
                fps.add_metric(key, publish.stat.fps)
                clients.add_metric(key, publish.stat.clients)
        yield from (bitrate, fps, clients, flowing)

    def _recorder_families(self) -> Iterator[Metric]:
        manager = self._recording()
        recorders = list(manager.recorders.values()) if manager is not None else []
        labels = ["camera_id"]
        running = GaugeMetricFamily(
            "camfleet_agent_recorder_running",
            "1 while the camera's recorder runs, 0 once it ended.",
            labels=labels,
        )
        segments = GaugeMetricFamily(
            "camfleet_agent_recorder_segments",
            "Segments the camera's current recorder wrote.",
            labels=labels,
        )
        gaps = GaugeMetricFamily(
            "camfleet_agent_recorder_gap_seconds",
            "Seconds of gaps the camera's current recorder left by crashing and restarting.",
            labels=labels,
        )
        for recorder in recorders:
            key = [recorder.camera_id]
            running.add_metric(key, 0 if recorder.finished else 1)
            segments.add_metric(key, recorder.segments)
            lost = sum(((end - start) for start, end, _ in recorder.gaps), timedelta())
            gaps.add_metric(key, lost.total_seconds())
        yield GaugeMetricFamily(
            "camfleet_agent_recorders", "Recorders this node runs.", len(recorders)
        )
        yield GaugeMetricFamily(
            "camfleet_agent_unindexed_segments",
            "Segment files a stopped agent left unindexed, still being indexed in the "
            "background since this start.",
            manager.backfill.remaining if manager is not None else 0,
        )
        yield from (running, segments, gaps)

    def _disk_families(self) -> Iterator[Metric]:
        labels = ["tier", "path"]
        free = GaugeMetricFamily(
            "camfleet_agent_disk_free_bytes",
            "Free bytes of a recordings tier's disk.",
            labels=labels,
        )
        total = GaugeMetricFamily(
            "camfleet_agent_disk_total_bytes", "Size of a recordings tier's disk.", labels=labels
        )
        for tier, path in self._tiers.items():
            try:
                usage = shutil.disk_usage(path)
            except OSError:
                continue  # a warm share that is not mounted: no sample rather than a wrong one
            free.add_metric([tier, str(path)], usage.free)
            total.add_metric([tier, str(path)], usage.total)
        yield from (free, total)


class MetricsListener:
    """GET /metrics over plain HTTP on the operator's address; every other path is 404."""

    def __init__(self, collector: Collector) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(collector)
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self, listen: HostPort) -> None:
        """Serve on `listen`; StartupError naming --metrics-listen when it cannot bind."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, listen.host, listen.port).start()
        except OSError as exc:
            await self.close()
            raise StartupError(f"--metrics-listen {listen}: {exc.strerror or exc}") from None
        log.info("metrics at http://%s/metrics", listen)

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
