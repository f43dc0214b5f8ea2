"""Channels: create, list, get, update (field mask; a secret left empty is kept), delete,
resume (a channel paused for failing) and test (queue a test notification that the delivery
worker sends like any other). Secrets are write-only: the returned Channel carries the stored
secret for the senders, the API shows only whether one is set; the audit log never sees it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.channel_config import (
    channel_of,
    check_channel,
    config_to_json,
    kind_of,
)
from server.alerts.delivery_log import notification_of
from server.alerts.model import Channel, ChannelKind, Notification, NotificationKind
from server.audit.log import add_audit
from server.common.listing import (
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import require_id, resolve_update_mask
from server.db.engine import Sessions
from server.db.models import ChannelRow, NotificationPolicyRow, NotificationRow, new_id, utcnow
from server.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

# Update-mask paths (the API's spelling) -> the Channel / config field they change.
_CONFIG_FIELDS: dict[ChannelKind, dict[str, str]] = {
    ChannelKind.WEBHOOK: {"url": "url", "timeout": "timeout_s", "secret": "secret"},
    ChannelKind.EMAIL: {
        "smtp_host": "smtp_host",
        "smtp_port": "smtp_port",
        "security": "security",
        "username": "username",
        "password": "secret",
        "from": "from_addr",
        "to": "to",
        "attach_snapshot": "attach_snapshot",
    },
    ChannelKind.SMS: {
        "provider": "provider",
        "url": "url",
        "account": "account",
        "token": "secret",
        "from": "from_number",
        "to": "to",
    },
}
UPDATABLE = frozenset(
    {"name"}
    | {kind.value for kind in _CONFIG_FIELDS}
    | {f"{kind.value}.{sub}" for kind, subs in _CONFIG_FIELDS.items() for sub in subs}
)
CHANNELS = Listing(
    "alert_channels",
    FilterSchema(fields={}),
    OrderSchema(fields={"name": ChannelRow.name}, default="name asc", tiebreaker=ChannelRow.id),
)
# Waiting notifications: a paused channel's wait in these until it resumes.
WAITING = ("queued", "retrying")


def new_notification_id() -> str:
    """A notification id ("msg_" + 32 hex digits): the webhook-id of every attempt."""
    return "msg_" + uuid.uuid4().hex


def rfc3339(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


class ChannelStore:
    """Channel CRUD, resume and test; `clock` gives now (tests pass their own)."""

    def __init__(self, sessions: Sessions, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(self, channel: Channel) -> tuple[Channel, str]:
        """Store a new channel; returns it and the generated webhook secret ("" when the caller
        gave one or the channel is no webhook), which the API shows once."""
        checked = check_channel(channel, creating=True)
        generated = checked.secret if checked.secret != channel.secret else ""
        now = self._clock()
        row = ChannelRow(
            id=new_id(),
            name=checked.name,
            kind=kind_of(checked.config).value,
            config=config_to_json(checked.config),
            secret=checked.secret,
            create_time=now,
            update_time=now,
        )
        try:
            async with self._sessions.begin() as session:
                await self._ensure_name_free(session, checked.name)
                session.add(row)
                await session.flush()
                add_audit(
                    session,
                    "alert_channel.create",
                    f"alert_channels/{row.id}",
                    details={"name": row.name, "kind": row.kind},
                )
        except IntegrityError:
            raise self._taken(checked.name) from None
        return channel_of(row), generated

    async def get(self, channel_id: str) -> Channel:
        """The channel (with its secret), or NotFound."""
        require_id(channel_id)
        async with self._sessions() as session:
            row = await session.get(ChannelRow, channel_id)
        if row is None:
            raise NotFound(f"channel {channel_id} does not exist")
        return channel_of(row)

    async def list(self, request: ListRequest) -> Page[Channel]:
        """A page of channels by name."""
        page = await CHANNELS.page(self._sessions, select(ChannelRow), request)
        return Page([channel_of(r) for r in page.items], page.next_page_token, page.total_size)

    async def update(
        self, channel_id: str, changes: Channel, update_mask: Iterable[str]
    ) -> Channel:
        """Change the fields named in `update_mask` (API paths: name, webhook, webhook.url,
        email.to, sms.token..., or "*"). A secret left empty keeps the stored one; a channel's
        kind cannot change."""
        require_id(channel_id, "channel.id")
        mask = [p.strip() for p in update_mask]
        star = mask == ["*"]
        paths = (
            {"name", kind_of(changes.config).value}
            if star
            else resolve_update_mask(mask, UPDATABLE)
        )
        async with self._sessions.begin() as session:
            row = await session.get(ChannelRow, channel_id, with_for_update=True)
            if row is None:
                raise NotFound(f"channel {channel_id} does not exist")
            current = channel_of(row)
            wanted = check_channel(_apply(current, changes, paths), creating=False)
            if wanted.name != row.name:
                await self._ensure_name_free(session, wanted.name)
            row.name = wanted.name
            row.config = config_to_json(wanted.config)
            row.secret = wanted.secret
            row.update_time = self._clock()
            try:
                await session.flush()
            except IntegrityError:
                raise self._taken(wanted.name) from None
            add_audit(
                session,
                "alert_channel.update",
                f"alert_channels/{row.id}",
                details={"name": row.name, "fields": ",".join(sorted(paths))},
            )
        return channel_of(row)

    async def delete(self, channel_id: str) -> None:
        """Delete a channel no policy uses; its undelivered notifications fail ("the channel
        was deleted"), the delivered ones and the delivery log stay."""
        require_id(channel_id)
        async with self._sessions.begin() as session:
            row = await session.get(ChannelRow, channel_id, with_for_update=True)
            if row is None:
                raise NotFound(f"channel {channel_id} does not exist")
            policies = (await session.scalars(select(NotificationPolicyRow))).all()
            users = sorted(p.name or p.id for p in policies if channel_id in (p.channel_ids or []))
            if users:
                raise FailedPrecondition(
                    f"channel {row.name} is used by the notification "
                    f"{'policy' if len(users) == 1 else 'policies'} {', '.join(users)}; "
                    "remove it from them first"
                )
            await session.execute(
                update(NotificationRow)
                .where(NotificationRow.channel_id == channel_id)
                .where(NotificationRow.status.in_(WAITING))
                .values(
                    status="failed",
                    last_error="the channel was deleted before delivery",
                    claim_until=None,
                )
            )
            await session.delete(row)
            add_audit(
                session,
                "alert_channel.delete",
                f"alert_channels/{channel_id}",
                details={"name": row.name},
            )

    async def resume(self, channel_id: str) -> Channel:
        """Resume a paused channel: its waiting notifications are sent now. Resuming a channel
        that is not paused changes nothing."""
        require_id(channel_id)
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await session.get(ChannelRow, channel_id, with_for_update=True)
            if row is None:
                raise NotFound(f"channel {channel_id} does not exist")
            if row.paused:
                row.paused = False
                row.pause_reason = ""
                row.pause_time = None
                row.consecutive_failures = 0
                row.update_time = now
                await session.execute(
                    update(NotificationRow)
                    .where(NotificationRow.channel_id == channel_id)
                    .where(NotificationRow.status.in_(WAITING))
                    .values(next_attempt_time=now)
                )
                add_audit(
                    session,
                    "alert_channel.resume",
                    f"alert_channels/{channel_id}",
                    details={"name": row.name},
                )
        return channel_of(row)

    async def test(self, channel_id: str) -> Notification:
        """Queue a test notification (kind test) to the channel: the delivery worker sends it
        like any other, also while the channel is paused, so a fixed endpoint can be checked
        before resuming."""
        require_id(channel_id)
        now = self._clock()
        async with self._sessions.begin() as session:
            channel = await session.get(ChannelRow, channel_id)
            if channel is None:
                raise NotFound(f"channel {channel_id} does not exist")
            nid = new_notification_id()
            summary = f"Test notification from camfleet to channel {channel.name}"
            row = NotificationRow(
                id=nid,
                channel_id=channel_id,
                kind=NotificationKind.TEST.value,
                status="queued",
                summary=summary,
                payload=payload_of_test(nid, summary, now),
                next_attempt_time=now,
                create_time=now,
            )
            session.add(row)
            add_audit(
                session,
                "alert_channel.test",
                f"alert_channels/{channel_id}",
                details={"name": channel.name, "notification": nid},
            )
        return notification_of(row, channel.name)

    async def _ensure_name_free(self, session: AsyncSession, name: str) -> None:
        taken = await session.scalar(select(ChannelRow.id).where(ChannelRow.name == name))
        if taken is not None:
            raise self._taken(name)

    @staticmethod
    def _taken(name: str) -> AlreadyExists:
        return AlreadyExists(f"a channel named {name!r} already exists")


def payload_of_test(notification_id: str, summary: str, now: datetime) -> dict[str, object]:
    """The payload of a test notification (the documented shape, with no alerts)."""
    return {
        "version": "1",
        "id": notification_id,
        "kind": NotificationKind.TEST.value,
        "summary": summary,
        "group_labels": {},
        "policy": "",
        "created_at": rfc3339(now),
        "counts": {"firing": 0, "resolved": 0},
        "alerts": [],
    }


def _apply(current: Channel, changes: Channel, paths: set[str]) -> Channel:
    """`current` with the masked fields taken from `changes` (an empty secret keeps the stored
    one)."""
    kind = current.kind
    name = changes.name if "name" in paths else current.name
    config, secret = current.config, current.secret
    for path in sorted(paths - {"name"}):
        head, _, sub = path.partition(".")
        if head != kind.value:
            raise InvalidArgument.for_field(
                "update_mask",
                f"this is a {kind.value} channel and {path!r} belongs to a {head} channel; a "
                "channel's kind cannot change: create a new channel instead",
            )
        if kind_of(changes.config) is not kind:
            raise InvalidArgument.for_field(
                f"channel.{kind.value}", f"is required: the update_mask names {path!r}"
            )
        if not sub:
            config = changes.config
            secret = changes.secret or secret
            continue
        target = _CONFIG_FIELDS[kind][sub]
        if target == "secret":
            secret = changes.secret or secret
        else:
            config = replace(config, **{target: getattr(changes.config, target)})
    return replace(current, name=name, config=config, secret=secret)
