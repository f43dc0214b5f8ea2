"""grpc.health.v1 that tells the truth: NOT_SERVING while the database (or Redis, when
configured) does not answer, SERVING again once it does, without a restart. Envoy's health
checks then take a broken replica out of rotation.

The prober has its own connection to each store, so a pool busy with real work is not taken
for an outage, and a hung connection costs one probe its short timeout, not the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.common.tasks import raise_if_cancelling

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthProber:
    """Probes the stores every `every_s` seconds and sets every service's health from that."""

    def __init__(
        self,
        health: health_aio.HealthServicer,
        services: Sequence[str],
        *,
        database_url: str,
        engine: AsyncEngine,
        redis_url: str | None,
        every_s: float = 1.0,
        timeout_s: float = 1.0,
        failures: int = 2,
    ) -> None:
        """`failures`: consecutive failed probes before NOT_SERVING (one is enough to come
        back). One probe slower than its timeout on a busy machine is not an outage: it took
        the only replica out of rotation, and a browser's sign-in with it (CI 2026-12-06); two
        in a row still find a store that is gone within about three seconds."""
        self._health = health
        self._services = ("", *services)
        # SQLite is a file beside us: the application's engine is the one to ask. A server
        # database gets one connection of its own (see the module docstring).
        self._engine = (
            engine
            if engine.dialect.name == "sqlite"
            else create_async_engine(database_url, pool_size=1, max_overflow=0)
        )
        self._owns_engine = self._engine is not engine
        self._redis = _probe_client(redis_url, timeout_s) if redis_url else None
        self._every_s = every_s
        self._timeout_s = timeout_s
        self._failures = failures
        self._failed = 0  # consecutive failed probes
        self._serving: bool | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def serving(self) -> bool:
        """The last probe's verdict: every store answered."""
        return self._serving is True

    async def start(self) -> None:
        """Probe once (so health is right from the first call), then keep probing."""
        await self.probe()
        self._task = asyncio.create_task(self._run(), name="health-prober")

    async def _run(self) -> None:
        while True:
            raise_if_cancelling()
            await asyncio.sleep(self._every_s)
            try:
                await self.probe()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken probe must not end health reporting
                log.exception("health probe failed")

    async def probe(self) -> bool:
        """Ask every store once and publish the verdict; True when all answered."""
        problem = await self._database_problem() or await self._redis_problem()
        self._failed = 0 if problem is None else self._failed + 1
        # The first probe decides at once: health is right from the first call.
        serving = problem is None or (self._failed < self._failures and self._serving is True)
        if serving != self._serving:
            if serving:
                log.info("storage answers again: SERVING")
            else:
                log.warning("%s: NOT_SERVING until it answers", problem)
            for name in self._services:
                await self._health.set(name, SERVING if serving else NOT_SERVING)
            self._serving = serving
        return serving

    async def _database_problem(self) -> str | None:
        try:
            async with asyncio.timeout(self._timeout_s), self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # whatever the driver raises, the database did not answer
            if self._owns_engine:
                # Drop the connection a timeout may have left half-used.
                with contextlib.suppress(Exception):
                    await self._engine.dispose()
            return f"the database does not answer ({type(exc).__name__}: {exc})"
        return None

    async def _redis_problem(self) -> str | None:
        if self._redis is None:
            return None
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._redis.ping()
        except Exception as exc:  # whatever redis-py raises, Redis did not answer
            # (redis-py drops a failed connection itself; the next probe dials again)
            return f"Redis does not answer ({type(exc).__name__}: {exc})"
        return None

    async def close(self) -> None:
        """Stop probing and release the probe connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._owns_engine:
            await self._engine.dispose()
        if self._redis is not None:
            await self._redis.aclose()


def _probe_client(redis_url: str, timeout_s: float) -> Redis:
    # Imported here: without Redis configured the control plane never loads redis-py.
    from redis.asyncio import Redis

    return Redis.from_url(
        redis_url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        max_connections=2,  # probes run one at a time
    )
