"""The control plane's shared backends, built once at start: Redis (when configured) and the
event log over the database's outbox. Split from app.py, which wires the services on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from server.cameras.cache import CameraCache
from server.cameras.reads import CameraRecord
from server.config import Settings
from server.db.engine import Sessions
from server.eventlog.fed import TableFedLog
from server.eventlog.log import EventLog
from server.eventlog.sql_log import SqlEventLog
from server.eventlog.table import counter

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from server.eventlog.redis_log import RedisEventLog


class StartupError(RuntimeError):
    """The server cannot start; the message says what to fix."""


async def connect_redis(url: str) -> Redis:
    """A client of the Redis at `url`, checked with a ping (StartupError: unreachable)."""
    # redis-py is imported here and in event_log, only with Redis configured: ~0.1 s of CPU
    # that a control plane on the embedded default would pay at every start.
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    # A blocking pool: when every connection is busy a caller waits for one, where the default
    # pool raises MaxConnectionsError (1,000 agents heartbeating hit it at once).
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=200,
        timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        # After an outage every pooled connection is dead: one retry on a fresh connection
        # keeps the first call on each from failing once Redis is back.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
        retry_on_error=[RedisConnectionError],
    )
    client: Redis = Redis(connection_pool=pool)
    try:
        await client.ping()
    except Exception as exc:  # redis raises several unrelated types for a bad URL or host
        await client.aclose()
        raise StartupError(f"cannot reach Redis at CAMFLEET_REDIS_URL ({exc})") from exc
    return client


async def event_log(
    redis: Redis | None, settings: Settings, engine: AsyncEngine, sessions: Sessions
) -> EventLog:
    """The started event log of this process."""
    # Events are rows of the database in either case (the outbox). Without Redis the table is
    # the log, so watchers resume across restarts; with Redis, replicas relay it to one stream.
    log: RedisEventLog | SqlEventLog
    if redis:
        from server.eventlog.redis_log import RedisEventLog

        log = RedisEventLog(redis, settings.redis_prefix, engine, sessions)
    else:
        log = SqlEventLog(engine, sessions)
    await log.start()
    return log


def camera_cache_for(
    redis: Redis | None, engine: AsyncEngine, events: EventLog
) -> CameraCache[CameraRecord] | None:
    """GetCamera and ListCameras answered in memory on PostgreSQL with Redis, exact by the
    revision of the log each replica tails (server/cameras/cache.py; started by the caller).
    None on SQLite, which answers unchanged reads from its data_version already, and without
    Redis, where replicas learn of each other's changes only by polling the table."""
    if redis is None or engine.dialect.name == "sqlite" or not isinstance(events, TableFedLog):
        return None
    return CameraCache(events, events.revision_here, events.committed_here, lambda: counter(engine))
