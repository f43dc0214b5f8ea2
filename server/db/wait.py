"""Waiting for a PostgreSQL that is not there yet: a replica started while its database
restarts (or before it, as compose starts them together) waits with backoff, saying so in
the log, and prepares the schema once the database answers, instead of exiting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 10.0

# SQLSTATE classes of a server that is away rather than of a wrong request: connection
# exceptions (08) and "shutting down / starting up / crashed" (57P01-57P03).
_AWAY_STATES = ("08", "57P01", "57P02", "57P03")


def database_away(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached now (refused, closed, starting up)
    rather than that something is wrong with what we asked (password, missing database)."""
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    assert isinstance(exc, DBAPIError)
    state = getattr(exc.orig, "sqlstate", None)
    # psycopg gives no SQLSTATE for a refused connection or one the server closed.
    return state is None or str(state).startswith(_AWAY_STATES)


def where(url: str) -> str:
    """host:port/database of `url`, without its credentials, for a log line."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


async def until_database(
    url: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    first_delay_s: float = FIRST_DELAY_S,
    max_delay_s: float = MAX_DELAY_S,
) -> T:
    """What `attempt` (a use of the database that may be made again) returns, once it
    succeeds; while the database at `url` is away, wait first_delay_s, doubling to
    max_delay_s, and log each wait. Anything else (or any error on SQLite, a file) is raised
    at once."""
    delay = first_delay_s
    waited = 0.0
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            if url.startswith("sqlite") or not database_away(exc):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            log.warning(
                "The database at %s is not reachable (%s); waiting %.1f s before trying again "
                "(%.0f s so far). The control plane starts serving once it answers.",
                where(url),
                reason[0] if reason else type(exc).__name__,
                delay,
                waited,
            )
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, max_delay_s)
            continue
        if waited:
            log.warning("The database at %s answers again after %.0f s", where(url), waited)
        return result
