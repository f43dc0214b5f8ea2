"""ListNotifications / ListDeliveryAttempts reads (server/alerts/delivery_log.py) on both
backends: every filter the API documents, newest first, paged, bad filters refused with the
field named."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.alerts.channels_store import ChannelStore
from server.alerts.delivery import Delivery
from server.alerts.delivery_log import get_notification, list_delivery_attempts, list_notifications
from server.alerts.model import (
    Channel,
    ChannelKind,
    Notification,
    NotificationStatus,
    WebhookConfig,
)
from server.alerts.senders import SendResult
from server.common.listing import ListRequest
from server.db.engine import Sessions
from server.errors import InvalidArgument
from tests.server.alerts.delivery_fixtures import Clock, fresh_database, queue_notification


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    async with fresh_database(request.param, tmp_path) as (_, made):
        yield made


async def test_filters_order_and_paging(sessions: Sessions) -> None:
    clock = Clock()
    store = ChannelStore(sessions, clock)
    hooks = [
        (
            await store.create(
                Channel(id="", name=n, config=WebhookConfig(url="http://127.0.0.1:9/"))
            )
        )[0]
        for n in ("a", "b")
    ]
    ids: list[str] = []
    for i in range(6):
        channel = hooks[i % 2]
        ids.append(
            await queue_notification(sessions, channel.id, clock.now, alert_ids=[f"al_{i}", "al%"])
        )
        clock.advance(1)
    test = await store.test(hooks[1].id)

    async def answer(channel: Channel, note: Notification) -> SendResult:
        # Channel "a" accepts, "b" refuses for good.
        if channel.name == "a":
            return SendResult(True, 200, "ok")
        return SendResult(False, 404, "no such hook", "the webhook receiver answered 404", True)

    delivery = Delivery(sessions, {ChannelKind.WEBHOOK: answer}, clock, rng=random.Random(1))
    assert await delivery.deliver_once() == 7

    async def notes(text: str, size: int = 0, token: str = "") -> list[str]:
        page = await list_notifications(sessions, ListRequest(size, token, text))
        return [n.id for n in page.items]

    everything = await notes("")
    assert everything == [test.id, *reversed(ids)]  # newest first
    assert await notes(f'channel_id = "{hooks[0].id}"') == [ids[4], ids[2], ids[0]]
    assert await notes('status = "failed"') == [test.id, ids[5], ids[3], ids[1]]
    assert await notes("status = NOTIFICATION_STATUS_DELIVERED") == [ids[4], ids[2], ids[0]]
    assert await notes("kind = TEST") == [test.id]
    assert await notes('kind = "firing" AND alert_id = "al_3"') == [ids[3]]
    # % and _ are no wildcards in an id.
    assert await notes('alert_id = "al__"') == []
    assert len(await notes('alert_id = "al%"')) == 6
    first = await list_notifications(sessions, ListRequest(page_size=4))
    assert first.total_size == 7 and first.next_page_token
    rest = await notes("", 4, first.next_page_token)
    assert [n.id for n in first.items] + rest == everything
    failed = await get_notification(sessions, ids[1])
    assert failed is not None
    assert (failed.status, failed.channel_name, failed.attempts) == (
        NotificationStatus.FAILED,
        "b",
        1,
    )
    assert failed.last_error == "the webhook receiver answered 404"

    async def attempts(text: str) -> list[tuple[str, bool, int]]:
        page = await list_delivery_attempts(sessions, ListRequest(filter=text))
        return [(a.notification_id, a.ok, a.response_code) for a in page.items]

    assert await attempts(f'notification_id = "{ids[0]}"') == [(ids[0], True, 200)]
    assert {n for n, _, _ in await attempts("ok = false")} == {test.id, ids[1], ids[3], ids[5]}
    assert {n for n, _, _ in await attempts(f'channel_id = "{hooks[0].id}" AND ok = true')} == {
        ids[0],
        ids[2],
        ids[4],
    }
    assert len(await attempts("response_code = 404")) == 4
    for bad in ('status = "lost"', "colour = 1"):
        with pytest.raises(InvalidArgument) as caught:
            await list_notifications(sessions, ListRequest(filter=bad))
        assert caught.value.violations[0].field == "filter"
    with pytest.raises(InvalidArgument, match="expects true or false"):
        await list_delivery_attempts(sessions, ListRequest(filter='ok = "maybe"'))
