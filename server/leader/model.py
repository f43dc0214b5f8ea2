"""The leader's terms: who leads (LeaderInfo), the error a deposed leader's write gets
(NotLeader) and the shape of a singleton job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import FailedPrecondition

# The name of the fleet's one leader row (LeaderRow.name).
FLEET = "fleet"

# A singleton job: called to start it each time this replica wins leadership; the coroutine it
# returns runs until leadership is lost (then it is cancelled) and should not return by itself.
SingletonJob = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class LeaderInfo:
    """Who leads the fleet: replica id (empty while none leads), epoch and since when."""

    replica_id: str
    epoch: int
    since: datetime | None


@dataclass
class NotLeader(FailedPrecondition):
    """This replica does not lead the fleet under the epoch it holds, so a leader-only write
    must not happen: raised inside the write's transaction, which rolls back. The current
    leader does (or redoes) that work."""

    reason: str = "ERROR_REASON_FAILED_PRECONDITION"


# GetLeader's read of the stored row (Leadership.current), passed down to the servicer.
LeaderReader = Callable[[], Awaitable[LeaderInfo]]

# Leadership.fence, passed down to leader-only writes: call it first in the write's transaction;
# it returns the leader epoch or raises NotLeader.
Fence = Callable[[AsyncSession], Awaitable[int]]
