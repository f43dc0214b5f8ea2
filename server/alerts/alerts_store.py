"""Alert rows for the API: list with filters, get, acknowledge, un-acknowledge.

Alerts are written by the evaluator only (server/alerts/evaluate_state.py); here people read
them and acknowledge them (which stops repeat notifications until the alert resolves). Which
silences mute an alert is computed on read from the active silences (their matchers compiled
to SQL on the alert's labels, so `silenced = true` filters in the database too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, String, and_, case, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.alerts.model import Alert, AlertState, Matcher, Op, Severity, all_match
from server.audit.log import add_audit
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    ListRequest,
    OrderSchema,
    Page,
    fetch_page,
    icontains,
)
from server.common.validation import clean_text, require_id
from server.db.models import AlertRow, SilenceRow, utcnow
from server.errors import FailedPrecondition, InvalidArgument, NotFound

COMMENT_MAX = 1000


def alert_of(row: AlertRow) -> Alert:
    """The domain alert of a row (silenced_by empty: filled on read by the store)."""
    return Alert(
        id=row.id,
        rule_id=row.rule_id,
        rule_name=row.rule_name,
        fingerprint=row.fingerprint,
        state=AlertState(row.state),
        severity=Severity(row.severity),
        labels=dict(row.labels or {}),
        summary=row.summary,
        value=row.value,
        active_time=row.active_time,
        last_true_time=row.last_true_time,
        firing_time=row.firing_time,
        resolved_time=row.resolved_time,
        acknowledged_by=row.acknowledged_by,
        acknowledge_time=row.acknowledge_time,
        acknowledge_comment=row.acknowledge_comment,
        inhibited_by=row.inhibited_by,
    )


class AlertUpdates(Protocol):
    """Stages ALERT_CHANGED for an acknowledgement (evaluate_state.AlertEvents satisfies it)."""

    def alert_changed(self, session: AsyncSession, alert: Alert, message: str) -> None: ...


def label_value(name: str) -> ColumnElement[str]:
    """An alert label in SQL ("" when missing, Alertmanager's convention), both backends."""
    return func.coalesce(AlertRow.labels[name].as_string(), literal("", String))


def _labels_condition(key: str, op: str, value: str | None) -> ColumnElement[bool]:
    """`labels.<key>` in a filter: presence (`:*`), =, != or : (contains)."""
    if value is None:
        present: ColumnElement[bool] = AlertRow.labels[key].as_string().is_not(None)
        return present
    if op == "=":
        return label_value(key) == value
    if op == "!=":
        return label_value(key) != value
    if op == ":":
        return icontains(label_value(key), value)
    raise InvalidArgument.for_field("filter", f"labels.{key} supports =, != and : only")


def _matcher_sql(m: Matcher) -> ColumnElement[bool]:
    equal = label_value(m.name) == m.value
    return equal if m.op is Op.EQUAL else ~equal


def matchers_of(stored: list[dict[str, str]]) -> list[Matcher]:
    """A silence row's matchers."""
    return [Matcher(m["name"], m.get("value", ""), Op(m.get("op", "="))) for m in stored]


_STATES = {s.name: s.value for s in AlertState} | {
    f"ALERT_STATE_{s.name}": s.value for s in AlertState
}
_SEVERITIES = {s.name: s.value for s in Severity} | {
    f"ALERT_SEVERITY_{s.name}": s.value for s in Severity
}
_SEVERITY_RANK = case({"info": 1, "warning": 2, "critical": 3}, value=AlertRow.severity, else_=0)
ORDER = OrderSchema(
    fields={
        "active_time": AlertRow.active_time,
        "firing_time": AlertRow.firing_time,
        "resolved_time": AlertRow.resolved_time,
        "severity": _SEVERITY_RANK,
    },
    default="active_time desc",
    tiebreaker=AlertRow.id,
)


def _schema(silenced: ColumnElement[bool]) -> FilterSchema:
    return FilterSchema(
        fields={
            "state": FieldSpec(AlertRow.state, FieldKind.ENUM, _STATES),
            "severity": FieldSpec(AlertRow.severity, FieldKind.ENUM, _SEVERITIES),
            "rule_id": FieldSpec(AlertRow.rule_id, FieldKind.STRING),
            "rule_name": FieldSpec(AlertRow.rule_name, FieldKind.STRING),
            "fingerprint": FieldSpec(AlertRow.fingerprint, FieldKind.STRING),
            "acknowledged": FieldSpec(AlertRow.acknowledged_by != "", FieldKind.BOOL),
            "inhibited": FieldSpec(AlertRow.inhibited_by != "", FieldKind.BOOL),
            "silenced": FieldSpec(silenced, FieldKind.BOOL),
            "active_time": FieldSpec(AlertRow.active_time, FieldKind.TIMESTAMP),
            "firing_time": FieldSpec(AlertRow.firing_time, FieldKind.TIMESTAMP),
            "resolved_time": FieldSpec(AlertRow.resolved_time, FieldKind.TIMESTAMP),
        },
        text_columns=(AlertRow.summary, AlertRow.rule_name),
        map_fields={"labels": _labels_condition},
    )


_Silences = list[tuple[str, list[Matcher]]]


class AlertsStore:
    """Reads and acknowledgements of alerts."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        updates: AlertUpdates | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._updates = updates
        self._clock = clock

    async def _silences(self, session: AsyncSession) -> _Silences:
        now = self._clock()
        rows = await session.execute(
            select(SilenceRow.id, SilenceRow.matchers).where(
                SilenceRow.start_time <= now, SilenceRow.end_time > now
            )
        )
        return [(sid, matchers_of(list(m or []))) for sid, m in rows]

    async def list(self, request: ListRequest) -> Page[Alert]:
        """A page of alerts. Filter fields: state, severity, rule_id, rule_name, fingerprint,
        acknowledged, inhibited, silenced, active_time, firing_time, resolved_time and
        labels.<name>; order_by: active_time (default, newest first), firing_time,
        resolved_time, severity."""
        async with self._sessions() as session:
            silences = await self._silences(session)
            silenced: ColumnElement[bool] = (
                or_(*(and_(*(_matcher_sql(m) for m in ms)) for _, ms in silences if ms))
                if any(ms for _, ms in silences)
                else false()
            )
            page = await fetch_page(
                session,
                select(AlertRow),
                page_size=request.page_size,
                page_token=request.page_token,
                filter_text=request.filter,
                order_by=request.order_by or "active_time desc",
                filter_schema=_schema(silenced),
                order_schema=ORDER,
                fingerprint_parts=("alerts",),
                search=request.search,
            )
        alerts = [self._with_silences(alert_of(r), silences) for r in page.items]
        return Page(alerts, page.next_page_token, page.total_size)

    @staticmethod
    def _with_silences(alert: Alert, silences: _Silences) -> Alert:
        if alert.state is not AlertState.RESOLVED:
            alert.silenced_by = [sid for sid, ms in silences if ms and all_match(ms, alert.labels)]
        return alert

    async def get(self, alert_id: str) -> Alert:
        """The alert, or NotFound."""
        require_id(alert_id)
        async with self._sessions() as session:
            row = await session.get(AlertRow, alert_id)
            if row is None:
                raise NotFound(f"alert {alert_id} does not exist")
            return self._with_silences(alert_of(row), await self._silences(session))

    async def acknowledge(self, alert_id: str, who: str, comment: str = "") -> Alert:
        """Mark an open alert acknowledged by `who` (stops its repeats until it resolves).
        Acknowledging again updates the comment; a resolved alert is FailedPrecondition."""
        require_id(alert_id)
        text = clean_text(comment, "comment", max_len=COMMENT_MAX, multiline=True)
        return await self._set_ack(alert_id, who or "unknown", text)

    async def unacknowledge(self, alert_id: str) -> Alert:
        """Take an acknowledgement back (repeats resume); a resolved alert is
        FailedPrecondition."""
        require_id(alert_id)
        return await self._set_ack(alert_id, "", "")

    async def _set_ack(self, alert_id: str, who: str, comment: str) -> Alert:
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                raise NotFound(f"alert {alert_id} does not exist")
            verb = "acknowledge" if who else "unacknowledge"
            if row.state == AlertState.RESOLVED.value:
                raise FailedPrecondition(
                    f"alert {alert_id} is resolved; there is nothing left to {verb}"
                )
            values: dict[str, Any] = {
                "acknowledged_by": who,
                "acknowledge_time": now if who else None,
                "acknowledge_comment": comment,
                "update_time": now,
            }
            for key, value in values.items():
                setattr(row, key, value)
            add_audit(
                session,
                f"alert.{verb}",
                f"alerts/{alert_id}",
                details={"rule": row.rule_name} | ({"comment": comment} if comment else {}),
            )
            alert = alert_of(row)
            if self._updates is not None:
                what = f"acknowledged by {who}" if who else "no longer acknowledged"
                self._updates.alert_changed(
                    session, alert, f"alert {alert.rule_name}: {alert.summary} is {what}"
                )
            silences = await self._silences(session)
        return self._with_silences(alert, silences)
