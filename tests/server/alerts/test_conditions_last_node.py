"""A camera alert's `node` label is the node where the camera went dark, on both backends
(server/alerts/conditions/cameras.py): a lost node's pull camera with nowhere to go is taken off
it (node_id none, a `node_lost` placement) and still names that node, so the node's alert
inhibits it; a camera that was never on a node names none; one moved on names its new node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.alerts.model import CameraOffline, Rule
from server.common.listing import ListRequest
from server.db.models import PlacementRow
from tests.server.alerts.evaluator_fixtures import Env, environment


@pytest.fixture(params=["sqlite", "postgres"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with environment(request.param, tmp_path) as e:
        yield e


async def placed(env: Env, camera_id: str, moves: list[tuple[str, str, str]]) -> None:
    """Placement history: (from node, to node, reason), oldest first."""
    async with env.sessions.begin() as session:
        for epoch, (src, dst, reason) in enumerate(moves, 1):
            session.add(
                PlacementRow(
                    camera_id=camera_id,
                    from_node_id=src,
                    to_node_id=dst,
                    reason=reason,
                    epoch=epoch,
                    time=env.clock.now,
                )
            )


async def test_a_camera_taken_off_a_lost_node_still_names_it(env: Env) -> None:
    evaluator = env.evaluator()
    lost = await env.node("edge-2", state="lost")
    other = await env.node("edge-3")
    taken_off = await env.camera("Pulled", status="offline")
    await placed(env, taken_off, [("", other, "placed"), (other, lost, "rebalance"),
                                  (lost, "", "node_lost")])  # fmt: skip
    await env.camera("Never", status="offline")
    moved_on = await env.camera("Moved", status="offline", node_id=other)
    await placed(env, moved_on, [("", lost, "placed"), (lost, "", "node_lost"),
                                 ("", other, "placed")])  # fmt: skip
    await env.rules(evaluator).create(Rule(id="", name="dark", condition=CameraOffline(), for_s=0))
    await evaluator.evaluate_once(env.clock.advance(1))
    page = await env.alerts().list(ListRequest(page_size=100))
    nodes = {
        a.labels["camera_name"]: (a.labels.get("node", ""), a.labels.get("node_name", ""))
        for a in page.items
    }
    assert nodes == {
        "Pulled": (lost, "edge-2"),
        "Never": ("", ""),
        "Moved": (other, "edge-3"),
    }
