"""A channel's health after each delivery attempt: failures in a row, the last success and
failure, the last error, and the pause of a channel that kept failing (at least
`min_failures` attempts in a row over at least `after_s`), with a sentence saying why. A paused
channel's notifications wait (they are not failed) until ResumeChannel; tests still go, so a
repaired endpoint can be checked first.

When the failing streak began is read from the delivery log: the oldest of the channel's
`consecutive_failures` newest attempts (they are all failures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.senders import SendResult
from server.db.models import ChannelRow, DeliveryAttemptRow


@dataclass(frozen=True)
class HealthPolicy:
    after_s: float = 600.0
    min_failures: int = 5


async def record_health(
    session: AsyncSession, policy: HealthPolicy, channel_id: str, result: SendResult, now: datetime
) -> None:
    """Update the channel after one attempt (in the attempt's transaction, the attempt's row
    already added)."""
    channel = await session.get(
        ChannelRow, channel_id, with_for_update=True, populate_existing=True
    )
    if channel is None:
        return  # deleted meanwhile
    if result.ok:
        channel.consecutive_failures = 0
        channel.last_success_time = now
        return
    channel.consecutive_failures = (channel.consecutive_failures or 0) + 1
    channel.last_failure_time = now
    channel.last_error = result.error
    failures = channel.consecutive_failures
    if channel.paused or failures < policy.min_failures:
        return
    await session.flush()
    since = await session.scalar(
        select(DeliveryAttemptRow.time)
        .where(DeliveryAttemptRow.channel_id == channel_id)
        .order_by(DeliveryAttemptRow.time.desc(), DeliveryAttemptRow.id.desc())
        .offset(failures - 1)
        .limit(1)
    )
    if since is None or (now - since).total_seconds() < policy.after_s:
        return
    channel.paused = True
    channel.pause_time = now
    channel.pause_reason = (
        f"Paused after failing for {_duration((now - since).total_seconds())} "
        f"({failures} attempts in a row); the last error: {result.error or 'unknown'}. "
        "Its notifications wait: resume the channel once the endpoint works again."
    )


def _duration(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"
