"""The platform settings nodes apply travel in their assignments (server/nodes/agent_settings.py),
on both backends: a settings change gives every connected node a new assignment version with
the new values, the same settings never a new version, and a group nobody changed since the first
start stays unset so the node keeps its own flags."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from camfleet.v1 import agent_pb2

from server.common.tasks import cancel_and_wait
from server.db.engine import Sessions
from server.db.models import NodeRow
from server.db.models.base import new_id
from server.nodes.agent_settings import AgentSettingsSource, agent_settings
from server.nodes.assignment_push import AssignmentPusher
from server.nodes.assignments import AssignmentBuilder
from server.nodes.desired import AgentSettings
from server.nodes.session import NodeSession
from server.settings.model import (
    Group,
    PlatformSettings,
    RecordingSettings,
    StorageSettings,
    StreamingSettings,
)
from tests.server.alerts.test_routing_support import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    async with fresh_database(request.param, tmp_path) as s:
        yield s


@dataclass
class StoredSettings:
    """A settings reader whose stored value the test changes, as UpdateSettings would."""

    # As the first start stores them: every group at version 1.
    value: PlatformSettings = field(
        default_factory=lambda: PlatformSettings(versions=dict.fromkeys(Group, 1))
    )

    async def current(self) -> PlatformSettings:
        return self.value

    def update(self, group: Group, settings: object) -> None:
        versions = dict(self.value.versions)
        versions[group] = versions.get(group, 0) + 1
        self.value = replace(self.value, **{group.value: settings}, versions=versions)


async def _node(sessions: Sessions) -> str:
    node_id = new_id()
    async with sessions.begin() as session:
        session.add(
            NodeRow(
                id=node_id, name=node_id[:8], name_key=node_id, credential_hash=secrets.token_hex(8)
            )
        )
    return node_id


def test_groups_nobody_changed_stay_unset_so_nodes_keep_their_flags() -> None:
    assert agent_settings(PlatformSettings()) == AgentSettings()
    # The first start's store: the model's defaults, which are not the nodes' flags.
    assert agent_settings(StoredSettings().value) == AgentSettings()
    stored = PlatformSettings(
        recording=RecordingSettings(segment_s=4.0),
        streaming=StreamingSettings(hls_fragment_s=2.0, hls_playlist_length_s=12.0),
        versions={Group.RECORDING: 2, Group.STREAMING: 1, Group.STORAGE: 1},
    )
    # Only the recording group was changed: streaming and storage stay the nodes' own.
    assert agent_settings(stored) == AgentSettings(segment_s=4.0)


async def test_a_settings_change_pushes_a_new_assignment_with_the_new_values(
    sessions: Sessions,
) -> None:
    reader = StoredSettings()
    builder = AssignmentBuilder(
        sessions, settings=AgentSettingsSource(reader, poll_interval_s=0.05)
    )
    node_id = await _node(sessions)
    session = NodeSession(node_id=node_id, name="edge", session_id="s1")
    pusher = AssignmentPusher(builder, events=None, sessions={node_id: session})  # type: ignore[arg-type]
    await pusher.push(session)
    first = (await session.outbox.get()).assignment  # type: ignore[union-attr]
    assert not first.HasField("settings") or first.settings == agent_pb2.AgentSettings()

    tasks = [
        asyncio.create_task(builder.follow_settings(pusher.refresh_all)),
        asyncio.create_task(pusher.push_marked()),
    ]
    try:
        await asyncio.sleep(0.2)  # the follower has read the settings once
        reader.update(Group.RECORDING, RecordingSettings(segment_s=2.0))
        async with asyncio.timeout(10):
            second = (await session.outbox.get()).assignment  # type: ignore[union-attr]
        assert second.version == first.version + 1
        assert second.settings.segment_length.ToTimedelta().total_seconds() == 2.0
        # Groups never stored stay unset on the wire.
        assert not second.settings.HasField("hls_fragment")
        assert second.settings.free_space_floor_bytes == 0

        reader.update(
            Group.STREAMING, StreamingSettings(hls_fragment_s=2.0, hls_playlist_length_s=10.0)
        )
        reader.update(
            Group.STORAGE, StorageSettings(warm_after_s=3600.0, free_space_floor_bytes=5 << 30)
        )
        async with asyncio.timeout(10):
            third = (await session.outbox.get()).assignment  # type: ignore[union-attr]
        while session.outbox.qsize():  # both changes may have come as two versions
            third = (await session.outbox.get()).assignment  # type: ignore[union-attr]
        assert third.version > second.version
        assert third.settings.hls_fragment.ToTimedelta().total_seconds() == 2.0
        assert third.settings.hls_playlist_length.ToTimedelta().total_seconds() == 10.0
        assert third.settings.segment_length.ToTimedelta().total_seconds() == 2.0
        assert third.settings.free_space_floor_bytes == 5 << 30
        assert third.settings.warm_after.ToTimedelta().total_seconds() == 3600.0
    finally:
        await cancel_and_wait(tasks)

    # The same settings again: the same version (nothing is pushed to the agent).
    again = await builder.current(node_id)
    assert again is not None and again.version == third.version


async def test_a_change_outside_what_nodes_apply_makes_no_new_version(sessions: Sessions) -> None:
    reader = StoredSettings()
    builder = AssignmentBuilder(sessions, settings=AgentSettingsSource(reader))
    node_id = await _node(sessions)
    reader.update(Group.RECORDING, RecordingSettings(segment_s=6.0))
    before = await builder.current(node_id)
    # The default profile of new cameras is the control plane's business, not the node's.
    reader.update(Group.RECORDING, RecordingSettings(segment_s=6.0, default_profile="low"))
    after = await builder.current(node_id)
    assert before is not None and after is not None
    assert after.version == before.version and after.settings.segment_s == 6.0
