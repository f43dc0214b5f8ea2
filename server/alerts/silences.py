"""Silences: label matchers that mute notifications between a start and an end (a maintenance
window when the start is later). The store (create, get, list by state, update, expire) checks
its input with sentences the API passes on; `active_silences` + `silencing` are what the
dispatcher and the alert reads use to tell whether an alert is muted now.

Matchers follow Alertmanager: all must match; a label the alert lacks reads as "". A silence
whose matchers match no alert now is allowed (a maintenance window set up ahead), and says so
with matched_alerts = 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.alerts.model import Matcher, Op, Silence, all_match
from server.common.labels import LABEL_KEY_RE
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import clean_text
from server.db.models import AlertRow, SilenceRow
from server.db.models.base import new_id, utcnow
from server.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound

MAX_MATCHERS = 16
MAX_MATCHER_VALUE = 200
MAX_COMMENT = 1000
MAX_AUTHOR = 200
# A silence lasts at most this long (a maintenance window of a year is already absurd).
MAX_DURATION = timedelta(days=365)
STATES = ("pending", "active", "expired")
# The silence fields UpdateSilence may change.
UPDATABLE = ("matchers", "start_time", "end_time", "comment")

Clock = Callable[[], datetime]


# --- matchers: shared with notification policies ---------------------------------------------


def check_matchers(matchers: Sequence[Matcher], field: str, *, required: bool) -> list[Matcher]:
    """`matchers` as stored, or InvalidArgument naming every bad one: 1 to 16 when `required`
    (silences), 0 to 16 otherwise (policies); names are label keys, values free text without
    control characters (camera names are labels too)."""
    if required and not matchers:
        raise InvalidArgument.for_field(
            field, "at least one matcher is required (e.g. camera = <id>, node = <id>, site = x)"
        )
    if len(matchers) > MAX_MATCHERS:
        raise InvalidArgument.for_field(
            field, f"at most {MAX_MATCHERS} matchers, got {len(matchers)}"
        )
    out: list[Matcher] = []
    violations: list[FieldViolation] = []
    for i, m in enumerate(matchers):
        name = m.name.strip()
        if not LABEL_KEY_RE.fullmatch(name):
            shown = name if len(name) <= 64 else name[:64] + "…"
            violations.append(
                FieldViolation(
                    f"{field}[{i}].name",
                    "must be a label name of 1–63 characters of a-z, 0-9, '_', '.', '-' "  # noqa: RUF001
                    f"(camera, node, site, rule, severity...), got {shown!r}",
                )
            )
            continue
        try:
            value = clean_text(m.value, f"{field}[{i}].value", max_len=MAX_MATCHER_VALUE)
        except InvalidArgument as bad:
            violations.extend(bad.violations)
            continue
        out.append(Matcher(name=name, value=value, op=Op(m.op)))
    if violations:
        raise InvalidArgument(
            "; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations
        )
    return out


def matchers_to_json(matchers: Sequence[Matcher]) -> list[dict[str, str]]:
    return [{"name": m.name, "value": m.value, "op": str(m.op)} for m in matchers]


def matchers_from_json(data: Sequence[dict[str, Any]]) -> list[Matcher]:
    return [
        Matcher(name=d["name"], value=d.get("value", ""), op=Op(d.get("op", "="))) for d in data
    ]


def describe_matchers(matchers: Sequence[Matcher]) -> str:
    """ "camera=abc, node!=n1": how sentences spell matchers."""
    return ", ".join(f"{m.name}{m.op}{m.value}" for m in matchers)


# --- reading silences ------------------------------------------------------------------------


def silence_from_row(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id,
        matchers=matchers_from_json(row.matchers),
        start_time=row.start_time,
        end_time=row.end_time,
        comment=row.comment,
        author=row.author,
        create_time=row.create_time,
    )


async def active_silences(session: AsyncSession, now: datetime) -> list[Silence]:
    """The silences muting now (one query; expired ones are skipped by the end_time index)."""
    rows = await session.scalars(
        select(SilenceRow).where(SilenceRow.end_time > now, SilenceRow.start_time <= now)
    )
    return [silence_from_row(r) for r in rows]


def silencing(silences: Sequence[Silence], labels: dict[str, str], now: datetime) -> list[str]:
    """Ids of the `silences` that mute an alert with `labels` at `now`."""
    return [s.id for s in silences if s.active(now) and all_match(s.matchers, labels)]


def _state_column(now: datetime) -> ColumnElement[str]:
    """A silence's state at `now` in SQL (for ListSilences' `state` filter)."""
    return case(
        (SilenceRow.start_time > now, "pending"),
        (SilenceRow.end_time > now, "active"),
        else_="expired",
    )


_STATE_VALUES = {s.upper(): s for s in STATES} | {f"SILENCE_STATE_{s.upper()}": s for s in STATES}


def _listing(now: datetime) -> Listing:
    return Listing(
        "silences",
        FilterSchema(
            fields={
                "state": FieldSpec(_state_column(now), FieldKind.ENUM, _STATE_VALUES),
                "author": FieldSpec(SilenceRow.author, FieldKind.STRING),
                "comment": FieldSpec(SilenceRow.comment, FieldKind.STRING),
                "start_time": FieldSpec(SilenceRow.start_time, FieldKind.TIMESTAMP),
                "end_time": FieldSpec(SilenceRow.end_time, FieldKind.TIMESTAMP),
                "create_time": FieldSpec(SilenceRow.create_time, FieldKind.TIMESTAMP),
            },
            text_columns=(SilenceRow.comment, SilenceRow.author),
        ),
        OrderSchema(
            fields={
                "start_time": SilenceRow.start_time,
                "end_time": SilenceRow.end_time,
                "create_time": SilenceRow.create_time,
            },
            default="create_time desc",
            tiebreaker=SilenceRow.id,
        ),
    )


# --- the store -------------------------------------------------------------------------------


class SilenceStore:
    """Silence CRUD for the API (server/alerts/servicer_silences.py's SilencePort). Not
    leader-only: any replica writes silences; the leader's dispatcher reads them each time it
    looks at a group."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(self, silence: Silence) -> Silence:
        """A new silence (its id, create time set here) from `start_time` (past: now) to
        `end_time` (after the start and now, at most a year after the start)."""
        now = self._clock()
        checked = check_matchers(silence.matchers, "silence.matchers", required=True)
        start = max(silence.start_time, now) if silence.start_time else now
        end = _check_window(start, silence.end_time, now)
        row = SilenceRow(
            id=new_id(),
            matchers=matchers_to_json(checked),
            start_time=start,
            end_time=end,
            comment=_comment(silence.comment),
            author=clean_text(silence.author, "silence.author", max_len=MAX_AUTHOR),
            create_time=now,
            update_time=now,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return silence_from_row(row)

    async def get(self, silence_id: str) -> Silence:
        async with self._sessions() as session:
            return silence_from_row(await _load(session, silence_id))

    async def list(self, request: ListRequest) -> Page[tuple[Silence, int]]:
        """A page of silences (newest first; filter `state = ACTIVE` etc.), each with how many
        open alerts it mutes now."""
        now = self._clock()
        page = await _listing(now).page(self._sessions, select(SilenceRow), request)
        silences = [silence_from_row(r) for r in page.items]
        async with self._sessions() as session:
            counts = await _matched_counts(session, silences, now)
        return Page(
            items=[(s, counts.get(s.id, 0)) for s in silences],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def matched(self, silence: Silence) -> int:
        """How many open alerts `silence` mutes now (0 unless active now)."""
        async with self._sessions() as session:
            counts = await _matched_counts(session, [silence], self._clock())
        return counts.get(silence.id, 0)

    async def update(self, silence_id: str, paths: set[str], silence: Silence) -> Silence:
        """Set the fields `paths` names (of UPDATABLE) from `silence`, on a silence that has not
        expired (an expired one is history: create a new one). The start of a silence that
        has started stays."""
        unknown = sorted(set(paths) - set(UPDATABLE))
        if unknown:
            raise InvalidArgument.for_field(
                "update_mask",
                f"cannot update {', '.join(unknown)}; updatable: {', '.join(UPDATABLE)}",
            )
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await _load(session, silence_id, for_update=True)
            if row.end_time <= now:
                raise FailedPrecondition(
                    f"silence {silence_id} expired at {row.end_time.isoformat()}; "
                    "create a new silence instead"
                )
            if "matchers" in paths:
                row.matchers = matchers_to_json(
                    check_matchers(silence.matchers, "silence.matchers", required=True)
                )
            start = row.start_time
            if "start_time" in paths and row.start_time > now:  # not started yet: movable
                start = max(silence.start_time, now) if silence.start_time else now
            end = silence.end_time if "end_time" in paths else row.end_time
            row.end_time = _check_window(start, end, now)
            row.start_time = start
            if "comment" in paths:
                row.comment = _comment(silence.comment)
            row.update_time = now
        return silence_from_row(row)

    async def expire(self, silence_id: str) -> Silence:
        """End a silence now (a pending one never starts); it stays listed as expired. An
        expired silence is returned as it is."""
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await _load(session, silence_id, for_update=True)
            if row.end_time > now:
                row.start_time = min(row.start_time, now)
                row.end_time = now
                row.update_time = now
        return silence_from_row(row)


def _comment(text: str) -> str:
    return clean_text(text, "silence.comment", max_len=MAX_COMMENT, multiline=True)


def _check_window(start: datetime, end: datetime | None, now: datetime) -> datetime:
    if end is None:
        raise InvalidArgument.for_field("silence.end_time", "is required")
    if start - now > MAX_DURATION:
        raise InvalidArgument.for_field(
            "silence.start_time",
            f"must be within a year from now, got {start.isoformat()}",
        )
    if end <= now:
        raise InvalidArgument.for_field(
            "silence.end_time", f"must be in the future, got {end.isoformat()}"
        )
    if end <= start:
        raise InvalidArgument.for_field(
            "silence.end_time",
            f"must be after the start ({start.isoformat()}), got {end.isoformat()}",
        )
    if end - start > MAX_DURATION:
        raise InvalidArgument.for_field(
            "silence.end_time",
            f"a silence lasts at most a year; {end.isoformat()} is "
            f"{(end - start).days} days after its start",
        )
    return end


async def _load(session: AsyncSession, silence_id: str, *, for_update: bool = False) -> SilenceRow:
    query = select(SilenceRow).where(SilenceRow.id == silence_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"no silence with id {silence_id[:64]!r}")
    return row


async def _matched_counts(
    session: AsyncSession, silences: Sequence[Silence], now: datetime
) -> dict[str, int]:
    """How many open (pending or firing) alerts each active silence mutes now (pending and
    expired silences mute none)."""
    active = [s for s in silences if s.active(now)]
    if not active:
        return {}
    labels = (
        await session.scalars(select(AlertRow.labels).where(AlertRow.state != "resolved"))
    ).all()
    return {s.id: sum(1 for lab in labels if all_match(s.matchers, lab)) for s in active}
