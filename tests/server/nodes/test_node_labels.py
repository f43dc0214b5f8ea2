"""NodeService for the fleet: labels at registration and by UpdateNode (label syntax, update
mask, audit, NODE_UPDATED event), a node's camera count, and DrainNode's errors (an unknown
node, a node already draining)."""

from __future__ import annotations

import secrets
import uuid

import grpc
from camfleet.v1 import agent_pb2, camera_pb2, event_pb2, node_pb2

from tests.support.agent_stream import beating, connect, hello, report
from tests.support.assertions import audit_since, eventually, now_filter, refused
from tests.support.platform import Platform, mask

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _node_name() -> str:
    return f"lbl-{secrets.token_hex(4)}"


async def _register(
    platform: Platform, labels: dict[str, str], token: str = ""
) -> agent_pb2.RegisterNodeResponse:
    return await platform.agents.RegisterNode(  # type: ignore[no-any-return]
        agent_pb2.RegisterNodeRequest(
            join_token=token or await platform.join_token(), name=_node_name(), labels=labels
        )
    )


async def _node(platform: Platform, node_id: str) -> node_pb2.Node:
    return (
        await platform.nodes.GetNode(node_pb2.GetNodeRequest(id=node_id), metadata=platform.admin)
    ).node


async def _update_labels(
    platform: Platform, node_id: str, labels: dict[str, str], *paths: str
) -> node_pb2.Node:
    resp = await platform.nodes.UpdateNode(
        node_pb2.UpdateNodeRequest(
            node=node_pb2.Node(id=node_id, labels=labels), update_mask=mask(*paths or ("labels",))
        ),
        metadata=platform.admin,
    )
    return resp.node  # type: ignore[no-any-return]


async def test_labels_given_at_registration_are_stored(platform: Platform) -> None:
    registered = await _register(platform, {"site": "north", "gpu": "NVIDIA-T4"})
    node = await _node(platform, registered.node_id)
    assert dict(node.labels) == {"site": "north", "gpu": "NVIDIA-T4"}
    listed = await platform.nodes.ListNodes(
        node_pb2.ListNodesRequest(filter=f'name = "{node.name}"'), metadata=platform.admin
    )
    assert [dict(n.labels) for n in listed.nodes] == [{"site": "north", "gpu": "NVIDIA-T4"}]


async def test_bad_labels_at_registration_are_refused_and_keep_the_token(
    platform: Platform,
) -> None:
    token = await platform.join_token(max_uses=1)
    refusal = await refused(_register(platform, {"Site": "north"}, token), INVALID)
    assert refusal.message.startswith("labels['Site']: keys are 1\u201363 characters of a-z")
    assert list(refusal.fields) == ["labels['Site']"]
    refusal = await refused(_register(platform, {"site": "north pole"}, token), INVALID)
    assert refusal.message == (
        "labels['site']: values are up to 63 characters of A-Z, a-z, 0-9, '_', '.', '-'; "
        "got 'north pole'"
    )
    # The single-use token was not spent by the refusals.
    registered = await _register(platform, {"site": "north"}, token)
    assert dict((await _node(platform, registered.node_id)).labels) == {"site": "north"}


async def test_update_node_replaces_labels_audits_and_tells_watchers(platform: Platform) -> None:
    registered = await _register(platform, {"site": "north"})
    revision = (
        await platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
        )
    ).revision
    since = now_filter()
    updated = await _update_labels(platform, registered.node_id, {"site": "south", "tier": "1"})
    assert dict(updated.labels) == {"site": "south", "tier": "1"}
    assert dict((await _node(platform, registered.node_id)).labels) == updated.labels
    cleared = await _update_labels(platform, registered.node_id, {})
    assert dict(cleared.labels) == {}

    rows = await audit_since(
        platform, since, "node.update", f'target = "nodes/{registered.node_id}"'
    )
    assert sorted(r.details["labels"] for r in rows) == ["none", "site=south,tier=1"]
    assert all(r.actor == "admin" and r.outcome == "success" for r in rows)
    seen = await platform.events_until(
        platform.admin,
        revision,
        lambda e: e.node.id == registered.node_id and not e.node.labels,
    )
    updates = [
        e
        for e in seen
        if e.node.id == registered.node_id and e.type == event_pb2.EVENT_TYPE_NODE_UPDATED
    ]
    assert [dict(e.node.labels) for e in updates] == [{"site": "south", "tier": "1"}, {}]
    assert updates[0].message == f"node {updated.name} was updated (labels: site=south,tier=1)"


async def test_update_node_refuses_bad_labels_naming_the_key(platform: Platform) -> None:
    registered = await _register(platform, {"site": "north"})
    since = now_filter()
    cases = {
        "Site": "keys are 1\u201363 characters",
        "": "keys are 1\u201363 characters",
        "k" * 64: "keys are 1\u201363 characters",
        "zone/a": "keys are 1\u201363 characters",
        "ok": "values are up to 63 characters",
    }
    for key, says in cases.items():
        value = "v" * 64 if key == "ok" else "v"
        refusal = await refused(
            _update_labels(platform, registered.node_id, {"site": "south", key: value}), INVALID
        )
        [field] = refusal.fields
        assert field == f"node.labels[{key[:64]!r}]", field
        assert refusal.message.startswith(f"{field}: {says}"), refusal.message
    refusal = await refused(
        _update_labels(platform, registered.node_id, {f"k{i}": "v" for i in range(33)}), INVALID
    )
    assert refusal.message == "node.labels: at most 32 pairs, got 33"
    assert dict((await _node(platform, registered.node_id)).labels) == {"site": "north"}
    target = f'target = "nodes/{registered.node_id}"'
    assert await audit_since(platform, since, "node.update", target) == []


async def test_update_node_mask_and_id_errors(platform: Platform) -> None:
    registered = await _register(platform, {})
    refusal = await refused(
        platform.nodes.UpdateNode(
            node_pb2.UpdateNodeRequest(node=node_pb2.Node(id=registered.node_id, name="x")),
            metadata=platform.admin,
        ),
        INVALID,
    )
    assert refusal.message == (
        "update_mask: is required: name the fields to change (labels) or '*'"
    )
    refusal = await refused(_update_labels(platform, registered.node_id, {}, "name"), INVALID)
    assert refusal.message == "update_mask: cannot update 'name'; updatable fields: labels"
    assert dict((await _update_labels(platform, registered.node_id, {"a": "1"}, "*")).labels) == {
        "a": "1"
    }
    missing = str(uuid.uuid4())
    refusal = await refused(
        _update_labels(platform, missing, {"a": "1"}), grpc.StatusCode.NOT_FOUND
    )
    assert refusal.message == f"node {missing} does not exist"
    refusal = await refused(_update_labels(platform, "", {"a": "1"}), INVALID)
    assert refusal.message == "node.id: is required"


async def test_drain_of_an_unknown_or_draining_node(platform: Platform) -> None:
    missing = str(uuid.uuid4())
    refusal = await refused(
        platform.nodes.DrainNode(node_pb2.DrainNodeRequest(id=missing), metadata=platform.admin),
        grpc.StatusCode.NOT_FOUND,
    )
    assert refusal.message == f"node {missing} does not exist"
    refusal = await refused(
        platform.nodes.DrainNode(node_pb2.DrainNodeRequest(id="edge-1"), metadata=platform.admin),
        INVALID,
    )
    assert refusal.message.startswith("id: must be a UUID")

    registered = await _register(platform, {})
    name = (await _node(platform, registered.node_id)).name
    drain = node_pb2.DrainNodeRequest(id=registered.node_id)
    first = (await platform.nodes.DrainNode(drain, metadata=platform.admin)).node
    assert first.draining and not first.schedulable and first.drain_remaining == 0
    since = now_filter()
    refusal = await refused(
        platform.nodes.DrainNode(drain, metadata=platform.admin),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert refusal.message == f"node {name} is already draining; UncordonNode stops the drain"
    assert refusal.reason == "FAILED_PRECONDITION"
    assert await audit_since(platform, since, "node.drain", f'target = "nodes/{first.id}"') == []
    # Uncordoning ends the drain; the node may be drained again.
    await platform.nodes.UncordonNode(
        node_pb2.UncordonNodeRequest(id=registered.node_id), metadata=platform.admin
    )
    again = (await platform.nodes.DrainNode(drain, metadata=platform.admin)).node
    assert again.draining


async def test_camera_count_is_the_nodes_cameras(platform: Platform) -> None:
    """A push camera publishing to a node is homed there: the node's camera_count counts it."""
    registered = await _register(platform, {})
    assert (await _node(platform, registered.node_id)).camera_count == 0
    cameras = [await platform.new_camera() for _ in range(2)]
    streams = [report(c.id) for c in cameras]
    async with (
        connect(platform.channel, registered.credential, hello(*streams)) as stream,
        beating(stream, *streams, every_s=0.5),
    ):
        await stream.receive_kind("welcome")
        node = await eventually(
            lambda: _node(platform, registered.node_id), lambda n: n.camera_count == 2, 10
        )
        assert node.camera_count == 2
        listed = await platform.nodes.ListNodes(
            node_pb2.ListNodesRequest(filter=f'name = "{node.name}"'), metadata=platform.admin
        )
        assert [n.camera_count for n in listed.nodes] == [2]
        # A deactivated camera is no load.
        await platform.cameras.DeactivateCamera(
            camera_pb2.DeactivateCameraRequest(id=cameras[0].id), metadata=platform.admin
        )
        assert (await _node(platform, registered.node_id)).camera_count == 1


async def test_a_placed_pull_camera_counts_and_drain_remaining_shows_what_is_left(
    platform: Platform,
) -> None:
    """The scheduler puts a pull camera on the only node whose labels match its selector: the
    node counts it, its placement history says so, and a drain with nowhere to move it leaves
    drain_remaining at 1 until the camera is deactivated."""
    site = secrets.token_hex(6)
    registered = await _register(platform, {"test": site})
    async with (
        connect(platform.channel, registered.credential, hello()) as stream,
        beating(stream, every_s=0.5),
    ):
        await stream.receive_kind("welcome")
        camera = await platform.new_camera(
            ingest_mode=camera_pb2.INGEST_MODE_PULL,
            source_url="rtsp://127.0.0.1:8554/none",
            node_selector={"test": site},
        )

        async def placed() -> camera_pb2.Camera:
            return (
                await platform.cameras.GetCamera(
                    camera_pb2.GetCameraRequest(id=camera.id), metadata=platform.admin
                )
            ).camera

        got = await eventually(placed, lambda c: c.node_id == registered.node_id, 10)
        assert got.node_id == registered.node_id, got.placement_reason
        assert got.placement_epoch >= 1 and got.placement_reason == ""
        history = await platform.cameras.ListPlacements(
            camera_pb2.ListPlacementsRequest(camera_id=camera.id), metadata=platform.admin
        )
        assert [(p.reason, p.from_node_id, p.to_node_id) for p in history.placements] == [
            (camera_pb2.PLACEMENT_REASON_PLACED, "", registered.node_id)
        ]
        assert history.placements[0].epoch == got.placement_epoch
        assert (await _node(platform, registered.node_id)).camera_count == 1

        revision = (
            await platform.cameras.ListCameras(
                camera_pb2.ListCamerasRequest(page_size=1), metadata=platform.admin
            )
        ).revision
        drained = await platform.nodes.DrainNode(
            node_pb2.DrainNodeRequest(id=registered.node_id), metadata=platform.admin
        )
        assert drained.node.drain_remaining == 1
        # Watchers see the same counts in the node's event (the UI draws progress from them).
        seen = await platform.events_until(
            platform.admin, revision, lambda e: e.node.id == registered.node_id
        )
        assert (seen[-1].node.draining, seen[-1].node.drain_remaining) == (True, 1)
        assert seen[-1].node.camera_count == 1
        await platform.cameras.DeactivateCamera(
            camera_pb2.DeactivateCameraRequest(id=camera.id), metadata=platform.admin
        )
        node = await eventually(
            lambda: _node(platform, registered.node_id), lambda n: n.drain_remaining == 0, 10
        )
        assert (node.drain_remaining, node.camera_count) == (0, 0)


async def _camera(platform: Platform, camera_id: str) -> camera_pb2.Camera:
    return (
        await platform.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera_id), metadata=platform.admin
        )
    ).camera


async def test_changed_labels_or_selector_take_a_camera_off_its_node(platform: Platform) -> None:
    """UpdateNode and UpdateCamera(node_selector) reach the scheduler: a camera whose selector
    its node no longer matches leaves it, waits with a reason, and comes back when they match
    again; each move is in its placement history."""
    site = secrets.token_hex(6)
    registered = await _register(platform, {"test": site})
    async with (
        connect(platform.channel, registered.credential, hello()) as stream,
        beating(stream, every_s=0.5),
    ):
        await stream.receive_kind("welcome")
        camera = await platform.new_camera(
            ingest_mode=camera_pb2.INGEST_MODE_PULL,
            source_url="rtsp://127.0.0.1:8554/none",
            node_selector={"test": site},
        )
        on_node = lambda c: c.node_id == registered.node_id  # noqa: E731
        off_node = lambda c: c.node_id == "" and c.placement_reason != ""  # noqa: E731
        assert on_node(await eventually(lambda: _camera(platform, camera.id), on_node, 10))

        await _update_labels(platform, registered.node_id, {"test": "elsewhere"})
        waiting = await eventually(lambda: _camera(platform, camera.id), off_node, 10)
        assert waiting.node_id == "", "the camera stayed on a node its selector does not match"
        assert f"test={site}" in waiting.placement_reason, waiting.placement_reason

        await _update_labels(platform, registered.node_id, {"test": site})
        assert on_node(await eventually(lambda: _camera(platform, camera.id), on_node, 10))

        await platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=camera.id, node_selector={"test": "nowhere"}),
                update_mask=mask("node_selector"),
            ),
            metadata=platform.admin,
        )
        waiting = await eventually(lambda: _camera(platform, camera.id), off_node, 10)
        assert waiting.node_id == "" and "test=nowhere" in waiting.placement_reason

        history = await platform.cameras.ListPlacements(
            camera_pb2.ListPlacementsRequest(camera_id=camera.id), metadata=platform.admin
        )
        moves = [(p.from_node_id, p.to_node_id) for p in history.placements]
        node = registered.node_id
        assert moves == [(node, ""), ("", node), (node, ""), ("", node)], history
        epochs = [p.epoch for p in history.placements]
        assert epochs == sorted(epochs, reverse=True) and len(set(epochs)) == 4
