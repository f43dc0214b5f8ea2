"""A running control plane (server/app.py wires it): its server, port and the resources it
releases, in order, on stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import _async as health_aio
from sqlalchemy.ext.asyncio import AsyncEngine

from server.auth.authenticator import Authenticator
from server.cameras.cache import CameraCache
from server.cameras.reads import CameraRecord
from server.db.fast_reads import FastReads
from server.eventlog.log import EventLog
from server.leader.leadership import Leadership
from server.nodes.hub import AgentHub
from server.settings.live import LiveSettings
from server.transport.health import HealthProber

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from server.metrics.http import MetricsServer


@dataclass
class ControlPlane:
    """A running control plane: its server, port and resources to release on stop."""

    server: grpc.aio.Server
    port: int
    engine: AsyncEngine
    redis: Redis | None
    health: health_aio.HealthServicer
    prober: HealthProber
    authenticator: Authenticator
    generated_admin_password: str | None
    reads: FastReads
    events: EventLog
    hub: AgentHub
    leadership: Leadership
    # The /metrics listener (None: --metrics-listen empty).
    metrics: MetricsServer | None = None
    # The stored settings in force, followed on the event log.
    settings: LiveSettings | None = None
    # GetCamera and ListCameras in memory (PostgreSQL with Redis), following the event log.
    camera_cache: CameraCache[CameraRecord] | None = None

    async def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls (health NOT_SERVING), let running ones finish, release resources."""
        await self.health.enter_graceful_shutdown()
        if self.metrics is not None:
            await self.metrics.close()
        await self.prober.close()
        # Leadership goes first and at once: another replica takes over the singleton jobs
        # now rather than after a timeout, while this one drains its calls.
        await self.leadership.close()
        # Agent streams never finish by themselves: end them so agents reconnect elsewhere.
        await self.hub.close()
        await self.server.stop(grace)
        await self.authenticator.close()
        if self.settings is not None:
            await self.settings.close()
        if self.camera_cache is not None:
            await self.camera_cache.close()
        await self.events.close()
        if self.redis is not None:
            await self.redis.aclose()
        self.reads.close()
        await self.engine.dispose()
