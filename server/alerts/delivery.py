"""The delivery worker: sends queued notifications, once across replicas, with retries.

A worker claims due rows (queued or retrying, next_attempt_time reached, no live claim, channel
not paused, or a test) in one short transaction: `SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite has one writer at a time anyway), setting claim_until = now + the channel's
send timeout + a margin, and commits. It sends outside any transaction, then records the
attempt and its outcome in another: delivered; retrying at now + full-jitter exponential
backoff (uniform(0, min(cap, 2 s x 2^attempts)), the cap a minute for a young notification
and up to 30 min for one failing for hours); failed when the refusal is permanent or
24 h have passed since the notification was created. A worker killed mid-send leaves its
claim to run out: another sends the row again under the same id (webhook-id), so receivers
drop the duplicate. A sent notification's outcome is stored even when the job is cancelled
meanwhile and is tried again while the database is away (a PostgreSQL restart), so that
window does not make a second send. Channel health (delivery_health.py) pauses a channel
that kept failing; its notifications wait for ResumeChannel.

`run()` is a job for the leader (safe on several replicas at once); `deliver_once(now)` is
one pass for tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from server.alerts.channel_config import channel_of
from server.alerts.delivery_health import HealthPolicy, record_health
from server.alerts.delivery_log import notification_of
from server.alerts.model import Channel, ChannelKind, Notification, WebhookConfig
from server.alerts.senders import Sender, SendResult
from server.common.tasks import raise_if_cancelling
from server.db.engine import Sessions
from server.db.models import ChannelRow, DeliveryAttemptRow, NotificationRow, utcnow
from server.db.wait import database_away

log = logging.getLogger(__name__)

WAITING = ("queued", "retrying")
# The longest an email or SMS send may take (a snapshot grab, several recipients).
OTHER_SEND_TIMEOUT_S = 120.0
RESPONSE_START = 1024
# A claim lasts the channel's send timeout and this margin (to record the outcome).
CLAIM_MARGIN_S = 10.0
# Storing a sent notification's outcome is tried again while the database is away, every
# RECORD_FIRST_S doubling to RECORD_MAX_S, for RECORD_WITHIN_S.
RECORD_FIRST_S, RECORD_MAX_S, RECORD_WITHIN_S = 0.2, 2.0, 300.0
ABANDONED = (
    "the worker sending this attempt stopped before recording its outcome (its claim ran out); "
    "the receiver may have it: sent again under the same id"
)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff and the give-up horizon. The cap grows with the notification's age: a minute
    while it is young (Alertmanager's MaxInterval), so a receiver back from a short outage
    hears within a minute (with a fixed 30 min cap, one down for three minutes could wait
    eight more); an eighth of its age later, up to 30 min, so a payload refused all day is
    tried ~150 times, not thousands."""

    base_s: float = 2.0
    early_cap_s: float = 60.0
    cap_s: float = 30 * 60.0
    give_up_s: float = 24 * 3600.0

    def delay(self, attempts: int, rng: random.Random, age_s: float = 0.0) -> float:
        """Full jitter: uniform(0, min(cap at `age_s`, base x 2^attempts))."""
        cap = min(self.cap_s, max(self.early_cap_s, age_s / 8.0))
        return rng.uniform(0.0, min(cap, self.base_s * 2.0 ** min(attempts, 40)))


@dataclass(frozen=True)
class _Claim:
    notification: Notification
    channel: Channel
    claim_until: datetime
    timeout_s: float


def send_timeout(channel: Channel) -> float:
    """How long one send to `channel` may take before it counts as failed."""
    if isinstance(channel.config, WebhookConfig):
        return channel.config.timeout_s
    return OTHER_SEND_TIMEOUT_S


class Delivery:
    """Sends notifications through `senders` (one per channel kind)."""

    def __init__(
        self,
        sessions: Sessions,
        senders: Mapping[ChannelKind, Sender],
        clock: Callable[[], datetime] = utcnow,
        *,
        rng: random.Random | None = None,
        retry: RetryPolicy | None = None,
        health: HealthPolicy | None = None,
        batch: int = 32,
        claim_margin_s: float = CLAIM_MARGIN_S,
        poll_s: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._senders = dict(senders)
        self._clock = clock
        self._rng = rng or random.Random()
        self._retry = retry or RetryPolicy()
        self._health = health or HealthPolicy()
        self._batch = batch
        self._margin = timedelta(seconds=claim_margin_s)
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        # Outcomes being stored: they outlive a cancelled run() (see _deliver).
        self._recording: set[asyncio.Future[None]] = set()

    def wake(self) -> None:
        """Look for due notifications now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and send until cancelled, up to `batch` sends in flight at once."""
        inflight: set[asyncio.Task[None]] = set()
        try:
            while True:
                raise_if_cancelling()
                self._wake.clear()
                free = self._batch - len(inflight)
                claims: list[_Claim] = []
                if free > 0:
                    try:
                        claims = await self._claim(self._clock(), free)
                    except Exception:
                        raise_if_cancelling()
                        log.exception("claiming notifications failed; trying again shortly")
                for claim in claims:
                    task = asyncio.create_task(self._deliver(claim))
                    task.add_done_callback(self._finished)
                    inflight.add(task)
                if claims and len(inflight) < self._batch:
                    continue  # more may be due: claim again at once
                # Until the next poll, a wake() or a send finishing (a free slot).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
                inflight = {t for t in inflight if not t.done()}
        finally:
            for task in inflight:
                task.cancel()
            await asyncio.gather(*inflight, return_exceptions=True)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery failed", exc_info=task.exception())

    async def deliver_once(self, now: datetime | None = None) -> int:
        """One pass: claim what is due at `now` (default: the clock), send it all, record the
        outcomes. Returns how many notifications were attempted."""
        claims = await self._claim(now or self._clock(), self._batch)
        await asyncio.gather(*(self._deliver(claim) for claim in claims))
        return len(claims)

    async def _claim(self, now: datetime, limit: int) -> list[_Claim]:
        stmt = (
            select(NotificationRow, ChannelRow)
            .join(ChannelRow, ChannelRow.id == NotificationRow.channel_id)
            .where(NotificationRow.status.in_(WAITING))
            .where(NotificationRow.next_attempt_time <= now)
            .where(or_(NotificationRow.claim_until.is_(None), NotificationRow.claim_until <= now))
            .where(or_(ChannelRow.paused.is_(False), NotificationRow.kind == "test"))
            .order_by(NotificationRow.next_attempt_time, NotificationRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=NotificationRow)
        )
        claims: list[_Claim] = []
        async with self._sessions.begin() as session:
            for row, channel_row in (await session.execute(stmt)).all():
                channel = channel_of(channel_row)
                timeout_s = send_timeout(channel)
                lease = timedelta(seconds=timeout_s) + self._margin
                if row.claim_until is not None:
                    # A worker claimed it and never came back (killed, or cut off from the
                    # database): its attempt goes in the log as one of unknown outcome.
                    row.attempts = (row.attempts or 0) + 1
                    session.add(
                        DeliveryAttemptRow(
                            notification_id=row.id,
                            channel_id=row.channel_id,
                            time=min(row.claim_until - lease, now),
                            ok=False,
                            error=ABANDONED,
                        )
                    )
                row.claim_until = now + lease
                claims.append(
                    _Claim(notification_of(row, channel.name), channel, row.claim_until, timeout_s)
                )
        return claims

    async def _deliver(self, claim: _Claim) -> None:
        started = self._clock()
        began = time.perf_counter()
        result = await self._send(claim)
        latency_ms = (time.perf_counter() - began) * 1000.0
        # Sent: the outcome must be stored, or the claim runs out and another worker sends it
        # again. So it is stored even when this job is cancelled now (leadership is lost when
        # PostgreSQL restarts) and is tried again while the database is away.
        task = asyncio.ensure_future(self._record_until_stored(claim, result, started, latency_ms))
        self._recording.add(task)
        task.add_done_callback(self._recorded)
        await asyncio.shield(task)

    def _recorded(self, task: asyncio.Future[None]) -> None:
        self._recording.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording a delivery's outcome failed", exc_info=task.exception())

    async def _record_until_stored(
        self, claim: _Claim, result: SendResult, started: datetime, latency_ms: float
    ) -> None:
        delay, deadline = RECORD_FIRST_S, time.monotonic() + RECORD_WITHIN_S
        while True:
            try:
                await self._record(claim, result, started, latency_ms)
                return
            except Exception as exc:
                if not database_away(exc) or time.monotonic() > deadline:
                    raise
                log.warning(
                    "cannot record the outcome of notification %s yet (the database is away); "
                    "trying again in %.1f s",
                    claim.notification.id,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_MAX_S)

    async def _send(self, claim: _Claim) -> SendResult:
        channel = claim.channel
        sender = self._senders.get(channel.kind)
        if sender is None:
            return SendResult(
                False, error=f"this server has no sender for {channel.kind.value} channels"
            )
        try:
            async with asyncio.timeout(claim.timeout_s + 1.0):
                return await sender(channel, claim.notification)
        except TimeoutError:
            return SendResult(False, error=f"no answer within {claim.timeout_s:g} s")
        except Exception as error:  # a sender's bug must not stop deliveries
            raise_if_cancelling()
            log.exception(
                "the %s sender failed on notification %s", channel.kind.value, claim.notification.id
            )
            return SendResult(
                False, error=f"the {channel.kind.value} sender failed: {error!s}"[:500]
            )

    async def _record(
        self, claim: _Claim, result: SendResult, started: datetime, latency_ms: float
    ) -> None:
        note = claim.notification
        async with self._sessions.begin() as session:
            now = max(self._clock(), started)
            session.add(
                DeliveryAttemptRow(
                    notification_id=note.id,
                    channel_id=note.channel_id,
                    time=started,
                    ok=result.ok,
                    latency_ms=latency_ms,
                    response_code=result.response_code,
                    response=result.response[:RESPONSE_START],
                    error=result.error,
                )
            )
            row = await session.get(
                NotificationRow, note.id, with_for_update=True, populate_existing=True
            )
            if row is not None:
                self._settle(row, claim, result, now)
            await record_health(session, self._health, note.channel_id, result, now)

    def _settle(
        self, row: NotificationRow, claim: _Claim, result: SendResult, now: datetime
    ) -> None:
        """The notification's new state after this attempt."""
        row.attempts = (row.attempts or 0) + 1
        if row.status not in WAITING:
            return  # settled already (another worker delivered it after our claim ran out)
        ours = row.claim_until == claim.claim_until
        if result.ok:
            row.status, row.delivered_time, row.last_error = "delivered", now, ""
            if ours:
                row.claim_until = None
            return
        if not ours:
            return  # our claim ran out and another worker holds the row: it decides
        row.claim_until = None
        row.last_error = result.error
        deadline = row.create_time + timedelta(seconds=self._retry.give_up_s)
        if result.permanent:
            row.status = "failed"
        elif now >= deadline:
            row.status = "failed"
            span = _span(self._retry.give_up_s)
            row.last_error = f"{result.error}; given up after {row.attempts} attempts over {span}"
        else:
            row.status = "retrying"
            age_s = (now - row.create_time).total_seconds()
            delay = timedelta(seconds=self._retry.delay(row.attempts, self._rng, age_s))
            row.next_attempt_time = min(now + delay, deadline)


def _span(seconds: float) -> str:
    hours = seconds / 3600.0
    return f"{hours:g} h" if hours >= 1 else f"{seconds / 60.0:g} min"
