"""Channels (server/alerts/channels_store.py) on both backends: create with a generated
signing secret, checks that name the field and say what to write, updates that keep a secret
left empty, a kind that cannot change, delete guarded by policies, resume and test."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from server.alerts.channels_store import ChannelStore
from server.alerts.delivery_log import list_notifications
from server.alerts.model import (
    Channel,
    EmailConfig,
    NotificationKind,
    NotificationStatus,
    SmsConfig,
    SmsProvider,
    SmtpSecurity,
    WebhookConfig,
)
from server.common.listing import ListRequest
from server.db.engine import Sessions
from server.db.models import ChannelRow, NotificationPolicyRow, NotificationRow
from server.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tests.server.alerts.delivery_fixtures import Clock, fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    async with fresh_database(request.param, tmp_path) as (_, made):
        yield made


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(sessions: Sessions, clock: Clock) -> ChannelStore:
    return ChannelStore(sessions, clock)


def webhook(
    name: str = "ops hook", url: str = "https://hooks.example.org/camfleet", **kw: object
) -> Channel:
    return Channel(id="", name=name, config=WebhookConfig(url=url, **kw))  # type: ignore[arg-type]


def email(**kw: object) -> Channel:
    config = EmailConfig(
        smtp_host="smtp.example.org",
        smtp_port=0,
        security=SmtpSecurity.STARTTLS,
        from_addr="alerts@example.org",
        to=("ops@example.org",),
    )
    return Channel(id="", name="ops mail", config=replace(config, **kw), secret="pw")  # type: ignore[arg-type]


def sms(secret: str = "token", **kw: object) -> Channel:
    config = SmsConfig(
        provider=SmsProvider.KANNEL,
        url="http://127.0.0.1:13013/cgi-bin/sendsms",
        account="tester",
        from_number="12345",
        to=("+4915112345678",),
    )
    return Channel(id="", name="ops sms", config=replace(config, **kw), secret=secret)  # type: ignore[arg-type]


def fields_of(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}


async def test_a_webhook_without_a_secret_gets_one_shown_once(store: ChannelStore) -> None:
    created, generated = await store.create(webhook())
    assert generated.startswith("whsec_")
    assert len(base64.b64decode(generated.removeprefix("whsec_"))) == 32
    assert created.secret == generated
    assert created.config == WebhookConfig(url="https://hooks.example.org/camfleet", timeout_s=10.0)
    assert (await store.get(created.id)).secret == generated
    # A given secret is kept and nothing is "generated".
    mine = "whsec_" + base64.b64encode(b"k" * 24).decode()
    other, generated = await store.create(replace(webhook("second"), secret=mine))
    assert (other.secret, generated) == (mine, "")
    page = await store.list(ListRequest(page_size=1))
    assert [c.name for c in page.items] == ["ops hook"]
    assert page.total_size == 2 and page.next_page_token
    rest = await store.list(ListRequest(page_size=1, page_token=page.next_page_token))
    assert [c.name for c in rest.items] == ["second"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://hooks.example.org/x", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("https://user:pw@hooks.example.org/x", "must not hold credentials"),
        ("https://token@hooks.example.org/x", "must not hold credentials"),
        ("https:///nohost", "names no host"),
        ("", "is required"),
    ],
)
async def test_webhook_urls_other_than_plain_http_are_refused(
    store: ChannelStore, url: str, says: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await store.create(webhook(url=url))
    assert fields_of(caught.value) == {"channel.webhook.url"}
    assert says in caught.value.violations[0].description


async def test_bad_settings_are_all_named(store: ChannelStore) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await store.create(replace(webhook(name="  ", timeout_s=120.0), secret="not-a-secret"))
    assert fields_of(caught.value) == {
        "channel.name",
        "channel.webhook.timeout",
        "channel.webhook.secret",
    }
    with pytest.raises(InvalidArgument) as caught:
        await store.create(
            email(smtp_port=70000, from_addr="nobody", to=("a@example.org", "a@example.org"))
        )
    assert fields_of(caught.value) == {
        "channel.email.smtp_port",
        "channel.email.from",
        "channel.email.to[1]",
    }
    assert "1 to 65535" in str(caught.value)
    with pytest.raises(InvalidArgument) as caught:
        await store.create(email(to=tuple(f"ops{i}@example.org" for i in range(21))))
    assert caught.value.violations[0].description == "must list 1 to 20 addresses, got 21"
    with pytest.raises(InvalidArgument) as caught:
        await store.create(email(to=("ops@example.org\r\nBcc: x@example.org",)))
    assert fields_of(caught.value) == {"channel.email.to[0]"}
    with pytest.raises(InvalidArgument) as caught:
        await store.create(sms(secret="", to=(), url="gopher://x"))
    assert fields_of(caught.value) == {"channel.sms.token", "channel.sms.to", "channel.sms.url"}
    with pytest.raises(InvalidArgument) as caught:
        await store.create(sms(to=("call me",)))
    assert "is not a valid number" in caught.value.violations[0].description


async def test_email_and_sms_defaults_and_names_are_unique(store: ChannelStore) -> None:
    mail, generated = await store.create(email())
    assert generated == ""
    assert isinstance(mail.config, EmailConfig) and mail.config.smtp_port == 587
    tls, _ = await store.create(replace(email(security=SmtpSecurity.TLS), name="tls mail"))
    assert isinstance(tls.config, EmailConfig) and tls.config.smtp_port == 465
    text, _ = await store.create(sms())
    assert text.secret == "token"
    with pytest.raises(AlreadyExists, match="ops mail"):
        await store.create(email())


async def test_an_update_keeps_a_secret_left_empty(store: ChannelStore, clock: Clock) -> None:
    created, secret = await store.create(webhook())
    clock.advance(60)
    moved = await store.update(created.id, webhook(url="http://127.0.0.1:9/new"), ["webhook.url"])
    assert isinstance(moved.config, WebhookConfig)
    assert moved.config.url == "http://127.0.0.1:9/new"
    assert moved.secret == secret
    assert moved.update_time == clock.now
    # The whole config with an empty secret: still kept.
    whole = await store.update(
        created.id, webhook(url="https://a.example.org/", timeout_s=3), ["*"]
    )
    assert (whole.name, whole.secret) == ("ops hook", secret)
    assert whole.config == WebhookConfig(url="https://a.example.org/", timeout_s=3)
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    rotated = await store.update(created.id, replace(webhook(), secret=new), ["webhook.secret"])
    assert rotated.secret == new
    assert rotated.config == whole.config
    mail, _ = await store.create(email())
    changed = await store.update(
        mail.id, replace(email(to=("b@example.org",)), secret=""), ["email.to"]
    )
    assert changed.secret == "pw"
    assert isinstance(changed.config, EmailConfig) and changed.config.to == ("b@example.org",)


async def test_bad_updates_are_refused(store: ChannelStore) -> None:
    created, _ = await store.create(webhook())
    await store.create(webhook("taken"))
    with pytest.raises(InvalidArgument, match="kind cannot change"):
        await store.update(created.id, email(), ["email.to"])
    with pytest.raises(InvalidArgument, match="update_mask"):
        await store.update(created.id, webhook(), [])
    with pytest.raises(InvalidArgument) as caught:
        await store.update(created.id, webhook(url="ftp://x"), ["webhook.url"])
    assert fields_of(caught.value) == {"channel.webhook.url"}
    with pytest.raises(AlreadyExists):
        await store.update(created.id, webhook("taken"), ["name"])
    with pytest.raises(NotFound):
        await store.update("00000000-0000-4000-8000-000000000000", webhook(), ["name"])
    with pytest.raises(InvalidArgument, match="UUID"):
        await store.get("nope")
    assert (await store.get(created.id)).name == "ops hook"


async def test_delete_is_refused_while_a_policy_uses_the_channel(
    store: ChannelStore, sessions: Sessions
) -> None:
    created, _ = await store.create(webhook())
    async with sessions.begin() as session:
        session.add(NotificationPolicyRow(name="night shift", channel_ids=[created.id]))
    with pytest.raises(FailedPrecondition, match="used by the notification policy night shift"):
        await store.delete(created.id)
    async with sessions.begin() as session:
        policy = await session.scalar(select(NotificationPolicyRow))
        assert policy is not None
        await session.delete(policy)
    waiting = await store.test(created.id)
    await store.delete(created.id)
    with pytest.raises(NotFound):
        await store.get(created.id)
    async with sessions() as session:
        row = await session.get(NotificationRow, waiting.id)
    assert row is not None
    assert (row.status, row.last_error) == ("failed", "the channel was deleted before delivery")


async def test_test_queues_a_test_notification_and_resume_sends_waiting_ones(
    store: ChannelStore, sessions: Sessions, clock: Clock
) -> None:
    created, _ = await store.create(webhook())
    queued = await store.test(created.id)
    assert queued.id.startswith("msg_") and len(queued.id) == 36
    assert (queued.kind, queued.status) == (NotificationKind.TEST, NotificationStatus.QUEUED)
    assert queued.payload["kind"] == "test" and queued.payload["id"] == queued.id
    assert queued.payload["alerts"] == [] and queued.channel_name == "ops hook"
    page = await list_notifications(sessions, ListRequest(filter='kind = "test"'))
    assert [n.id for n in page.items] == [queued.id]
    # Pause it as the delivery worker would, with a notification waiting an hour from now.
    async with sessions.begin() as session:
        row = await session.get(ChannelRow, created.id)
        assert row is not None
        row.paused, row.pause_reason, row.consecutive_failures = True, "failing", 7
        note = await session.get(NotificationRow, queued.id)
        assert note is not None
        note.status, note.next_attempt_time = "retrying", clock.advance(3600)
    clock.advance(60)
    resumed = await store.resume(created.id)
    assert (resumed.paused, resumed.pause_reason, resumed.consecutive_failures) == (False, "", 0)
    async with sessions() as session:
        again = await session.get(NotificationRow, queued.id)
    assert again is not None and again.next_attempt_time == clock.now
    with pytest.raises(NotFound):
        await store.test("00000000-0000-4000-8000-000000000000")
