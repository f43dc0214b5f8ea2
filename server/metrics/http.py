"""The control plane's /metrics listener (--metrics-listen): Prometheus' text format over plain
HTTP, in the server's own event loop, so a scrape reads the gRPC counters and the fleet snapshot
without locks. Every other path is 404. It has no authentication: the operator binds it where
only Prometheus reaches (see --metrics-listen's help)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from server.metrics.domain import FleetMetrics

log = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[None]]


class MetricsListenError(RuntimeError):
    """The listener cannot bind its address; the message says which."""


class MetricsServer:
    """GET /metrics: `refreshers` run first (each reads what it reports), then the registry."""

    def __init__(self, registry: CollectorRegistry, refreshers: Sequence[Refresh] = ()) -> None:
        self._registry = registry
        self._refreshers = tuple(refreshers)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _metrics(self, request: web.Request) -> web.Response:
        for refresh in self._refreshers:
            try:
                await refresh()
            except Exception:
                # A database that is down must not hide the gRPC counters (which show it).
                log.exception("reading the fleet for /metrics failed; serving the last reading")
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self, listen: str) -> None:
        """Serve on `listen` (HOST:PORT; port 0 picks one, see `port`)."""
        host, _, port = listen.rpartition(":")
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), int(port))
        try:
            await site.start()
        except OSError as exc:
            await self.close()
            raise MetricsListenError(
                f"cannot listen on CAMFLEET_METRICS_LISTEN {listen} ({exc.strerror or exc})"
            ) from exc
        server = site._server  # aiohttp keeps the asyncio server here; the bound port is on it
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else int(port)

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_metrics(listen: str, grpc: Collector, fleet: FleetMetrics) -> MetricsServer:
    """/metrics on `listen` with the gRPC server's families and the fleet's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(grpc)
    registry.register(fleet)
    server = MetricsServer(registry, [fleet.refresh])
    await server.start(listen)
    return server
