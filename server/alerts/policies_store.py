"""Notification policies: which alerts (matchers, severities) go to which channels, grouped by
which labels, and how often (group_wait, group_interval, repeat_interval), tried in `order`
(a matching policy with `stop` ends the search). The store checks input with sentences the API
passes on; `load_policies` is what routing and the dispatcher read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.alerts.model import DEFAULT_GROUP_BY, GROUP_BY_ALL, Policy, Severity
from server.alerts.routing import policy_from_row, route_firing
from server.alerts.silences import check_matchers, matchers_to_json
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
from server.db.models import AlertGroupRow, ChannelRow, NotificationPolicyRow
from server.db.models.base import new_id, utcnow
from server.errors import InvalidArgument, NotFound

MAX_NAME = 100
MAX_CHANNELS = 20
MAX_GROUP_BY = 16
# (min, max) seconds, as alert.proto documents them.
GROUP_WAIT_RANGE = (0.0, 3600.0)
GROUP_INTERVAL_RANGE = (1.0, 86400.0)
REPEAT_INTERVAL_RANGE = (60.0, 30 * 86400.0)
# The policy fields UpdateNotificationPolicy may change (the API's names).
UPDATABLE = (
    "name",
    "order",
    "matchers",
    "severities",
    "channel_ids",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "send_resolved",
    "stop",
)

Clock = Callable[[], datetime]


def _duration(value: float, field: str, bounds: tuple[float, float], unit: str) -> float:
    low, high = bounds
    if not low <= value <= high:  # also refuses NaN
        raise InvalidArgument.for_field(
            field, f"must be between {_human(low)} and {_human(high)} ({unit}), got {value:g} s"
        )
    return float(value)


def _human(seconds: float) -> str:
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {name}{'s' if n != 1 else ''}"
    return f"{seconds:g} s"


async def check_policy(session: AsyncSession, policy: Policy) -> Policy:
    """`policy` as stored (trimmed, defaults filled), or InvalidArgument naming the field."""
    name = clean_text(policy.name, "policy.name", max_len=MAX_NAME, required=True)
    matchers = check_matchers(policy.matchers, "policy.matchers", required=False)
    severities: list[Severity] = []
    for i, s in enumerate(policy.severities):
        try:
            sev = Severity(s)
        except ValueError:
            raise InvalidArgument.for_field(
                f"policy.severities[{i}]", f"must be info, warning or critical, got {str(s)[:40]!r}"
            ) from None
        if sev not in severities:
            severities.append(sev)
    channel_ids = list(dict.fromkeys(c.strip() for c in policy.channel_ids))
    if not channel_ids:
        raise InvalidArgument.for_field(
            "policy.channel_ids", "at least one channel is required (create one with CreateChannel)"
        )
    if len(channel_ids) > MAX_CHANNELS:
        raise InvalidArgument.for_field(
            "policy.channel_ids", f"at most {MAX_CHANNELS} channels, got {len(channel_ids)}"
        )
    known = set(await session.scalars(select(ChannelRow.id).where(ChannelRow.id.in_(channel_ids))))
    for i, cid in enumerate(channel_ids):
        if cid not in known:
            raise InvalidArgument.for_field(
                f"policy.channel_ids[{i}]", f"no channel with id {cid[:64]!r}"
            )
    group_by = list(dict.fromkeys(g.strip() for g in policy.group_by)) or list(DEFAULT_GROUP_BY)
    if GROUP_BY_ALL in group_by and len(group_by) > 1:
        raise InvalidArgument.for_field(
            "policy.group_by", f"{GROUP_BY_ALL!r} (every alert on its own) stands alone"
        )
    if len(group_by) > MAX_GROUP_BY:
        raise InvalidArgument.for_field(
            "policy.group_by", f"at most {MAX_GROUP_BY} labels, got {len(group_by)}"
        )
    for i, g in enumerate(group_by):
        if g != GROUP_BY_ALL and not LABEL_KEY_RE.fullmatch(g):
            raise InvalidArgument.for_field(
                f"policy.group_by[{i}]",
                "must be a label name of 1–63 characters of a-z, 0-9, '_', '.', '-' "  # noqa: RUF001
                f"(rule, node, camera, site...) or '...', got {g[:64]!r}",
            )
    if not -1_000_000 <= policy.order <= 1_000_000:
        raise InvalidArgument.for_field(
            "policy.order", f"must be between -1000000 and 1000000, got {policy.order}"
        )
    return Policy(
        id=policy.id,
        name=name,
        channel_ids=channel_ids,
        order=int(policy.order),
        matchers=matchers,
        severities=severities,
        group_by=group_by,
        group_wait_s=_duration(
            policy.group_wait_s, "policy.group_wait", GROUP_WAIT_RANGE, "30 s by default"
        ),
        group_interval_s=_duration(
            policy.group_interval_s,
            "policy.group_interval",
            GROUP_INTERVAL_RANGE,
            "5 min by default",
        ),
        repeat_interval_s=_duration(
            policy.repeat_interval_s,
            "policy.repeat_interval",
            REPEAT_INTERVAL_RANGE,
            "4 h by default",
        ),
        send_resolved=bool(policy.send_resolved),
        stop=bool(policy.stop),
        create_time=policy.create_time,
        update_time=policy.update_time,
    )


def _apply(row: NotificationPolicyRow, policy: Policy) -> None:
    row.name = policy.name
    row.order = policy.order
    row.matchers = matchers_to_json(policy.matchers)
    row.severities = [str(s) for s in policy.severities]
    row.channel_ids = list(policy.channel_ids)
    row.group_by = list(policy.group_by)
    row.group_wait_s = policy.group_wait_s
    row.group_interval_s = policy.group_interval_s
    row.repeat_interval_s = policy.repeat_interval_s
    row.send_resolved = policy.send_resolved
    row.stop = policy.stop


# The domain field each updatable API field sets.
_FIELD_ATTR = {
    "name": "name",
    "order": "order",
    "matchers": "matchers",
    "severities": "severities",
    "channel_ids": "channel_ids",
    "group_by": "group_by",
    "group_wait": "group_wait_s",
    "group_interval": "group_interval_s",
    "repeat_interval": "repeat_interval_s",
    "send_resolved": "send_resolved",
    "stop": "stop",
}


_LISTING = Listing(
    "notification_policies",
    FilterSchema(
        fields={
            "name": FieldSpec(NotificationPolicyRow.name, FieldKind.STRING),
            "order": FieldSpec(NotificationPolicyRow.order, FieldKind.INT),
            "stop": FieldSpec(NotificationPolicyRow.stop, FieldKind.BOOL),
            "send_resolved": FieldSpec(NotificationPolicyRow.send_resolved, FieldKind.BOOL),
        },
        text_columns=(NotificationPolicyRow.name,),
    ),
    OrderSchema(
        fields={
            "order": NotificationPolicyRow.order,
            "name": NotificationPolicyRow.name,
            "create_time": NotificationPolicyRow.create_time,
        },
        default="order, create_time",
        tiebreaker=NotificationPolicyRow.id,
    ),
)


class PolicyStore:
    """Notification policy CRUD for the API (any replica writes; the dispatcher reads)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(self, policy: Policy) -> Policy:
        """Store `policy` (its id and times are set here). Policy's defaults are the API's:
        group_by rule+node, wait 30 s, interval 5 min, repeat 4 h."""
        now = self._clock()
        async with self._sessions.begin() as session:
            checked = await check_policy(session, policy)
            row = NotificationPolicyRow(id=new_id(), create_time=now, update_time=now)
            _apply(row, checked)
            session.add(row)
            created = policy_from_row(row)
            await route_firing(session, created, now)  # what fires now is told too
            return created

    async def get(self, policy_id: str) -> Policy:
        async with self._sessions() as session:
            return policy_from_row(await _load(session, policy_id))

    async def list(self, request: ListRequest) -> Page[Policy]:
        """A page of policies, in the order they are tried (order, then oldest first)."""
        page = await _LISTING.page(self._sessions, select(NotificationPolicyRow), request)
        return Page(
            items=[policy_from_row(r) for r in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def update(self, policy_id: str, fields: set[str], changes: Policy) -> Policy:
        """Set the named `fields` (API names, of UPDATABLE) from `changes`. A change of the
        grouping starts the policy's groups afresh."""
        unknown = sorted(set(fields) - set(UPDATABLE))
        if unknown:
            raise InvalidArgument.for_field(
                "update_mask",
                f"cannot update {', '.join(unknown)}; updatable: {', '.join(UPDATABLE)}",
            )
        async with self._sessions.begin() as session:
            row = await _load(session, policy_id, for_update=True)
            current = policy_from_row(row)
            for name in fields:
                attr = _FIELD_ATTR[name]
                setattr(current, attr, getattr(changes, attr))
            checked = await check_policy(session, current)
            regroup = checked.group_by != list(row.group_by or DEFAULT_GROUP_BY)
            _apply(row, checked)
            row.update_time = self._clock()
            if regroup:  # old keys no longer name the groups' alerts
                await session.execute(
                    delete(AlertGroupRow).where(AlertGroupRow.policy_id == policy_id)
                )
            updated = policy_from_row(row)
            await route_firing(session, updated, row.update_time)
            return updated

    async def delete(self, policy_id: str) -> None:
        """Delete a policy and its aggregation groups (queued notifications still go)."""
        async with self._sessions.begin() as session:
            row = await _load(session, policy_id, for_update=True)
            await session.delete(row)
            await session.execute(delete(AlertGroupRow).where(AlertGroupRow.policy_id == policy_id))


async def _load(
    session: AsyncSession, policy_id: str, *, for_update: bool = False
) -> NotificationPolicyRow:
    query = select(NotificationPolicyRow).where(NotificationPolicyRow.id == policy_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"no notification policy with id {policy_id[:64]!r}")
    return row
