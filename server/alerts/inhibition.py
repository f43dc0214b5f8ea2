"""Inhibition (Alertmanager's inhibit rules, one built in): while a FIRING node_lost alert exists
for a node, the alerts about that node's cameras (those with a `camera` label and that `node`
label) are inhibited: losing a node with 50 cameras tells one thing, the node, not 51.

The inhibiting alert's id is stored in AlertRow.inhibited_by (the API and the UI show it):
- routing.on_change writes it at once: a node_lost alert that fires marks its node's open
  camera alerts, one that resolves clears them, a camera alert that opens while its node is lost
  is marked (one statement each, in the alert's transaction);
- the dispatcher recomputes it for the alerts of each group it looks at (the last word before a
  notification), so a mark that raced another change is corrected before anyone is told.
A node_lost alert still PENDING holds its node's camera alerts back (not told yet, looked at
again shortly): a node whose link was cut is usually seen lost a little after its cameras go
offline, and the node is what the operator should hear about first. So does one that RESOLVED
less than RECOVERY_GRACE_S ago: a node that is back takes its cameras back over some seconds
(push cameras reconnect, pull cameras are placed again), and those still offline a moment after
the node returned are not news; those still offline after the grace are told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.alerts_store import alert_of, label_value
from server.alerts.model import Alert, AlertState, Kind
from server.db.models import AlertRow, AlertRuleRow

SOURCE_KIND = Kind.NODE_LOST.value
# After a node's loss resolves, its camera alerts wait this long before they may be told.
RECOVERY_GRACE = timedelta(seconds=30)
_LOSSES = "alerts.inhibition.losses"
T = TypeVar("T")


def per_transaction(session: AsyncSession, name: str, make: Callable[[], T]) -> T:
    """A value kept for the session's current transaction (an evaluator pass changing a
    thousand alerts reads the policies once, upserts each group once)."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(name)
    if held is None or held[0] is not transaction:
        held = (transaction, make())
        session.info[name] = held
    value: T = held[1]
    return value


def is_camera_alert(labels: dict[str, str]) -> bool:
    """Whether an alert is about a camera (only those are inhibited by their node's loss)."""
    return bool(labels.get("camera")) and bool(labels.get("node"))


@dataclass(frozen=True)
class NodeLosses:
    """The node_lost alerts open now: node id -> the FIRING alert's id (the oldest if several
    rules fire for one node), and the nodes whose node_lost alert is PENDING."""

    firing: dict[str, str]
    pending: set[str]

    def inhibitor(self, labels: dict[str, str]) -> str:
        """The id of the alert inhibiting an alert with `labels` now ("" none)."""
        if not is_camera_alert(labels):
            return ""
        return self.firing.get(labels["node"], "")

    def held(self, labels: dict[str, str]) -> bool:
        """Whether an alert with `labels` waits for its node's pending node_lost alert."""
        return is_camera_alert(labels) and labels["node"] in self.pending


async def node_losses(
    session: AsyncSession, node: str | None = None, now: datetime | None = None
) -> NodeLosses:
    """The open node_lost alerts (of every node, or of `node`): one query. With `now`, nodes
    whose loss resolved within RECOVERY_GRACE of it count as pending (their cameras wait)."""
    open_or_recent = AlertRow.state != AlertState.RESOLVED.value
    if now is not None:
        open_or_recent = or_(open_or_recent, AlertRow.resolved_time > now - RECOVERY_GRACE)
    query = (
        select(AlertRow.id, AlertRow.state, label_value("node"))
        .join(AlertRuleRow, AlertRuleRow.id == AlertRow.rule_id)
        .where(AlertRuleRow.kind == SOURCE_KIND, open_or_recent)
        .order_by(AlertRow.firing_time, AlertRow.id)
    )
    if node is not None:
        query = query.where(label_value("node") == node)
    firing: dict[str, str] = {}
    pending: set[str] = set()
    for alert_id, state, node_id in (await session.execute(query)).all():
        if not node_id:
            continue
        if state == AlertState.FIRING.value:
            firing.setdefault(node_id, alert_id)
        else:
            pending.add(node_id)
    return NodeLosses(firing, pending)


async def is_source(session: AsyncSession, alert: Alert) -> bool:
    """Whether `alert` is a node_lost alert (its rule's kind; one small query, only for
    alerts with a node label and no camera)."""
    if not alert.labels.get("node") or alert.labels.get("camera"):
        return False
    kind = await session.scalar(select(AlertRuleRow.kind).where(AlertRuleRow.id == alert.rule_id))
    return kind == SOURCE_KIND


async def mark_node(session: AsyncSession, node: str, inhibitor: str) -> list[Alert]:
    """Mark the open camera alerts of `node` as inhibited by `inhibitor` (those not already);
    the alerts changed, as they are now."""
    rows = await session.scalars(
        select(AlertRow).where(
            AlertRow.state != AlertState.RESOLVED.value,
            label_value("node") == node,
            label_value("camera") != "",
            AlertRow.inhibited_by != inhibitor,
        )
    )
    changed = [alert_of(r) for r in rows]
    for a in changed:
        a.inhibited_by = inhibitor
    await store_inhibitors(session, {a.id: inhibitor for a in changed})
    return changed


async def on_alert_change(
    session: AsyncSession, alert: Alert, previous: AlertState | None
) -> list[Alert]:
    """Keep inhibited_by right as `alert` changes (called by routing.on_change); the alerts
    whose inhibition changed (`alert` itself when it is born inhibited), as they are now."""
    node = alert.labels.get("node", "")
    if not node:
        return []
    if is_camera_alert(alert.labels):
        if previous is None:  # a new camera alert: is its node lost now?
            box: list[NodeLosses] = per_transaction(session, _LOSSES, list)
            if not box:  # read once per transaction (a burst of a node's cameras)
                box.append(await node_losses(session))
            inhibitor = box[0].inhibitor(alert.labels)
            if inhibitor:
                await _set(session, [alert.id], inhibitor)
                alert.inhibited_by = inhibitor
                return [alert]
        return []
    if not await is_source(session, alert):
        return []
    session.info.pop(_LOSSES, None)  # the node losses read in this transaction change
    if alert.state is AlertState.FIRING:
        return await mark_node(session, node, alert.id)
    if alert.state is not AlertState.RESOLVED or previous is not AlertState.FIRING:
        return []
    rows = await session.scalars(
        select(AlertRow).where(
            AlertRow.inhibited_by == alert.id, AlertRow.state != AlertState.RESOLVED.value
        )
    )
    freed = {a.id: a for a in (alert_of(r) for r in rows)}
    for a in freed.values():
        a.inhibited_by = ""
    await store_inhibitors(session, dict.fromkeys(freed, ""))
    # Another node_lost rule may still fire for the node: it inhibits them now.
    other = (await node_losses(session, node)).firing.get(node)
    if other:
        for a in await mark_node(session, node, other):
            freed[a.id] = a
    return list(freed.values())


async def _set(session: AsyncSession, alert_ids: list[str], inhibitor: str) -> None:
    await session.execute(
        update(AlertRow)
        .where(AlertRow.id.in_(alert_ids))
        .values(inhibited_by=inhibitor)
        .execution_options(synchronize_session=False)
    )


async def store_inhibitors(session: AsyncSession, changes: dict[str, str]) -> None:
    """Write inhibited_by for the alerts in `changes` (alert id -> inhibitor, "" none): one
    statement per distinct inhibitor."""
    by_inhibitor: dict[str, list[str]] = {}
    for alert_id, inhibitor in changes.items():
        by_inhibitor.setdefault(inhibitor, []).append(alert_id)
    for inhibitor, ids in by_inhibitor.items():
        for start in range(0, len(ids), 500):
            await _set(session, ids[start : start + 500], inhibitor)
