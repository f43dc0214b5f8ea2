"""Rule CRUD (AlertService's rule RPCs call it with domain Rules; server/alerts/convert.py maps
the wire). Every change is audited in its transaction. Deleting or disabling a rule resolves its
open alerts in the same transaction, through the evaluator's transition path (events staged,
routing told), so "its alerts end" is true when the call returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.alerts.evaluate_state import Transitions
from server.alerts.model import Kind, Rule, Severity
from server.alerts.rules import check_rule, row_values, rule_of
from server.audit.log import add_audit
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import require_id, resolve_update_mask
from server.db.models import AlertRuleRow, new_id, utcnow
from server.errors import AlreadyExists, NotFound

# Update mask paths (proto field names) -> what they change.
UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "condition",
        "severity",
        "labels",
        "match_labels",
        "for",
        "keep_firing_for",
        "cooldown",
        "enabled",
    }
)
_ATTRS = {"for": "for_s", "keep_firing_for": "keep_firing_s", "cooldown": "cooldown_s"}

_KINDS = {k.name: k.value for k in Kind} | {k.value: k.value for k in Kind}
_SEVERITIES = {s.name: s.value for s in Severity} | {
    f"ALERT_SEVERITY_{s.name}": s.value for s in Severity
}
RULES = Listing(
    "alert_rules",
    FilterSchema(
        fields={
            "name": FieldSpec(AlertRuleRow.name, FieldKind.STRING),
            "kind": FieldSpec(AlertRuleRow.kind, FieldKind.ENUM, _KINDS),
            "severity": FieldSpec(AlertRuleRow.severity, FieldKind.ENUM, _SEVERITIES),
            "enabled": FieldSpec(AlertRuleRow.enabled, FieldKind.BOOL),
        },
        text_columns=(AlertRuleRow.name, AlertRuleRow.description),
    ),
    OrderSchema(
        fields={
            "name": AlertRuleRow.name,
            "create_time": AlertRuleRow.create_time,
            "update_time": AlertRuleRow.update_time,
        },
        default="name",
        tiebreaker=AlertRuleRow.id,
    ),
)


_Rules = list[Rule]


class RulesStore:
    """Create, read, list, update (field mask) and delete alert rules."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transitions: Transitions,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._transitions = transitions
        self._clock = clock

    async def create(self, rule: Rule) -> Rule:
        """Store a new rule (its id and times are assigned here)."""
        checked = check_rule(rule)
        now = self._clock()
        row = AlertRuleRow(id=new_id(), create_time=now, update_time=now, **row_values(checked))
        try:
            async with self._sessions.begin() as session:
                await self._ensure_name_free(session, checked.name)
                session.add(row)
                add_audit(
                    session,
                    "alert_rule.create",
                    f"alert_rules/{row.id}",
                    details={"name": checked.name, "kind": checked.kind.value},
                )
        except IntegrityError:
            raise self._taken(checked.name) from None
        return rule_of(row)

    async def get(self, rule_id: str) -> Rule:
        """The rule, or NotFound."""
        require_id(rule_id)
        async with self._sessions() as session:
            row = await session.get(AlertRuleRow, rule_id)
        if row is None:
            raise NotFound(f"alert rule {rule_id} does not exist")
        return rule_of(row)

    async def list(self, request: ListRequest) -> Page[Rule]:
        """A page of rules (filter fields: name, kind, severity, enabled; order: name,
        create_time, update_time)."""
        page = await RULES.page(self._sessions, select(AlertRuleRow), request)
        return Page([rule_of(r) for r in page.items], page.next_page_token, page.total_size)

    async def enabled(self) -> _Rules:
        """Every enabled rule (the evaluator's list)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AlertRuleRow).where(AlertRuleRow.enabled).order_by(AlertRuleRow.name)
            )
            return [rule_of(r) for r in rows]

    async def update(self, rule: Rule, mask: Sequence[str]) -> Rule:
        """Change the fields `mask` names (proto names: for, keep_firing_for, cooldown...; "*"
        all); the rest stays. Disabling resolves the rule's open alerts."""
        require_id(rule.id, "rule.id")
        paths = resolve_update_mask(mask, UPDATABLE_FIELDS)
        try:
            async with self._sessions.begin() as session:
                row = await session.get(AlertRuleRow, rule.id, with_for_update=True)
                if row is None:
                    raise NotFound(f"alert rule {rule.id} does not exist")
                current = rule_of(row)
                changes = {}
                for path in paths:
                    attr = _ATTRS.get(path, path)
                    changes[attr] = getattr(rule, attr)
                merged = check_rule(dataclasses.replace(current, **changes))
                if merged.name.lower() != current.name.lower():
                    await self._ensure_name_free(session, merged.name)
                for key, value in row_values(merged).items():
                    setattr(row, key, value)
                now = self._clock()
                row.update_time = now
                add_audit(
                    session,
                    "alert_rule.update",
                    f"alert_rules/{row.id}",
                    details={"fields": ",".join(sorted(paths))},
                )
                if current.enabled and not merged.enabled:
                    await self._transitions.resolve_rule(
                        session, row.id, now, f"rule {merged.name} was disabled"
                    )
                await session.flush()
                updated = rule_of(row)
        except IntegrityError:
            raise self._taken(rule.name) from None
        return updated

    async def delete(self, rule_id: str) -> None:
        """Delete the rule; its open alerts resolve in the same transaction."""
        require_id(rule_id)
        async with self._sessions.begin() as session:
            row = await session.get(AlertRuleRow, rule_id, with_for_update=True)
            if row is None:
                raise NotFound(f"alert rule {rule_id} does not exist")
            await self._transitions.resolve_rule(
                session, rule_id, self._clock(), f"rule {row.name} was deleted"
            )
            await session.delete(row)
            add_audit(
                session, "alert_rule.delete", f"alert_rules/{rule_id}", details={"name": row.name}
            )

    async def _ensure_name_free(self, session: AsyncSession, name: str) -> None:
        taken = await session.scalar(
            select(func.count())
            .select_from(AlertRuleRow)
            .where(func.lower(AlertRuleRow.name) == name.lower())
        )
        if taken:
            raise self._taken(name)

    @staticmethod
    def _taken(name: str) -> AlreadyExists:
        return AlreadyExists(f"an alert rule named {name!r} already exists; choose another name")
