"""Node kinds: LOST nodes (since their state changed), and recording disks low on free space or
filling within a number of days at the growth measured (presence's host metrics, sampled into
the evaluator's DiskHistory)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from server.alerts.conditions.common import Evaluation, Sources, ago, alert_labels, spoken
from server.alerts.model import Finding, NodeDisk, Rule
from server.db.models import NodeRow
from server.nodes.registry import NodeState


def _matches(rule: Rule, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in rule.match_labels.items())


def node_labels(rule: Rule, node: NodeRow) -> dict[str, str]:
    """node, node_name, site (its `site` label), its labels, the rule's."""
    own = dict(node.labels or {})
    about = {"node": node.id, "node_name": node.name, "site": own.get("site", "")}
    return alert_labels(rule, own, about)


async def _nodes(sources: Sources, rule: Rule) -> list[NodeRow]:
    rows = await sources.session.scalars(select(NodeRow))
    return [n for n in rows if _matches(rule, dict(n.labels or {}))]


async def lost(sources: Sources, rule: Rule, now: datetime) -> Evaluation:
    """Nodes LOST (missed heartbeats)."""
    nodes = await _nodes(sources, rule)
    findings = []
    for node in nodes:
        if node.state != NodeState.LOST.value:
            continue
        held = ago(node.state_changed_at, now)
        reason = f" ({node.state_reason})" if node.state_reason else ""
        findings.append(
            Finding(
                labels=node_labels(rule, node),
                summary=f"node {node.name} lost for {spoken(held)}{reason}",
                value=held,
                since=node.state_changed_at,
            )
        )
    return Evaluation(findings, len(nodes))


async def sample_disks(sources: Sources, now: datetime) -> None:
    """Note every READY node's disk use in the history (once per evaluation round)."""
    if sources.presence is None:
        return
    ready = await sources.session.scalars(
        select(NodeRow.id).where(NodeRow.state == NodeState.READY.value)
    )
    ids = set(ready)
    for node_id in ids:
        live = await sources.presence.host(node_id)
        if live is not None and live.host.disk_total_bytes > 0:
            sources.disks.add(node_id, now, live.host.disk_used_bytes)
    sources.disks.forget(ids)


async def disk(sources: Sources, rule: Rule, cond: NodeDisk, now: datetime) -> Evaluation:
    """READY nodes whose disk is under min_free_percent free or full within
    min_days_until_full at its measured growth."""
    if sources.presence is None:
        return Evaluation([], 0)
    nodes = [n for n in await _nodes(sources, rule) if n.state == NodeState.READY.value]
    findings = []
    for node in nodes:
        live = await sources.presence.host(node.id)
        if live is None or live.host.disk_total_bytes <= 0:
            continue
        total, used = live.host.disk_total_bytes, live.host.disk_used_bytes
        free_bytes = max(0, total - used)
        free = 100.0 * free_bytes / total
        if cond.min_free_percent and free < cond.min_free_percent:
            findings.append(
                Finding(
                    labels=node_labels(rule, node),
                    summary=(
                        f"node {node.name}'s disk has {free:.1f}% free "
                        f"(under {cond.min_free_percent:g}%)"
                    ),
                    value=free,
                )
            )
            continue
        growth = sources.disks.growth_per_s(node.id)
        if cond.min_days_until_full and growth and growth > 0:
            days = free_bytes / growth / 86400
            if days < cond.min_days_until_full:
                findings.append(
                    Finding(
                        labels=node_labels(rule, node),
                        summary=(
                            f"node {node.name}'s disk fills in {days:.1f} days at its growth "
                            f"(under {cond.min_days_until_full:g})"
                        ),
                        value=days,
                    )
                )
    return Evaluation(findings, len(nodes))
