"""A node's new assignment that could not be computed while PostgreSQL was away (restarting)
is computed and pushed once the database answers, without waiting for another change: a
pusher that dropped it left the node running a camera that had moved to another node, both
recording it, for as long as nothing else touched the node."""

from __future__ import annotations

import asyncio
import secrets

from harness.private_servers import private_postgres
from server.common.tasks import cancel_and_wait
from server.db.engine import create_engine, session_factory
from server.db.migrate import upgrade_to_head
from server.db.models import NodeRow
from server.db.models.base import new_id
from server.nodes.agent_settings import AgentSettingsSource
from server.nodes.assignment_push import AssignmentPusher
from server.nodes.assignments import AssignmentBuilder
from server.nodes.session import NodeSession
from server.settings.model import Group, RecordingSettings
from tests.server.nodes.test_assignment_settings import StoredSettings


async def test_an_assignment_not_computed_while_the_database_was_away_is_pushed_on_return() -> None:
    with private_postgres() as pg:
        engine = create_engine(pg.url, pool_size=2)
        tasks: list[asyncio.Task[None]] = []
        try:
            await upgrade_to_head(engine)
            sessions = session_factory(engine)
            node_id = new_id()
            async with sessions.begin() as session:
                session.add(
                    NodeRow(
                        id=node_id,
                        name="edge",
                        name_key=node_id,
                        credential_hash=secrets.token_hex(8),
                    )
                )
            reader = StoredSettings()
            builder = AssignmentBuilder(sessions, settings=AgentSettingsSource(reader))
            node = NodeSession(node_id=node_id, name="edge", session_id="s1")
            pusher = AssignmentPusher(builder, events=None, sessions={node_id: node})  # type: ignore[arg-type]
            await pusher.push(node)
            first = (await node.outbox.get()).assignment  # type: ignore[union-attr]
            tasks.append(asyncio.create_task(pusher.push_marked()))

            pg.stop()
            # What a change does (a camera placed elsewhere): the node is marked; its
            # assignment cannot be computed now.
            reader.update(Group.RECORDING, RecordingSettings(segment_s=4.0))
            pusher.refresh_all()
            await asyncio.sleep(2)
            assert node.outbox.empty()

            pg.start()  # and no other change comes
            async with asyncio.timeout(60):
                second = (await node.outbox.get()).assignment  # type: ignore[union-attr]
            assert second.version == first.version + 1
            assert second.settings.segment_length.ToTimedelta().total_seconds() == 4.0
        finally:
            await cancel_and_wait(tasks)
            await engine.dispose()
