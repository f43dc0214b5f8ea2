"""A webhook sent just as PostgreSQL goes away is recorded once the database is back, not sent
again: its outcome is stored with retries (bench_chaos saw a notification delivered twice
after a PostgreSQL restart: the outcome's write failed, the claim ran out, another pass sent
it again under the same webhook-id)."""

from __future__ import annotations

import asyncio
import contextlib
import random

from aiohttp import web

from harness.private_servers import private_postgres
from server.alerts.channels_store import ChannelStore
from server.alerts.delivery import CLAIM_MARGIN_S, Delivery
from server.alerts.model import Channel, WebhookConfig
from server.alerts.senders.registry import default_senders
from server.db.engine import create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import NotificationRow
from tests.server.alerts.delivery_fixtures import Clock, queue_notification, webhook_receiver


async def test_a_webhook_sent_as_postgres_goes_away_is_recorded_when_it_returns_not_resent() -> (
    None
):
    clock = Clock()
    with private_postgres() as pg:
        engine = create_engine(pg.url, pool_size=2)
        try:
            await upgrade_to_head(engine)
            sessions = session_factory(engine)
            store = ChannelStore(sessions, clock)
            channel, secret = await store.create(
                Channel(id="", name="ops", config=WebhookConfig(url="http://127.0.0.1:9/"))
            )
            async with webhook_receiver(secret) as receiver:
                channel = await store.update(
                    channel.id,
                    Channel(id="", name="", config=WebhookConfig(url=receiver.url, timeout_s=5)),
                    ["webhook.url"],
                )
                nid = await queue_notification(sessions, channel.id, clock.now)

                async def database_dies_as_it_answers(request: web.Request) -> web.Response:
                    await asyncio.to_thread(pg.stop)
                    return web.Response(status=204)

                receiver.answer = database_dies_as_it_answers  # type: ignore[assignment]
                first = Delivery(sessions, default_senders(), clock, rng=random.Random(1))

                async def back_later() -> None:
                    await asyncio.sleep(3)
                    await asyncio.to_thread(pg.start)

                returning = asyncio.create_task(back_later())
                with contextlib.suppress(Exception):  # what a failed record did before
                    await first.deliver_once()
                await returning

                # Another pass once the claim would have run out (another replica leading).
                clock.advance(5 + CLAIM_MARGIN_S + 1)
                second = Delivery(sessions, default_senders(), clock, rng=random.Random(2))
                assert await second.deliver_once() == 0
                assert receiver.ids() == [nid]
                async with sessions() as session:
                    row = await session.get(NotificationRow, nid)
                assert row is not None and row.status == "delivered"
        finally:
            await engine.dispose()
