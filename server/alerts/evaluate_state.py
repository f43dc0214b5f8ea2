"""The one path every alert state change takes: write the row, stage ALERT_CHANGED, tell routing.

Each change happens in the caller's transaction (the evaluator's fenced one, or a rule delete/
disable), so the row, its event and the marks routing makes on its groups commit together. An
update names the state it expects (`WHERE state = :previous`): a change that raced another one
(a rule deleted while the evaluator moved its alert) writes nothing and is retried on the next
evaluation from what is stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.alerts_store import alert_of
from server.alerts.model import Alert, AlertState, Rule
from server.db.models import AlertRow, new_id


class AlertEvents(Protocol):
    """Stages the ALERT_CHANGED event of an alert change in its transaction (the event
    publisher implements it, like server/recordings/ingest.py's RecordingEvents)."""

    def alert_changed(self, session: AsyncSession, alert: Alert, message: str) -> None:
        """`alert` (as it is now) changed state; `message` says how, in a sentence."""
        ...


# routing.on_change(session, alert, previous_state): marks the alert's groups due (B).
OnChange = Callable[[AsyncSession, Alert, AlertState | None], Awaitable[None]]


async def no_routing(session: AsyncSession, alert: Alert, previous: AlertState | None) -> None:
    """An on_change that routes nothing (tests of evaluation alone)."""


def fingerprint(rule_id: str, labels: Mapping[str, str]) -> str:
    """sha256 of the rule id and the sorted labels, hex, first 32 characters."""
    body = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{rule_id}\n{body}".encode()).hexdigest()[:32]


def _sentence(alert: Alert, previous: AlertState | None, why: str = "") -> str:
    what = f"alert {alert.rule_name}: {alert.summary}"
    if alert.state is AlertState.RESOLVED:
        return f"{what} is resolved" + (f" ({why})" if why else "")
    if alert.state is AlertState.FIRING:
        return f"{what} is firing" + (" (was pending)" if previous is AlertState.PENDING else "")
    return f"{what} is pending"


@dataclass(frozen=True)
class Move:
    """One state change of an alert as read: to `state`, with the finding's new summary and
    value (None: kept) and when its condition last held (None: kept)."""

    alert: Alert
    state: AlertState
    summary: str | None = None
    value: float | None = None
    last_true: datetime | None = None
    why: str = ""

    def target(self, now: datetime) -> Alert:
        """The alert as it will be."""
        a = self.alert
        return replace(
            a,
            state=self.state,
            firing_time=now if self.state is AlertState.FIRING else a.firing_time,
            resolved_time=now if self.state is AlertState.RESOLVED else a.resolved_time,
            summary=a.summary if self.summary is None else self.summary,
            value=a.value if self.value is None else self.value,
            last_true_time=self.last_true or a.last_true_time,
            labels=dict(a.labels),
            silenced_by=list(a.silenced_by),
        )


_ALERTS: Table = AlertRow.__table__  # type: ignore[assignment]
# Core (not ORM) UPDATE, so a list of parameters runs as one executemany.
_MOVE = (
    update(_ALERTS)
    .where(_ALERTS.c.id == bindparam("b_id"), _ALERTS.c.state == bindparam("b_prev"))
    .values(
        state=bindparam("b_state"),
        firing_time=bindparam("b_firing"),
        resolved_time=bindparam("b_resolved"),
        summary=bindparam("b_summary"),
        value=bindparam("b_value"),
        last_true_time=bindparam("b_last"),
        update_time=bindparam("b_now"),
    )
)


async def _landed(session: AsyncSession, ids: list[str], now: datetime) -> dict[str, AlertState]:
    """Which of `ids` this round's UPDATE changed (updated at `now`): id -> state now."""
    out: dict[str, AlertState] = {}
    for i in range(0, len(ids), 500):
        rows = await session.execute(
            select(AlertRow.id, AlertRow.state).where(
                AlertRow.id.in_(ids[i : i + 500]), AlertRow.update_time == now
            )
        )
        out |= {alert_id: AlertState(state) for alert_id, state in rows}
    return out


class Transitions:
    """Alert state changes: new (pending or firing), firing, resolved."""

    def __init__(self, alert_events: AlertEvents, on_change: OnChange = no_routing) -> None:
        self._events = alert_events
        self._on_change = on_change

    async def _told(
        self, session: AsyncSession, alert: Alert, previous: AlertState | None, why: str = ""
    ) -> Alert:
        self._events.alert_changed(session, alert, _sentence(alert, previous, why))
        await self._on_change(session, alert, previous)
        return alert

    async def open(
        self,
        session: AsyncSession,
        rule: Rule,
        *,
        labels: dict[str, str],
        summary: str,
        value: float,
        active: datetime,
        now: datetime,
        firing: bool,
    ) -> Alert:
        """A new alert of `rule` (PENDING, or FIRING when it has held for the pending period)."""
        values: dict[str, Any] = {
            "id": new_id(),
            "rule_id": rule.id,
            "rule_name": rule.name,
            "fingerprint": fingerprint(rule.id, labels),
            "state": (AlertState.FIRING if firing else AlertState.PENDING).value,
            "severity": rule.severity.value,
            "labels": labels,
            "summary": summary,
            "value": value,
            "active_time": active,
            "firing_time": now if firing else None,
            "resolved_time": None,
            "last_true_time": now,
            "acknowledged_by": "",
            "acknowledge_time": None,
            "acknowledge_comment": "",
            "inhibited_by": "",
            "update_time": now,
        }
        row = AlertRow(**values)
        # Not flushed here: the round's new rows go in one batched INSERT (a query routing
        # makes in this session autoflushes them first).
        session.add(row)
        return await self._told(session, alert_of(row), None)

    async def move(
        self,
        session: AsyncSession,
        alert: Alert,
        state: AlertState,
        now: datetime,
        *,
        summary: str | None = None,
        value: float | None = None,
        last_true: datetime | None = None,
        why: str = "",
    ) -> Alert | None:
        """`alert` (as read) to `state`; None when it changed meanwhile (nothing written)."""
        move = Move(alert, state, summary, value, last_true, why)
        moved = await self.move_many(session, [move], now)
        return moved[0] if moved else None

    async def move_many(
        self, session: AsyncSession, moves: list[Move], now: datetime
    ) -> list[Alert]:
        """Apply `moves` in one batched UPDATE (each guarded by the state it was read in);
        returns the alerts moved, each told (event, routing). A move that raced another
        change writes nothing and is left out."""
        if not moves:
            return []
        targets = [m.target(now) for m in moves]
        params = [
            {
                "b_id": t.id,
                "b_prev": m.alert.state.value,
                "b_state": t.state.value,
                "b_firing": t.firing_time,
                "b_resolved": t.resolved_time,
                "b_summary": t.summary,
                "b_value": t.value,
                "b_last": t.last_true_time,
                "b_now": now,
            }
            for m, t in zip(moves, targets, strict=True)
        ]
        result = await session.execute(_MOVE, params)
        count = result.rowcount  # type: ignore[attr-defined]
        if not (session.get_bind().dialect.supports_sane_multi_rowcount and count == len(moves)):
            landed = await _landed(session, [t.id for t in targets], now)
            pairs = [
                (m, t) for m, t in zip(moves, targets, strict=True) if landed.get(t.id) is t.state
            ]
        else:
            pairs = list(zip(moves, targets, strict=True))
        return [await self._told(session, t, m.alert.state, m.why) for m, t in pairs]

    async def touch(self, session: AsyncSession, alert: Alert, last_true: datetime) -> None:
        """Remember when an alert's condition last held (keep firing for counts from it); no
        state change, nothing told."""
        await session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert.id, AlertRow.state == alert.state.value)
            .values(last_true_time=last_true)
            .execution_options(synchronize_session=False)
        )

    async def resolve_rule(
        self, session: AsyncSession, rule_id: str, now: datetime, why: str
    ) -> int:
        """Resolve every open alert of a rule (deleted, disabled); how many were."""
        rows = await session.scalars(
            select(AlertRow).where(
                AlertRow.rule_id == rule_id, AlertRow.state != AlertState.RESOLVED.value
            )
        )
        moves = [Move(alert_of(r), AlertState.RESOLVED, why=why) for r in rows]
        return len(await self.move_many(session, moves, now))
