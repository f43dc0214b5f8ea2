"""Two control-plane replicas' delivery workers on one PostgreSQL database, each with its own
engine (as separate processes have), racing over 200 notifications to a real webhook receiver:
every notification arrives exactly once (by webhook-id) and has exactly one attempt logged."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from server.alerts.channels_store import ChannelStore
from server.alerts.delivery import Delivery
from server.alerts.model import Channel, ChannelKind, Notification, WebhookConfig
from server.alerts.senders import Sender, SendResult
from server.alerts.senders.registry import default_senders
from server.db.engine import Sessions, create_engine, session_factory
from server.db.models import DeliveryAttemptRow, NotificationRow, utcnow
from tests.server.alerts.delivery_fixtures import (
    fresh_database,
    queue_notification,
    webhook_receiver,
)

COUNT = 200


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[str, Sessions]]:
    async with fresh_database("postgres", tmp_path) as made:
        yield made


async def test_two_replicas_deliver_each_notification_exactly_once(
    database: tuple[str, Sessions],
) -> None:
    url, sessions = database
    channel, secret = await ChannelStore(sessions).create(
        Channel(id="", name="race", config=WebhookConfig(url="http://127.0.0.1:9/"))
    )
    async with webhook_receiver(secret) as receiver:

        async def slowly(request: web.Request) -> web.Response:
            await asyncio.sleep(0.005)  # so both workers have sends in flight at once
            return web.Response(status=204)

        receiver.answer = slowly
        await ChannelStore(sessions).update(
            channel.id,
            Channel(id="", name="", config=WebhookConfig(url=receiver.url)),
            ["webhook.url"],
        )
        ids = [await queue_notification(sessions, channel.id, utcnow()) for _ in range(COUNT)]
        engines = [create_engine(url, pool_size=4) for _ in range(2)]
        sent: list[Counter[str]] = [Counter(), Counter()]
        workers = [
            Delivery(session_factory(e), _counting(sent[i]), batch=16, poll_s=0.05)
            for i, e in enumerate(engines)
        ]
        began = time.perf_counter()
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            for _ in range(1200):  # 120 s
                if not await _undelivered(sessions):
                    break
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - began
            await asyncio.sleep(0.5)  # a duplicate would arrive now
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for engine in engines:
                await engine.dispose()
        seen = Counter(receiver.ids())
        assert sorted(seen) == sorted(ids)
        assert set(seen.values()) == {1}, [i for i, n in seen.items() if n > 1]
        assert receiver.bad_signatures == 0
        async with sessions() as session:
            attempts = await session.scalar(select(func.count()).select_from(DeliveryAttemptRow))
        assert attempts == COUNT
        # Both replicas took part in the race.
        assert sum(sent[0].values()) + sum(sent[1].values()) == COUNT
        assert sum(sent[0].values()) > 0 and sum(sent[1].values()) > 0, sent
        print(
            f"{COUNT} notifications delivered by two replicas in {elapsed:.2f} s "
            f"({sum(sent[0].values())} + {sum(sent[1].values())})"
        )


async def _undelivered(sessions: Sessions) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.status != "delivered")
        )
    return int(count or 0)


def _counting(sent: Counter[str]) -> dict[ChannelKind, Sender]:
    """The senders, counting what this worker sent."""
    senders = default_senders()
    webhook = senders[ChannelKind.WEBHOOK]

    async def counted(channel: Channel, notification: Notification) -> SendResult:
        sent[notification.id] += 1
        return await webhook(channel, notification)

    return {**senders, ChannelKind.WEBHOOK: counted}
