"""The cold tier's settings travel from the platform's storage group to a node: the control
plane sends them in the assignment only once someone configured a bucket, the node stores them
with the assignment (its file 0600: it holds the secret key) and applies them live; the secret
never shows in a log line's repr."""

from __future__ import annotations

import os
from pathlib import Path

from node_agent.assignment import CurrentAssignment
from node_agent.convert import assignment_from_proto
from node_agent.desired import Assignment, NodeSettings, assignment_from_json, assignment_to_json
from node_agent.settings import SettingsApplier, in_force
from node_agent.state import DataDir
from server.nodes.agent_settings import agent_settings
from server.nodes.agent_wire import assignment_to_proto
from server.nodes.desired import Assignment as ServerAssignment
from server.nodes.desired import PlaybackPolicy
from server.settings.model import Group, PlatformSettings, StorageSettings
from tests.node_agent.test_settings import FLAGS

COLD = StorageSettings(
    cold_endpoint="http://127.0.0.1:9000",
    cold_bucket="camfleet-cold",
    cold_prefix="site-a/",
    cold_access_key="AKID",
    cold_secret_key="very-secret",
    cold_after_s=3600.0,
)


def _node_settings(storage: StorageSettings, version: int = 2) -> NodeSettings:
    platform = PlatformSettings(storage=storage, versions={Group.STORAGE: version})
    wire = assignment_to_proto(
        ServerAssignment(1, (), (), PlaybackPolicy(), settings=agent_settings(platform))
    )
    return assignment_from_proto(wire).settings


def test_a_configured_cold_tier_reaches_the_node_whole() -> None:
    cold = _node_settings(COLD).cold
    assert cold is not None
    assert (cold.endpoint, cold.bucket, cold.prefix) == (
        "http://127.0.0.1:9000",
        "camfleet-cold",
        "site-a/",
    )
    assert (cold.access_key, cold.secret_key, cold.after_s, cold.region) == (
        "AKID",
        "very-secret",
        3600.0,
        "us-east-1",
    )
    assert "very-secret" not in repr(cold)
    assert in_force(FLAGS, _node_settings(COLD)).cold == cold


def test_no_bucket_or_an_unchanged_group_means_no_cold_tier() -> None:
    assert _node_settings(StorageSettings()).cold is None
    # Version 1 is the first start's: the nodes keep their own flags and have no cold tier.
    assert _node_settings(COLD, version=1).cold is None


async def test_the_cold_tier_is_stored_privately_with_the_assignment(tmp_path: Path) -> None:
    settings = _node_settings(COLD)
    assignment = Assignment(version=3, settings=settings)
    assert assignment_from_json(assignment_to_json(assignment)) == assignment
    data = DataDir(tmp_path / "data")
    data.create()
    current = CurrentAssignment(data)
    current.load()
    assert (await current.apply(assignment)).accepted
    assert os.stat(data.assignment).st_mode & 0o077 == 0
    restarted = CurrentAssignment(data)
    restarted.load()
    assert restarted.assignment.settings.cold == settings.cold


async def test_the_applier_hands_a_cold_tier_change_over_live() -> None:
    seen: list[object] = []

    async def nothing(*_: object) -> None:
        return None

    async def cold(value: object) -> None:
        seen.append(value)

    applier = SettingsApplier(FLAGS, FLAGS, recording=nothing, hls=nothing, cold=cold)
    applier.start()
    try:
        applier.want(_node_settings(COLD))
        await applier.settled()
        applier.want(NodeSettings())
        await applier.settled()
    finally:
        await applier.stop()
    assert seen == [_node_settings(COLD).cold, None]
