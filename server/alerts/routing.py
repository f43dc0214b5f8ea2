"""Routing: which notification policies an alert goes to, which aggregation group of each
(Alertmanager's: the policy's alerts with equal `group_by` labels), and when that group is due.

`Routing.on_change(session, alert, previous_state)` is what the evaluator calls in the
transaction of every alert state change (server/alerts/evaluate_state.py). For an alert that
starts FIRING it upserts the group of each matching policy (tried in order; a matching policy
with `stop` ends the search): a new group is due after the policy's group_wait; an existing
one keeps its due time (the dispatcher keeps a group with firing alerts due every
group_interval, so an alert joining a notified group is told at the next interval). A
resolved alert needs no mark: its group is due by then anyway, and the dispatcher tells the
resolution of what it told as firing. It also keeps AlertRow.inhibited_by current
(inhibition.py). Nothing here sends: the dispatcher (dispatcher.py) turns due groups into
notifications.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import inhibition
from server.alerts.alerts_store import alert_of
from server.alerts.evaluate_state import AlertEvents
from server.alerts.inhibition import per_transaction
from server.alerts.model import DEFAULT_GROUP_BY, GROUP_BY_ALL, Alert, AlertState, Policy, Severity
from server.alerts.silences import matchers_from_json
from server.db.models import AlertGroupRow, AlertRow, NotificationPolicyRow
from server.db.models.base import new_id, utcnow

Clock = Callable[[], datetime]


def policy_from_row(row: NotificationPolicyRow) -> Policy:
    return Policy(
        id=row.id,
        name=row.name,
        channel_ids=list(row.channel_ids),
        order=row.order,
        matchers=matchers_from_json(row.matchers),
        severities=[Severity(s) for s in row.severities],
        group_by=list(row.group_by) or list(DEFAULT_GROUP_BY),
        group_wait_s=row.group_wait_s,
        group_interval_s=row.group_interval_s,
        repeat_interval_s=row.repeat_interval_s,
        send_resolved=row.send_resolved,
        stop=row.stop,
        create_time=row.create_time,
        update_time=row.update_time,
    )


async def load_policies(session: AsyncSession) -> list[Policy]:
    """Every policy in the order routing tries them (order, then oldest first)."""
    rows = await session.scalars(
        select(NotificationPolicyRow).order_by(
            NotificationPolicyRow.order, NotificationPolicyRow.create_time, NotificationPolicyRow.id
        )
    )
    return [policy_from_row(r) for r in rows]


def route(policies: Sequence[Policy], alert: Alert) -> list[Policy]:
    """The policies `alert` goes to: every matching one in order, up to one with `stop`."""
    out: list[Policy] = []
    for policy in policies:
        if policy.matches(alert):
            out.append(policy)
            if policy.stop:
                break
    return out


def group_labels(policy: Policy, alert: Alert) -> dict[str, str]:
    """The labels naming `alert`'s group in `policy`: its values of the group_by labels
    (missing ones as ""), or all its labels for group_by ["..."] (every alert on its own)."""
    if GROUP_BY_ALL in policy.group_by:
        return dict(alert.labels)
    return {name: alert.labels.get(name, "") for name in policy.group_by}


def group_key(labels: dict[str, str]) -> str:
    """sha256 of the sorted group labels, hex (64 characters)."""
    body = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


async def mark_due(
    session: AsyncSession, policy: Policy, labels: dict[str, str], now: datetime
) -> None:
    """Upsert the group of `policy` with `labels`: new, due after group_wait; existing, its due
    time kept (or after group_wait if it had none). One statement; concurrent upserts of one
    group (two alerts of a node at once) meet on the unique (policy_id, group_key)."""
    wait_due = now + timedelta(seconds=policy.group_wait_s)
    values = {
        "id": new_id(),
        "policy_id": policy.id,
        "group_key": group_key(labels),
        "group_labels": labels,
        "due_time": wait_due,
        "notified_firing": [],
        "create_time": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AlertGroupRow).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AlertGroupRow.policy_id, AlertGroupRow.group_key],
        set_={"due_time": func.coalesce(AlertGroupRow.due_time, stmt.excluded.due_time)},
    )
    await session.execute(stmt)


_POLICIES = "alerts.routing.policies"
_MARKED = "alerts.routing.marked"


async def _policies(session: AsyncSession) -> list[Policy]:
    box: list[list[Policy]] = per_transaction(session, _POLICIES, list)
    if not box:
        box.append(await load_policies(session))
    return box[0]


def _inhibition_sentence(alert: Alert) -> str:
    what = f"alert {alert.rule_name}: {alert.summary}"
    if alert.inhibited_by:
        return f"{what} is inhibited: its node is lost (alert {alert.inhibited_by})"
    return f"{what} is no longer inhibited: its node is back"


class Routing:
    """Routing with a clock (tests move it). `on_change` is the evaluator's hook. With
    `alert_events` (the evaluator's AlertEvents), an alert whose inhibition changes is an
    ALERT_CHANGED event too, so the alert pages show it at once."""

    def __init__(self, clock: Clock = utcnow, alert_events: AlertEvents | None = None) -> None:
        self._clock = clock
        self._events = alert_events

    async def on_change(
        self, session: AsyncSession, alert: Alert, previous: AlertState | None
    ) -> None:
        """`alert` (as written in this transaction) changed from `previous` (None: new)."""
        changed = await inhibition.on_alert_change(session, alert, previous)
        if self._events is not None:
            for other in changed:
                self._events.alert_changed(session, other, _inhibition_sentence(other))
        if alert.state is not AlertState.FIRING or previous is AlertState.FIRING:
            return
        policies = route(await _policies(session), alert)
        now = self._clock()
        marked = per_transaction(session, _MARKED, set)
        for policy in policies:
            labels = group_labels(policy, alert)
            key = (policy.id, group_key(labels))
            if key not in marked:  # a burst of one group's alerts: one upsert
                marked.add(key)
                await mark_due(session, policy, labels, now)


async def route_firing(session: AsyncSession, policy: Policy, now: datetime) -> None:
    """Mark the groups of `policy` for the alerts firing now that go to it (a policy created
    or changed while alerts fire tells them too, as Alertmanager re-routes every alert)."""
    firing = [
        alert_of(r)
        for r in await session.scalars(
            select(AlertRow).where(AlertRow.state == AlertState.FIRING.value)
        )
    ]
    if not firing:
        return
    policies = await load_policies(session)
    marked: set[str] = set()
    for alert in firing:
        if not policy.matches(alert) or policy.id not in {p.id for p in route(policies, alert)}:
            continue
        labels = group_labels(policy, alert)
        key = group_key(labels)
        if key not in marked:
            marked.add(key)
            await mark_due(session, policy, labels, now)
