"""The history of settings changes: each change as fields before and after, shown as people read
them (durations "10s", lists comma-separated), secrets masked; and the newest-first listing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.common.listing.page_token import decode_position, encode_position, query_fingerprint
from server.db.engine import Sessions
from server.db.models import SettingsHistoryRow
from server.errors import InvalidArgument
from server.settings.model import SECRET_FIELDS, Group, GroupSettings
from server.settings.validation import api_name

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class FieldChange:
    """One field of a change, by its API name, values as text."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class SettingsChange:
    """One update of one group: the version it made, who and when, and what changed."""

    group: Group
    version: int
    actor: str
    change_time: datetime
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class HistoryPage:
    changes: list[SettingsChange]
    next_page_token: str


def shown(field: str, value: Any) -> str:
    """A value as the history shows it."""
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and field.endswith("_s"):
        return f"{value:g}s"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _secret_shown(before: str, after: str) -> tuple[str, str]:
    if not after:
        return ("(set)" if before else ""), "(cleared)"
    return ("(set)", "(changed)") if before else ("", "(set)")


def field_changes(group: Group, before: GroupSettings, after: GroupSettings) -> list[FieldChange]:
    """The fields that differ between `before` and `after`, secrets masked."""
    secrets = SECRET_FIELDS.get(group, frozenset())
    changes = []
    for f in fields(before):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old == new:
            continue
        if f.name in secrets:
            shown_before, shown_after = _secret_shown(old, new)
        else:
            shown_before, shown_after = shown(f.name, old), shown(f.name, new)
        changes.append(FieldChange(api_name(f.name), shown_before, shown_after))
    return changes


def history_row(change: SettingsChange) -> SettingsHistoryRow:
    """The row that keeps `change`."""
    return SettingsHistoryRow(
        group=change.group.value,
        version=change.version,
        actor=change.actor,
        change_time=change.change_time,
        changes=[{"field": c.field, "before": c.before, "after": c.after} for c in change.fields],
    )


def _change(row: SettingsHistoryRow) -> SettingsChange:
    return SettingsChange(
        group=Group(row.group),
        version=row.version,
        actor=row.actor,
        change_time=row.change_time,
        fields=tuple(
            FieldChange(str(c.get("field", "")), str(c.get("before", "")), str(c.get("after", "")))
            for c in row.changes
        ),
    )


def _after_id(position: Mapping[str, Any]) -> int | None:
    value = position.get("id")
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63
    return value if ok else None


async def list_history(
    sessions: Sessions, group: Group | None, page_size: int, page_token: str
) -> HistoryPage:
    """Changes newest first, of one group or all."""
    if page_size < 0:
        raise InvalidArgument.for_field("page_size", "must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    fingerprint = query_fingerprint("settings_history", group.value if group else "")
    before_id = (
        decode_position(page_token, fingerprint, _after_id, query="group") if page_token else None
    )
    query = select(SettingsHistoryRow).order_by(SettingsHistoryRow.id.desc()).limit(size + 1)
    if group is not None:
        query = query.where(SettingsHistoryRow.group == group.value)
    if before_id is not None:
        query = query.where(SettingsHistoryRow.id < before_id)
    async with sessions() as session:
        rows: Sequence[SettingsHistoryRow] = (await session.scalars(query)).all()
    more = len(rows) > size
    rows = rows[:size]
    token = encode_position({"id": rows[-1].id}, fingerprint) if more and rows else ""
    return HistoryPage([_change(r) for r in rows], token)
