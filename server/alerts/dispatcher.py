"""The dispatcher (a leader job): turns due aggregation groups into notification rows.

Every ~0.5 s it takes the groups whose due time has come (routing.py marks them), a batch at a
time, each batch in ONE fenced transaction with a fixed number of queries whatever its size
(the groups, policies, channels, rules, open node losses, active silences, the firing alerts,
the resolved ones the groups told as firing, the cooldowns), and for each group decides as
Alertmanager does:
- the alerts to tell as firing: firing, not acknowledged, not silenced, not inhibited (a lost
  node's cameras: inhibition.py), not held (their node's loss still pending), not cooling (the
  same alert of the rule resolved less than the rule's cooldown ago);
- the alerts to tell as resolved: those it told as firing that have resolved since (when the
  policy sends resolved notifications), not silenced;
- a notification goes out when something fires that was not told yet, when something told
  resolved (send_resolved), or when repeat_interval has passed since the last one and
  something still fires unacknowledged. It is one NotificationRow per channel of the policy
  (id "msg_" + uuid4 hex, the payload rendered by payload.py), inserted in the transaction
  that records what the group told (notified_firing, last_notify_time).
A group with firing alerts stays due every group_interval (what joins it is told then, an
alert whose silence ended too); one without is deleted (the next alert starts a new group
after group_wait).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.alerts.alerts_store import alert_of, label_value
from server.alerts.inhibition import NodeLosses, node_losses, store_inhibitors
from server.alerts.model import (
    Alert,
    AlertState,
    NotificationKind,
    NotificationStatus,
    Policy,
    Silence,
)
from server.alerts.payload import render, summarize
from server.alerts.routing import group_key, group_labels, load_policies, route
from server.alerts.silences import active_silences, silencing
from server.common.tasks import raise_if_cancelling
from server.db.models import AlertGroupRow, AlertRow, AlertRuleRow, ChannelRow, NotificationRow
from server.db.models.base import utcnow
from server.leader.model import Fence, NotLeader

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

INTERVAL_S = 0.5
BATCH = 200
# A camera alert held for its node's pending (or just resolved) node_lost alert is looked at
# again this soon.
HOLD_S = 1.0
_CHUNK = 500


def new_notification_id() -> str:
    return "msg_" + uuid.uuid4().hex


@dataclass
class _Picture:
    """What one batch needs to know, read with a fixed number of queries."""

    now: datetime
    policies: dict[str, Policy]
    channels: set[str]
    losses: NodeLosses
    silences: list[Silence]
    # (policy id, group key) -> firing alerts of the group
    firing: dict[tuple[str, str], list[Alert]] = field(default_factory=dict)
    resolved: dict[str, Alert] = field(default_factory=dict)
    # alert id -> when it stops cooling
    cooling: dict[str, datetime] = field(default_factory=dict)
    # alert id -> cameras it affects (a lost node's alert)
    affected: dict[str, int] = field(default_factory=dict)


class Dispatcher:
    """Due groups -> notifications; `run` is the leader job, `dispatch_once` one pass."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fence: Fence,
        clock: Clock = utcnow,
        *,
        interval_s: float = INTERVAL_S,
        batch: int = BATCH,
    ) -> None:
        self._sessions = sessions
        self._fence = fence
        self._clock = clock
        self._interval_s = interval_s
        self._batch = batch

    async def run(self) -> None:
        """Dispatch every interval until cancelled (leadership lost)."""
        while True:
            raise_if_cancelling()
            try:
                await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except NotLeader as exc:  # deposed: this job is about to be cancelled
                log.info("alert dispatch stopped: %s", exc)
            except Exception:  # a database hiccup must not end notifications for good
                raise_if_cancelling()
                log.exception("alert dispatch failed")
            await asyncio.sleep(self._interval_s)

    async def dispatch_once(self, now: datetime | None = None) -> int:
        """Handle every group due at `now` (default: the clock); how many notifications were
        queued."""
        when = now or self._clock()
        queued = 0
        while True:
            raise_if_cancelling()
            count, more = await self._dispatch_batch(when)
            queued += count
            if not more:
                return queued

    async def _dispatch_batch(self, now: datetime) -> tuple[int, bool]:
        async with self._sessions.begin() as session:
            await self._fence(session)
            groups = list(
                await session.scalars(
                    select(AlertGroupRow)
                    .where(AlertGroupRow.due_time <= now)
                    .order_by(AlertGroupRow.due_time, AlertGroupRow.id)
                    .limit(self._batch)
                    # A group an alert change is upserting now is left for the next pass (it
                    # is due then too): no waiting, no lock cycle with the evaluator.
                    .with_for_update(skip_locked=True)
                )
            )
            if not groups:
                return 0, False
            picture = await _read(session, groups, now)
            queued = 0
            for group in groups:
                queued += _flush(session, group, picture)
            return queued, len(groups) == self._batch


async def _read(session: AsyncSession, groups: list[AlertGroupRow], now: datetime) -> _Picture:
    policies = {p.id: p for p in await load_policies(session)}
    channels = set(await session.scalars(select(ChannelRow.id)))
    picture = _Picture(
        now=now,
        policies=policies,
        channels=channels,
        losses=await node_losses(session, now=now),
        silences=await active_silences(session, now),
    )
    due = {(g.policy_id, g.group_key) for g in groups}
    ordered = list(policies.values())
    query = select(AlertRow).where(AlertRow.state == AlertState.FIRING.value)
    if all(g.group_labels.get("rule") for g in groups):  # every group is one rule's
        query = query.where(AlertRow.rule_name.in_({g.group_labels["rule"] for g in groups}))
    firing = [alert_of(r) for r in await session.scalars(query)]
    for alert in firing:
        for policy in route(ordered, alert):
            key = (policy.id, group_key(group_labels(policy, alert)))
            if key in due:
                picture.firing.setdefault(key, []).append(alert)
    told = sorted({a for g in groups for a in g.notified_firing})
    for ids in _chunks(told):
        rows = await session.scalars(
            select(AlertRow).where(
                AlertRow.id.in_(ids), AlertRow.state == AlertState.RESOLVED.value
            )
        )
        picture.resolved.update((r.id, alert_of(r)) for r in rows)
    members = [a for alerts in picture.firing.values() for a in alerts]
    await _inhibit(session, members, picture)
    await _cooldowns(session, members, picture)
    return picture


async def _inhibit(session: AsyncSession, members: list[Alert], picture: _Picture) -> None:
    """Recompute inhibited_by of the groups' firing alerts (store what changed), and count the
    cameras each lost node's alert inhibits (for its summary)."""
    changes: dict[str, str] = {}
    for alert in members:
        inhibitor = picture.losses.inhibitor(alert.labels)
        if inhibitor != alert.inhibited_by:
            changes[alert.id] = inhibitor
            alert.inhibited_by = inhibitor
    if changes:
        await store_inhibitors(session, changes)
    sources = [a.id for a in members if a.id in set(picture.losses.firing.values())]
    if sources:
        rows = await session.execute(
            select(AlertRow.inhibited_by, func.count(func.distinct(label_value("camera"))))
            .where(
                AlertRow.inhibited_by.in_(sources),
                AlertRow.state != AlertState.RESOLVED.value,
            )
            .group_by(AlertRow.inhibited_by)
        )
        picture.affected = {inhibitor: int(n) for inhibitor, n in rows.all()}


async def _cooldowns(session: AsyncSession, members: list[Alert], picture: _Picture) -> None:
    """Which firing alerts cool down: the same alert (rule, fingerprint) resolved less than the
    rule's cooldown ago, before this one began."""
    rule_ids = {a.rule_id for a in members}
    if not rule_ids:
        return
    query = select(AlertRuleRow.id, AlertRuleRow.cooldown_s).where(
        AlertRuleRow.id.in_(rule_ids), AlertRuleRow.cooldown_s > 0
    )
    cooldown: dict[str, float] = {rid: float(s) for rid, s in (await session.execute(query)).all()}
    if not cooldown:
        return
    longest = timedelta(seconds=max(cooldown.values()))
    rows = await session.execute(
        select(AlertRow.rule_id, AlertRow.fingerprint, func.max(AlertRow.resolved_time))
        .where(
            AlertRow.rule_id.in_(list(cooldown)),
            AlertRow.state == AlertState.RESOLVED.value,
            AlertRow.resolved_time >= picture.now - longest,
        )
        .group_by(AlertRow.rule_id, AlertRow.fingerprint)
    )
    last_resolved = {(rid, fp): t for rid, fp, t in rows.all()}
    for alert in members:
        seconds = cooldown.get(alert.rule_id)
        before = last_resolved.get((alert.rule_id, alert.fingerprint))
        if seconds is None or before is None:
            continue
        if before.tzinfo is None:  # an aggregate over SQLite's naive column
            before = before.replace(tzinfo=picture.now.tzinfo)
        until = before + timedelta(seconds=seconds)
        if before <= alert.active_time and until > picture.now:
            picture.cooling[alert.id] = until


def _flush(session: AsyncSession, group: AlertGroupRow, picture: _Picture) -> int:
    """Decide and record one group; how many notifications were queued."""
    now = picture.now
    policy = picture.policies.get(group.policy_id)
    if policy is None:  # its policy is gone
        session.sync_session.delete(group)
        return 0
    firing = picture.firing.get((group.policy_id, group.group_key), [])
    held = [a for a in firing if picture.losses.held(a.labels)]
    tell = [
        a
        for a in firing
        if not a.acknowledged
        and not a.inhibited_by
        and a.id not in picture.cooling
        and not picture.losses.held(a.labels)
        and not silencing(picture.silences, a.labels, now)
    ]
    told = set(group.notified_firing)
    resolved = [
        picture.resolved[i]
        for i in group.notified_firing
        if i in picture.resolved
        and not silencing(picture.silences, picture.resolved[i].labels, now)
    ]
    new = [a for a in tell if a.id not in told]
    repeat_due = group.last_notify_time is not None and now >= group.last_notify_time + timedelta(
        seconds=policy.repeat_interval_s
    )
    send_resolved = policy.send_resolved and bool(resolved)
    queued = 0
    if new or send_resolved or (tell and repeat_due):
        queued = _queue(
            session,
            group,
            policy=policy,
            picture=picture,
            firing=tell,
            resolved=resolved if policy.send_resolved else [],
        )
        # What it told as firing: these, and those told before that still fire (acknowledged,
        # silenced or inhibited since: their resolution is still news).
        still = {a.id for a in firing}
        kept = [i for i in group.notified_firing if i in still]
        group.notified_firing = list(dict.fromkeys([*kept, *(a.id for a in tell)]))
        group.last_notify_time = now
    else:  # told-as-firing alerts that resolved unannounced are forgotten
        still = {a.id for a in firing}
        if any(i not in still for i in told):
            group.notified_firing = [i for i in group.notified_firing if i in still]
    if not firing:
        session.sync_session.delete(group)
        return queued
    due = now + timedelta(seconds=policy.group_interval_s)
    if tell and group.last_notify_time is not None:
        due = min(due, group.last_notify_time + timedelta(seconds=policy.repeat_interval_s))
    if held:
        due = min(due, now + timedelta(seconds=HOLD_S))
    for a in firing:
        if a.id in picture.cooling:
            due = min(due, picture.cooling[a.id])
    group.due_time = max(due, now + timedelta(milliseconds=1))
    return queued


def _queue(
    session: AsyncSession,
    group: AlertGroupRow,
    *,
    policy: Policy,
    picture: _Picture,
    firing: list[Alert],
    resolved: list[Alert],
) -> int:
    summary = summarize(firing, resolved, group.group_labels, picture.affected)
    kind = NotificationKind.FIRING if firing else NotificationKind.RESOLVED
    alert_ids = [a.id for a in firing] + [a.id for a in resolved]
    rows = []
    for channel_id in policy.channel_ids:
        if channel_id not in picture.channels:  # deleted since
            continue
        nid = new_notification_id()
        rows.append(
            NotificationRow(
                id=nid,
                channel_id=channel_id,
                kind=kind.value,
                status=NotificationStatus.QUEUED.value,
                policy_id=policy.id,
                group_key=group.group_key,
                group_labels=dict(group.group_labels),
                alert_ids=alert_ids,
                summary=summary,
                payload=render(
                    nid,
                    policy_name=policy.name,
                    group_labels=group.group_labels,
                    firing=firing,
                    resolved=resolved,
                    summary=summary,
                    now=picture.now,
                ),
                attempts=0,
                next_attempt_time=picture.now,
                create_time=picture.now,
            )
        )
    session.add_all(rows)
    return len(rows)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
