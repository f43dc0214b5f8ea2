"""The delivery worker (server/alerts/delivery.py) on both backends, against a real webhook
receiver that verifies Standard Webhooks signatures: delivered once with every attempt logged,
retried with full-jitter backoff (a seeded rng, a clock the test moves), permanent refusals
and the 24 h horizon failing the notification, a failing channel paused (its notifications
wait; ResumeChannel sends them), a receiver down for a while, a worker killed mid-send."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from server.alerts.channels_store import ChannelStore
from server.alerts.delivery import ABANDONED, CLAIM_MARGIN_S, Delivery, RetryPolicy
from server.alerts.delivery_health import HealthPolicy
from server.alerts.delivery_log import list_delivery_attempts, list_notifications
from server.alerts.model import Channel, ChannelKind, Notification, WebhookConfig
from server.alerts.senders import SendResult
from server.alerts.senders.registry import default_senders
from server.alerts.senders.webhook import send_webhook
from server.common.listing import ListRequest
from server.db.engine import Sessions
from server.db.models import ChannelRow, NotificationRow, utcnow
from tests.server.alerts.delivery_fixtures import (
    Clock,
    Receiver,
    fresh_database,
    queue_notification,
    webhook_receiver,
)

SEED = 1313


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    async with fresh_database(request.param, tmp_path) as (_, made):
        yield made


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def hook(sessions: Sessions, clock: Clock) -> AsyncIterator[tuple[Channel, Receiver]]:
    """A webhook channel (timeout 2 s) and its receiver."""
    store = ChannelStore(sessions, clock)
    channel, secret = await store.create(
        Channel(id="", name="ops", config=WebhookConfig(url="http://127.0.0.1:9/", timeout_s=2))
    )
    async with webhook_receiver(secret) as receiver:
        channel = await store.update(
            channel.id,
            Channel(id="", name="", config=WebhookConfig(url=receiver.url)),
            ["webhook.url"],
        )
        yield channel, receiver


def worker(sessions: Sessions, clock: Clock, **kw: object) -> Delivery:
    return Delivery(sessions, default_senders(), clock, rng=random.Random(SEED), **kw)  # type: ignore[arg-type]


def answering(*statuses: int) -> object:
    """A receiver answer that replies each status in turn, then 204."""
    left = list(statuses)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=left.pop(0) if left else 204, text="busy" if left else "")

    return answer


async def row_of(sessions: Sessions, nid: str) -> NotificationRow:
    async with sessions() as session:
        row = await session.get(NotificationRow, nid)
    assert row is not None
    return row


async def channel_row(sessions: Sessions, cid: str) -> ChannelRow:
    async with sessions() as session:
        row = await session.get(ChannelRow, cid)
    assert row is not None
    return row


async def test_a_notification_is_delivered_once_signed_and_logged(
    sessions: Sessions, clock: Clock, hook: tuple[Channel, Receiver]
) -> None:
    channel, receiver = hook
    nid = await queue_notification(sessions, channel.id, clock.now, alert_ids=["a1", "a2"])
    delivery = worker(sessions, clock)
    assert await delivery.deliver_once() == 1
    assert await delivery.deliver_once() == 0
    assert receiver.ids() == [nid]
    assert receiver.bad_signatures == 0
    got = receiver.received[0].payload
    assert (got["id"], got["kind"], got["summary"]) == (nid, "firing", "camera lobby offline")
    assert got["alerts"][0]["labels"] == {"camera_name": "Lobby <1>"}
    row = await row_of(sessions, nid)
    assert (row.status, row.attempts, row.delivered_time, row.claim_until) == (
        "delivered",
        1,
        clock.now,
        None,
    )
    page = await list_delivery_attempts(sessions, ListRequest(filter=f'notification_id = "{nid}"'))
    [attempt] = page.items
    assert attempt.ok and attempt.response_code == 204 and attempt.error == ""
    assert 0 < attempt.latency_ms < 2000
    assert (await channel_row(sessions, channel.id)).last_success_time == clock.now
    about = await list_notifications(sessions, ListRequest(filter='alert_id = "a2"'))
    assert [(n.id, n.channel_name) for n in about.items] == [(nid, "ops")]
    assert (await list_notifications(sessions, ListRequest(filter='alert_id = "a"'))).items == []


async def test_failures_are_retried_with_full_jitter_backoff(
    sessions: Sessions, clock: Clock, hook: tuple[Channel, Receiver]
) -> None:
    channel, receiver = hook
    receiver.answer = answering(503, 429, 408)  # type: ignore[assignment]
    nid = await queue_notification(sessions, channel.id, clock.now)
    delivery = worker(sessions, clock)
    expected = random.Random(SEED)
    for attempt in (1, 2, 3):
        assert await delivery.deliver_once() == 1
        row = await row_of(sessions, nid)
        assert (row.status, row.attempts) == ("retrying", attempt)
        delay = (row.next_attempt_time - clock.now).total_seconds()
        assert delay == pytest.approx(expected.uniform(0, 2.0 * 2**attempt), abs=1e-3)
        assert 0 <= delay <= 2.0 * 2**attempt
        # Not before its time.
        clock.advance(delay - 0.01)
        assert await delivery.deliver_once() == 0
        clock.advance(0.01)
    assert await delivery.deliver_once() == 1
    assert receiver.ids() == [nid]
    assert (await row_of(sessions, nid)).status == "delivered"
    log = await list_delivery_attempts(sessions, ListRequest(filter=f'notification_id = "{nid}"'))
    # Newest first.
    assert [(a.ok, a.response_code) for a in log.items] == [
        (True, 204),
        (False, 408),
        (False, 429),
        (False, 503),
    ]
    assert log.items[-1].error == "the webhook receiver answered 503"
    assert log.items[-1].response == "busy"
    failed = await list_delivery_attempts(sessions, ListRequest(filter="ok = false"))
    assert failed.total_size == 3
    assert (await channel_row(sessions, channel.id)).consecutive_failures == 0


def test_backoff_is_capped_at_a_minute_then_at_30_minutes_as_the_notification_ages() -> None:
    policy = RetryPolicy()
    rng = random.Random(SEED)
    young = [policy.delay(n, rng, age_s=300) for n in range(1, 200)]
    assert max(young) <= 60  # a receiver back from a short outage hears within a minute
    assert max(young[20:]) > 30  # capped, not collapsed
    hour = [policy.delay(n, rng, age_s=3600) for n in range(20, 200)]
    assert 60 < max(hour) <= 450
    old = [policy.delay(n, rng, age_s=6 * 3600) for n in range(20, 200)]
    assert 900 < max(old) <= 1800
    assert min(young + hour + old) >= 0


async def test_a_permanent_refusal_fails_at_once(
    sessions: Sessions, clock: Clock, hook: tuple[Channel, Receiver]
) -> None:
    channel, receiver = hook
    receiver.answer = answering(410)  # type: ignore[assignment]
    nid = await queue_notification(sessions, channel.id, clock.now)
    delivery = worker(sessions, clock)
    assert await delivery.deliver_once() == 1
    row = await row_of(sessions, nid)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "the webhook receiver answered 410 (not retried)"
    clock.advance(3600)
    assert await delivery.deliver_once() == 0


async def test_retries_stop_after_24_hours(
    sessions: Sessions, clock: Clock, hook: tuple[Channel, Receiver]
) -> None:
    channel, receiver = hook
    receiver.answer = answering(*[500] * 1000)  # type: ignore[assignment]
    # Far from pausing: this test is about the notification's own horizon.
    delivery = worker(sessions, clock, health=HealthPolicy(after_s=10**9))
    nid = await queue_notification(sessions, channel.id, clock.now)
    created = clock.now
    attempts = 0
    while (row := await row_of(sessions, nid)).status != "failed":
        clock.now = max(clock.now, row.next_attempt_time)
        attempts += await delivery.deliver_once()
        assert attempts < 200
    assert (clock.now - created).total_seconds() == pytest.approx(24 * 3600)
    assert row.attempts == attempts
    assert row.last_error.startswith("the webhook receiver answered 500; given up after")
    assert row.last_error.endswith("over 24 h")
    assert receiver.ids() == []


async def test_a_channel_that_keeps_failing_is_paused_and_resume_sends_what_waited(
    sessions: Sessions, clock: Clock, hook: tuple[Channel, Receiver]
) -> None:
    channel, receiver = hook
    receiver.answer = answering(*[500] * 1000)  # type: ignore[assignment]
    delivery = worker(sessions, clock)
    first = await queue_notification(sessions, channel.id, clock.now)
    started = clock.now
    while not (ch := await channel_row(sessions, channel.id)).paused:
        row = await row_of(sessions, first)
        clock.now = max(clock.now, row.next_attempt_time)
        assert await delivery.deliver_once() == 1
        assert (clock.now - started).total_seconds() < 3600
    assert (clock.now - started).total_seconds() >= 600
    assert ch.consecutive_failures >= 5
    assert ch.pause_reason.startswith("Paused after failing for ")
    assert "the last error: the webhook receiver answered 500" in ch.pause_reason
    assert ch.pause_time == clock.now
    # Its notifications wait, new ones too: nothing is claimed, nothing fails.
    second = await queue_notification(sessions, channel.id, clock.now)
    clock.advance(6 * 3600)
    assert await delivery.deliver_once() == 0
    assert {(await row_of(sessions, n)).status for n in (first, second)} == {"retrying", "queued"}
    # A test still goes (the endpoint is checked before resuming) and succeeds now.
    receiver.answer = None
    store = ChannelStore(sessions, clock)
    test = await store.test(channel.id)
    assert await delivery.deliver_once() == 1
    assert receiver.ids() == [test.id]
    assert (await channel_row(sessions, channel.id)).paused
    resumed = await store.resume(channel.id)
    assert not resumed.paused and resumed.pause_reason == ""
    assert await delivery.deliver_once() == 2
    assert sorted(receiver.ids()[1:]) == sorted([first, second])
    assert {(await row_of(sessions, n)).status for n in (first, second)} == {"delivered"}


async def test_a_receiver_down_for_a_while_gets_it_when_back(
    sessions: Sessions, clock: Clock, hook: tuple[Channel, Receiver]
) -> None:
    channel, first = hook
    secret = (await ChannelStore(sessions, clock).get(channel.id)).secret
    # A receiver that answered once, then went down: nothing listens on its port now.
    async with webhook_receiver(secret) as gone:
        url = gone.url
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    async with sessions.begin() as session:
        row = await session.get(ChannelRow, channel.id)
        assert row is not None
        row.config = {**row.config, "url": url}
    nid = await queue_notification(sessions, channel.id, clock.now)
    delivery = worker(sessions, clock)
    for _ in range(3):
        clock.now = max(clock.now, (await row_of(sessions, nid)).next_attempt_time)
        assert await delivery.deliver_once() == 1
    waiting = await row_of(sessions, nid)
    assert (waiting.status, waiting.attempts) == ("retrying", 3)
    assert waiting.last_error.startswith(f"could not connect to 127.0.0.1:{port}")
    async with webhook_receiver(secret, port=port) as back:
        clock.now = max(clock.now, waiting.next_attempt_time)
        assert await delivery.deliver_once() == 1
        assert back.ids() == [nid]
    assert first.ids() == []
    log = await list_delivery_attempts(sessions, ListRequest(filter=f'channel_id = "{channel.id}"'))
    assert [(a.ok, a.response_code) for a in log.items] == [(True, 204)] + [(False, 0)] * 3
    assert all(a.error.startswith("could not connect") for a in log.items[1:])


async def test_a_worker_killed_mid_send_is_replaced_and_the_id_stays(
    sessions: Sessions, clock: Clock, hook: tuple[Channel, Receiver]
) -> None:
    channel, receiver = hook
    sent = asyncio.Event()

    async def send_then_hang(ch: Channel, note: Notification) -> SendResult:
        await send_webhook(ch, note)  # the receiver has it ...
        sent.set()
        await asyncio.Event().wait()  # ... and the worker dies before recording it
        raise AssertionError("unreachable")

    doomed = Delivery(sessions, {ChannelKind.WEBHOOK: send_then_hang}, clock)
    nid = await queue_notification(sessions, channel.id, clock.now)
    killed = asyncio.create_task(doomed.deliver_once())
    await asyncio.wait_for(sent.wait(), 10)
    killed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await killed
    survivor = worker(sessions, clock)
    # Its claim holds for the channel's timeout (2 s) and the margin ...
    assert await survivor.deliver_once() == 0
    clock.advance(2 + CLAIM_MARGIN_S - 1)
    assert await survivor.deliver_once() == 0
    clock.advance(1)
    # ... then the row is sent again, under the same id.
    assert await survivor.deliver_once() == 1
    assert receiver.ids() == [nid, nid]
    row = await row_of(sessions, nid)
    assert (row.status, row.attempts, row.claim_until) == ("delivered", 2, None)
    # Both attempts are in the log: the lost one says what became of it.
    log = await list_delivery_attempts(sessions, ListRequest(filter=f'notification_id = "{nid}"'))
    assert [(a.ok, a.response_code) for a in log.items] == [(True, 204), (False, 0)]
    assert log.items[1].error == ABANDONED
    assert log.items[1].time <= log.items[0].time
    # An abandoned attempt says nothing about the channel's health.
    assert (await channel_row(sessions, channel.id)).consecutive_failures == 0


async def test_the_running_worker_delivers_once_the_receiver_is_back(
    sessions: Sessions, hook: tuple[Channel, Receiver]
) -> None:
    """run() on the real clock with short backoffs: a receiver that is down for 1.5 s gets the
    notification soon after it returns, and every attempt is in the log."""
    channel, _ = hook
    secret = (await ChannelStore(sessions).get(channel.id)).secret
    async with webhook_receiver(secret) as gone:
        url = gone.url
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    async with sessions.begin() as session:
        row = await session.get(ChannelRow, channel.id)
        assert row is not None
        row.config = {**row.config, "url": url}
    delivery = Delivery(
        sessions,
        default_senders(),
        retry=RetryPolicy(base_s=0.05, cap_s=0.3),
        poll_s=0.05,
    )
    nid = await queue_notification(sessions, channel.id, utcnow())
    running = asyncio.create_task(delivery.run())
    try:
        await asyncio.sleep(1.5)
        assert (await row_of(sessions, nid)).status == "retrying"
        async with webhook_receiver(secret, port=port) as back:
            await asyncio.wait_for(back.arrived.wait(), 10)
            for _ in range(100):
                if (await row_of(sessions, nid)).status == "delivered":
                    break
                await asyncio.sleep(0.05)
        assert back.ids() == [nid]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    row = await row_of(sessions, nid)
    assert row.status == "delivered"
    log = await list_delivery_attempts(sessions, ListRequest(filter=f'notification_id = "{nid}"'))
    assert log.total_size == row.attempts >= 3
    assert [a.ok for a in log.items] == [True] + [False] * (row.attempts - 1)


async def test_the_running_worker_ends_when_cancelled_at_any_moment(
    sessions: Sessions, hook: tuple[Channel, Receiver]
) -> None:
    """The leader cancels run() when it steps down: it must end, whatever it was doing."""
    channel, receiver = hook
    rng = random.Random(SEED)
    for _ in range(30):
        await queue_notification(sessions, channel.id, utcnow())
        running = asyncio.create_task(Delivery(sessions, default_senders(), poll_s=0.01).run())
        await asyncio.sleep(rng.uniform(0, 0.05))
        running.cancel()
        done, _ = await asyncio.wait({running}, timeout=5)
        assert done == {running} and running.cancelled()
    assert receiver.bad_signatures == 0
