"""Settings in the database: stored from the flags on the first start, read whole, and changed
one group at a time against the version the caller read (optimistic concurrency), validated,
with a history row, an audit record and an event in the change's own transaction."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import add_audit
from server.db.engine import Sessions
from server.db.models import SettingsGroupRow, utcnow
from server.errors import Aborted, FieldViolation, InvalidArgument
from server.identity.principal import current_call
from server.settings.history import SettingsChange, field_changes, history_row
from server.settings.model import GROUP_TYPES, Group, GroupSettings, PlatformSettings
from server.settings.validation import violations

log = logging.getLogger(__name__)

# Stages a change's event in its transaction (server/settings/convert.py builds it).
OnChange = Callable[[AsyncSession, SettingsChange], None]


@dataclass(frozen=True)
class Revision:
    """Who changed a group last, when, and the version that made."""

    version: int
    update_time: datetime
    updated_by: str


def _dump(value: GroupSettings) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(value).items()}


def _coerce(default: Any, raw: Any) -> Any:
    if isinstance(default, tuple):
        return tuple(str(v) for v in raw) if isinstance(raw, list | tuple) else default
    if isinstance(default, bool) or not isinstance(raw, str | int | float):
        return default
    try:
        return type(default)(raw)
    except (TypeError, ValueError):
        return default


def _load(group: Group, values: Mapping[str, Any]) -> GroupSettings:
    """A stored group; fields added since it was stored take their defaults, unknown ones are
    dropped (a newer replica may have written them)."""
    kind = GROUP_TYPES[group]
    base = kind()
    known = {
        f.name: _coerce(getattr(base, f.name), values[f.name])
        for f in fields(kind)
        if f.name in values
    }
    return replace(base, **known)


def _settings(rows: Mapping[str, SettingsGroupRow], fallback: PlatformSettings) -> PlatformSettings:
    groups: dict[str, Any] = {}
    versions: dict[Group, int] = {}
    for group in Group:
        row = rows.get(group.value)
        if row is None:
            groups[group.value] = fallback.group(group)
        else:
            groups[group.value] = _load(group, row.values)
            versions[group] = row.version
    return PlatformSettings(**groups, versions=versions)


def stale(group: Group, current_version: int) -> Aborted:
    """The error for an update based on a version that is no longer the group's."""
    return Aborted(
        f"the {group.value} settings were changed by someone else since version you read "
        f"(now version {current_version}); read them again, reapply your change and retry",
        reason="SETTINGS_VERSION_CONFLICT",
        metadata={"group": group.value, "current_version": str(current_version)},
    )


def _lockout(group: Group, proposed: GroupSettings) -> list[FieldViolation]:
    """An allowlist that leaves out the caller's own address would lock them out of the next
    login: refuse it (they can add their address, or change it from an allowed one)."""
    allowlist: tuple[str, ...] = getattr(proposed, "login_allowlist", ())
    if group is not Group.SECURITY or not allowlist:
        return []
    try:
        address = ipaddress.ip_address(current_call().source_address)
    except ValueError:
        return []  # not a call over IP (a test or a tool): nobody to lock out
    nets = []
    for entry in allowlist:
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            return []  # reported by validation
    if any(address in net for net in nets):
        return []
    return [
        FieldViolation(
            "security.login_allowlist",
            f"does not include your own address ({address}): you could not log in again; "
            "add it, or change the list from an address it allows",
        )
    ]


class SettingsStore:
    """Reads and changes the stored settings."""

    def __init__(self, sessions: Sessions, on_change: OnChange | None = None) -> None:
        self._sessions = sessions
        self._on_change = on_change
        # What a group not (yet) stored reads as: the first start's values.
        self._first = PlatformSettings()

    async def ensure(self, first: PlatformSettings) -> None:
        """Store every group not stored yet from `first` (the flags), version 1. Afterwards the
        stored values win: flags are first-start defaults only."""
        self._first = first
        try:
            async with self._sessions.begin() as session:
                stored = set((await session.scalars(select(SettingsGroupRow.group))).all())
                for group in Group:
                    if group.value in stored:
                        continue
                    session.add(
                        SettingsGroupRow(
                            group=group.value,
                            version=1,
                            values=_dump(first.group(group)),
                            update_time=utcnow(),
                            updated_by="system",
                        )
                    )
        except IntegrityError:
            # Another replica starting at the same moment stored them first: theirs stand.
            log.info("settings were stored by another control plane starting at the same time")

    async def load(self) -> PlatformSettings:
        """Every group as stored, with its version."""
        async with self._sessions() as session:
            rows = {r.group: r for r in (await session.scalars(select(SettingsGroupRow))).all()}
        return _settings(rows, self._first)

    async def load_with_revisions(self) -> tuple[PlatformSettings, dict[Group, Revision]]:
        """Every group as stored, and each one's revision."""
        async with self._sessions() as session:
            rows = {r.group: r for r in (await session.scalars(select(SettingsGroupRow))).all()}
        revisions = {
            Group(r.group): Revision(r.version, r.update_time, r.updated_by)
            for r in rows.values()
            if r.group in {g.value for g in Group}
        }
        return _settings(rows, self._first), revisions

    async def update(
        self, group: Group, changes: Mapping[str, Any], version: int
    ) -> PlatformSettings:
        """Set `changes` (model field -> value) in `group` if its version is still `version`;
        the settings after. A change that changes nothing keeps the version."""
        if version <= 0:
            raise InvalidArgument.for_field(
                "version", "is required: the revision.version of the group as you read it"
            )
        principal = current_call().principal
        actor = principal.actor if principal else "system"
        async with self._sessions.begin() as session:
            rows = {r.group: r for r in (await session.scalars(select(SettingsGroupRow))).all()}
            current = _settings(rows, self._first)
            stored_version = current.version(group)
            if stored_version != version:
                raise stale(group, stored_version)
            before = current.group(group)
            after = replace(before, **changes)
            problems = violations(group, after, current) + _lockout(group, after)
            if problems:
                raise InvalidArgument(
                    "; ".join(f"{p.field}: {p.description}" for p in problems),
                    violations=problems,
                )
            diff = field_changes(group, before, after)
            if not diff:
                return current
            now = utcnow()
            written = await session.execute(
                update(SettingsGroupRow)
                .where(SettingsGroupRow.group == group.value, SettingsGroupRow.version == version)
                .values(version=version + 1, values=_dump(after), update_time=now, updated_by=actor)
            )
            if not getattr(written, "rowcount", 0):
                # Changed between our read and our write (PostgreSQL, read committed).
                newest = await session.scalar(
                    select(SettingsGroupRow.version).where(SettingsGroupRow.group == group.value)
                )
                raise stale(group, int(newest or 0))
            change = SettingsChange(group, version + 1, actor, now, tuple(diff))
            session.add(history_row(change))
            add_audit(
                session,
                "settings.update",
                f"settings/{group.value}",
                details={
                    "version": str(version + 1),
                    **{c.field: f"{c.before} -> {c.after}" for c in diff},
                },
            )
            if self._on_change is not None:
                self._on_change(session, change)
        return replace(
            current,
            **{group.value: after},  # type: ignore[arg-type]
            versions={**current.versions, group: version + 1},
        )
