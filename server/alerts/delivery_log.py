"""Reading the notification queue and the delivery log (ListNotifications and
ListDeliveryAttempts): AIP-160 filters, newest first, paged.

ListNotifications filters: channel_id, status (queued, retrying, delivered, failed), kind
(firing, resolved, test), alert_id (the notification is about that alert), policy_id,
group_key, create_time. ListDeliveryAttempts filters: channel_id, notification_id, ok,
response_code, time. E.g. `channel_id = "…" AND status = "retrying"`, `ok = false`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, Text, cast, select, type_coerce
from sqlalchemy.types import TypeDecorator

from server.alerts.model import (
    DeliveryAttempt,
    Notification,
    NotificationKind,
    NotificationStatus,
)
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.db.engine import Sessions
from server.db.models import ChannelRow, DeliveryAttemptRow, NotificationRow


class _IdList(TypeDecorator[str]):
    """A JSON list of ids read as text, where `= "id"` means "holds the id" (so the filter
    `alert_id = "…"` finds the notifications about that alert on both backends)."""

    impl = Text
    cache_ok = True

    class comparator_factory(Text.Comparator[str]):
        __hash__ = Text.Comparator.__hash__

        def __eq__(self, other: Any) -> ColumnElement[bool]:  # type: ignore[override]
            escaped = str(other).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return self.expr.like(f'%"{escaped}"%', escape="\\")


_ALERT_IDS = type_coerce(cast(NotificationRow.alert_ids, String), _IdList())

# As the API spells them (RETRYING or NOTIFICATION_STATUS_RETRYING; any case).
_STATUSES = {s.name: s.value for s in NotificationStatus} | {
    f"NOTIFICATION_STATUS_{s.name}": s.value for s in NotificationStatus
}
_KINDS = {k.name: k.value for k in NotificationKind} | {
    f"NOTIFICATION_KIND_{k.name}": k.value for k in NotificationKind
}
NOTIFICATIONS = Listing(
    "notifications",
    FilterSchema(
        fields={
            "channel_id": FieldSpec(NotificationRow.channel_id, FieldKind.STRING),
            "status": FieldSpec(NotificationRow.status, FieldKind.ENUM, _STATUSES),
            "kind": FieldSpec(NotificationRow.kind, FieldKind.ENUM, _KINDS),
            "alert_id": FieldSpec(_ALERT_IDS, FieldKind.STRING),
            "policy_id": FieldSpec(NotificationRow.policy_id, FieldKind.STRING),
            "group_key": FieldSpec(NotificationRow.group_key, FieldKind.STRING),
            "create_time": FieldSpec(NotificationRow.create_time, FieldKind.TIMESTAMP),
        },
        text_columns=(NotificationRow.summary,),
    ),
    OrderSchema(
        fields={"create_time": NotificationRow.create_time, "id": NotificationRow.id},
        default="create_time desc, id desc",
        tiebreaker=NotificationRow.id,
    ),
)
ATTEMPTS = Listing(
    "delivery_attempts",
    FilterSchema(
        fields={
            "channel_id": FieldSpec(DeliveryAttemptRow.channel_id, FieldKind.STRING),
            "notification_id": FieldSpec(DeliveryAttemptRow.notification_id, FieldKind.STRING),
            "ok": FieldSpec(DeliveryAttemptRow.ok, FieldKind.BOOL),
            "response_code": FieldSpec(DeliveryAttemptRow.response_code, FieldKind.INT),
            "time": FieldSpec(DeliveryAttemptRow.time, FieldKind.TIMESTAMP),
        },
        text_columns=(DeliveryAttemptRow.error, DeliveryAttemptRow.response),
    ),
    OrderSchema(
        fields={"time": DeliveryAttemptRow.time, "id": DeliveryAttemptRow.id},
        default="time desc, id desc",
        tiebreaker=DeliveryAttemptRow.id,
    ),
)


def notification_of(row: NotificationRow, channel_name: str = "") -> Notification:
    return Notification(
        id=row.id,
        channel_id=row.channel_id,
        kind=NotificationKind(row.kind),
        status=NotificationStatus(row.status),
        summary=row.summary,
        payload=dict(row.payload or {}),
        policy_id=row.policy_id or "",
        group_key=row.group_key or "",
        group_labels=dict(row.group_labels or {}),
        alert_ids=list(row.alert_ids or []),
        attempts=row.attempts or 0,
        next_attempt_time=row.next_attempt_time,
        create_time=row.create_time,
        delivered_time=row.delivered_time,
        last_error=row.last_error or "",
        channel_name=channel_name,
    )


def attempt_of(row: DeliveryAttemptRow) -> DeliveryAttempt:
    return DeliveryAttempt(
        id=row.id,
        notification_id=row.notification_id,
        channel_id=row.channel_id,
        time=row.time,
        ok=row.ok,
        latency_ms=row.latency_ms,
        response_code=row.response_code,
        response=row.response,
        error=row.error,
    )


async def list_notifications(sessions: Sessions, request: ListRequest) -> Page[Notification]:
    """A page of notifications, newest first, with their channel's name."""
    page = await NOTIFICATIONS.page(sessions, select(NotificationRow), request)
    names = await _channel_names(sessions, {r.channel_id for r in page.items})
    items = [notification_of(r, names.get(r.channel_id, "")) for r in page.items]
    return Page(items, page.next_page_token, page.total_size)


async def get_notification(sessions: Sessions, notification_id: str) -> Notification | None:
    async with sessions() as session:
        row = await session.get(NotificationRow, notification_id)
    if row is None:
        return None
    names = await _channel_names(sessions, {row.channel_id})
    return notification_of(row, names.get(row.channel_id, ""))


async def list_delivery_attempts(sessions: Sessions, request: ListRequest) -> Page[DeliveryAttempt]:
    """A page of the delivery log, newest first."""
    page = await ATTEMPTS.page(sessions, select(DeliveryAttemptRow), request)
    return Page([attempt_of(r) for r in page.items], page.next_page_token, page.total_size)


async def _channel_names(sessions: Sessions, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    async with sessions() as session:
        rows = await session.execute(
            select(ChannelRow.id, ChannelRow.name).where(ChannelRow.id.in_(ids))
        )
        return {str(cid): str(name) for cid, name in rows.all()}
