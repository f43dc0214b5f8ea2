"""The fleet in the browser UI (issue 12), as an operator sees it in Debian's chromium against
`./start` (its node agent "local", and a second agent for the drain): a pull camera created with
an RTSP source URL shows the node that pulls it and its placement history, plays in the live
grid and is recorded; a wrong password reads "authentication failed"; a bad source URL or
selector is refused in words before anything is sent; a selector no node matches leaves the
camera waiting with the reason until edited; the nodes page shows load against capacity, the
CPU cores its agent said, the node's cameras, labels (an edit persists) and the leading replica;
a drain started there shows its progress until the camera moved; the recordings timeline names
a gap's cause. The RTSP camera is GStreamer's (harness/rtsp_source)."""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from camfleet.v1 import (
    camera_pb2,
    camera_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
)
from playwright.sync_api import Page, expect

from harness.processes import stop_by_pid
from harness.rtsp_source import RtspSource, rtsp_source
from tests.browser.conftest import screenshot
from tests.browser.fleet_rpc import (
    NODE,
    camera_by_id,
    camera_named,
    create_pull_camera,
    delete_every_camera,
    node_named,
    publish_url,
    second_node,
    segment_count,
)
from tests.browser.helpers import admin_rpc, log_in, publish, reload, video_advances, wait_for
from tests.support.local_platform import LocalPlatform

USER, PASSWORD = "cam", "s3cret-pw"


@pytest.fixture(scope="module")
def camera_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspSource]:
    """A live H.264 RTSP camera behind basic authentication, for the module's pull cameras."""
    with rtsp_source(tmp_path_factory.mktemp("rtsp"), user=USER, password=PASSWORD) as source:
        yield source


def _new_pull_camera_in_the_form(page: Page, name: str, url: str) -> None:
    page.get_by_test_id("nav-cameras").click()
    page.get_by_test_id("camera-new").click()
    page.get_by_test_id("camera-name").fill(name)
    page.get_by_text("Node pulls a URL").click()
    page.get_by_test_id("camera-source-url").fill(url)


@pytest.mark.timeout(480)
def test_a_pull_camera_created_in_the_ui_shows_its_node_and_placement_history(
    page: Page, local_platform: LocalPlatform, camera_source: RtspSource
) -> None:
    name = f"Gate {secrets.token_hex(3)}"
    log_in(page, local_platform.url, "admin", local_platform.admin_password)

    # A URL a node must never open is refused in words, before anything reaches the server.
    _new_pull_camera_in_the_form(page, name, "file:///etc/passwd")
    page.get_by_test_id("camera-save").click()
    expect(
        page.get_by_text(
            "A node cannot pull “file:” URLs; use rtsp, rtsps, rtmp, rtmps, http or https."
        )
    ).to_be_visible()
    page.get_by_test_id("camera-source-url").fill("rtsp://cam era.local/stream")
    expect(page.get_by_text("The URL contains a space; percent-encode it as %20.")).to_be_visible()
    page.get_by_test_id("camera-source-url").fill("")
    page.get_by_test_id("camera-save").click()
    expect(
        page.get_by_text("Enter the URL the node pulls, e.g. rtsp://camera.local/stream.")
    ).to_be_visible()
    assert camera_named(local_platform, name) is None

    # The real source: the camera's page opens, the scheduler puts it on the node, it pulls.
    page.get_by_test_id("camera-source-url").fill(camera_source.url)
    page.get_by_test_id("camera-recording").check()
    page.get_by_test_id("camera-save").click()
    expect(page.get_by_test_id("camera-page-name")).to_have_text(name)
    node = node_named(local_platform)
    expect(page.get_by_test_id("camera-node")).to_have_text(NODE, timeout=60_000)
    expect(page.get_by_test_id("camera-node")).to_have_attribute("data-node-id", node.id)
    expect(page.get_by_test_id("camera-page-status")).to_have_attribute(
        "data-status", "ONLINE", timeout=90_000
    )
    expect(page.get_by_test_id("camera-node-selector")).to_have_text("any node")
    # Its password is not shown, even to an admin.
    expect(page.get_by_test_id("camera-page-source-url")).to_contain_text(f"{USER}:***@")
    expect(page.get_by_test_id("camera-page")).not_to_contain_text(PASSWORD)

    # Placement history: placed from no node onto the node, with the server's sentence.
    first = page.get_by_test_id("placement-row").last
    expect(first).to_have_attribute("data-to", node.id)
    expect(first.get_by_test_id("placement-move")).to_have_text(f"no node → {NODE}")
    expect(first.get_by_test_id("placement-reason")).to_have_text("placed")
    screenshot(page, "camera-page")

    # The node's link leads to the nodes page, which lists the camera on that node.
    page.get_by_test_id("camera-node").click()
    row = page.locator(f'[data-testid="node-row"][data-name="{NODE}"]')
    expect(row).to_have_attribute("data-marked", "true")
    expect(row.locator(f'[data-testid="node-camera"][data-name="{name}"]')).to_be_visible()

    # The live grid plays it: the node pulls RTSP and serves the signed HLS stream.
    page.get_by_test_id("nav-live").click()
    tile = page.locator(f'[data-testid="grid-tile"][data-name="{name}"]')
    expect(tile).to_have_attribute("data-status", "ONLINE", timeout=60_000)
    video_advances(
        page, f'[data-testid="grid-tile"][data-name="{name}"] video', by_s=2.0, timeout_ms=120_000
    )
    expect(tile).to_have_attribute("data-state", "playing")
    screenshot(page, "pull-camera-grid")

    # And it is recorded (the form's recording box): its segments are on the day's timeline.
    page.get_by_test_id("nav-recordings").click()
    page.get_by_test_id("recordings-camera").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.get_by_test_id("recordings-error")).to_have_count(0)
    expect(page.get_by_test_id("recording-row").first).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("timeline-span").first).to_be_attached()
    camera = camera_named(local_platform, name)
    assert camera is not None
    assert segment_count(local_platform, camera.id) >= 1
    screenshot(page, "pull-camera-recordings")


@pytest.mark.timeout(300)
def test_a_pull_camera_with_a_wrong_password_says_authentication_failed(
    page: Page, local_platform: LocalPlatform, camera_source: RtspSource
) -> None:
    name = f"Dock {secrets.token_hex(3)}"
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    _new_pull_camera_in_the_form(page, name, camera_source.url_as(USER, "not-the-password"))
    page.get_by_test_id("camera-save").click()

    expect(page.get_by_test_id("camera-page-name")).to_have_text(name)
    expect(page.get_by_test_id("camera-page-status")).to_have_attribute(
        "data-status", "ERROR", timeout=90_000
    )
    expect(page.get_by_test_id("camera-error-reason")).to_contain_text("authentication failed")
    screenshot(page, "camera-auth-failed")
    # The camera list says why as well, under the badge.
    page.get_by_test_id("nav-cameras").click()
    listed = page.locator(f'[data-testid="camera-row"][data-name="{name}"]')
    expect(listed.get_by_test_id("camera-status-reason")).to_contain_text("authentication failed")


@pytest.mark.timeout(300)
def test_a_camera_no_node_matches_waits_with_a_reason_until_its_selector_is_edited(
    page: Page, local_platform: LocalPlatform, camera_source: RtspSource
) -> None:
    name = f"Shed {secrets.token_hex(3)}"
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    _new_pull_camera_in_the_form(page, name, camera_source.url)
    selector = page.get_by_test_id("camera-node-selector-input")
    # Not label syntax: named in the form, nothing sent.
    selector.fill("Pool = no where")
    page.get_by_test_id("camera-save").click()
    expect(page.get_by_test_id("camera-form")).to_contain_text("Line 1: keys are 1–63")  # noqa: RUF001
    assert camera_named(local_platform, name) is None
    selector.fill("pool=nowhere")
    page.get_by_test_id("camera-save").click()

    # No node has pool=nowhere: the camera waits, and its page says why (not an error).
    expect(page.get_by_test_id("camera-page-name")).to_have_text(name)
    expect(page.get_by_test_id("camera-node-selector")).to_have_text("pool=nowhere")
    expect(page.get_by_test_id("camera-node")).to_have_text("none yet")
    expect(page.get_by_test_id("camera-placement-reason")).to_have_text(
        "no READY node matches pool=nowhere", timeout=60_000
    )

    # The selector emptied in the form: the camera is placed on the node.
    page.get_by_test_id("camera-page-edit").click()
    expect(page.get_by_test_id("camera-node-selector-input")).to_have_value("pool=nowhere")
    page.get_by_test_id("camera-node-selector-input").fill("")
    page.get_by_test_id("camera-save").click()
    expect(page.get_by_test_id("camera-node-selector")).to_have_text("any node")
    expect(page.get_by_test_id("camera-node")).to_have_text(NODE, timeout=60_000)
    expect(page.get_by_test_id("camera-placement-reason")).to_have_count(0)


@pytest.mark.timeout(300)
def test_the_nodes_page_shows_load_cameras_labels_and_leader_and_a_label_edit_persists(
    page: Page, local_platform: LocalPlatform, camera_source: RtspSource
) -> None:
    name = f"Yard {secrets.token_hex(3)}"
    camera = create_pull_camera(local_platform, name, camera_source.url)
    node = wait_for(
        lambda: node_named(local_platform),
        lambda n: n.camera_count >= 1,
        f"node {NODE} counting the pull camera {name}",
        within_s=60,
    )
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    page.get_by_test_id("nav-nodes").click()
    row = page.locator(f'[data-testid="node-row"][data-name="{NODE}"]')

    # Load against capacity, as the server counts it, and the cameras on the node.
    assert node.capacity > 0, "./start's agent declares a capacity"
    expect(row.get_by_test_id("node-load")).to_have_attribute("data-capacity", str(node.capacity))
    expect(row.get_by_test_id("node-load-label")).to_have_text(
        re.compile(rf"^\d+ / {node.capacity} cameras$")
    )
    count = int(row.get_by_test_id("node-load").get_attribute("data-count") or "0")
    assert count >= 1
    # The CPU cores its agent said (placement keeps its cameras' transcoding within them).
    assert node.cpu_cores > 0, "./start's agent says its cores"
    expect(row.get_by_test_id("node-cpu-cores")).to_have_text(
        f"{node.cpu_cores:g} CPU cores for transcoding"
    )
    camera_link = row.locator(f'[data-testid="node-camera"][data-name="{name}"]')
    expect(camera_link).to_be_visible()

    # The leader: ./start's control plane (SQLite) always leads; the page names it.
    with admin_rpc(local_platform) as (channel, auth):
        leader = node_pb2_grpc.NodeServiceStub(channel).GetLeader(
            node_pb2.GetLeaderRequest(), metadata=auth, timeout=30
        )
    assert leader.replica_id
    expect(page.get_by_test_id("leader-replica")).to_have_text(leader.replica_id)

    # Labels: a key with capitals is named as wrong before sending; a good edit persists.
    row.get_by_test_id("node-labels-edit").click()
    field = page.get_by_test_id("node-labels-input")
    field.fill("Site=north")
    page.get_by_test_id("node-labels-save").click()
    expect(page.get_by_test_id("node-labels-problems")).to_contain_text(
        "Line 1: keys are 1–63 characters of a-z, 0-9, '_', '.', '-'; got “Site”."  # noqa: RUF001
    )
    field.fill("site=north\nrack=r1")
    page.get_by_test_id("node-labels-save").click()
    expect(page.get_by_test_id("node-labels-form")).to_have_count(0)
    labels = row.get_by_test_id("node-label")
    expect(labels).to_have_text(["rack=r1", "site=north"])
    reload(page)
    expect(labels).to_have_text(["rack=r1", "site=north"])
    assert dict(node_named(local_platform).labels) == {"rack": "r1", "site": "north"}
    screenshot(page, "nodes-page")

    # The camera's badge on the node leads to the camera's page.
    camera_link.click()
    expect(page.get_by_test_id("camera-page")).to_have_attribute("data-camera-id", camera.id)


@pytest.mark.timeout(420)
def test_the_recordings_timeline_draws_a_gap_with_its_cause(
    page: Page,
    local_platform: LocalPlatform,
    publishers: list[subprocess.Popen[bytes]],
) -> None:
    """A push camera records, stops publishing, publishes again: the hole between is a gap whose
    cause ("camera stopped publishing") the timeline shows in its colour and in words."""
    name = f"Pier {secrets.token_hex(3)}"
    with admin_rpc(local_platform) as (channel, auth):
        camera = (
            camera_pb2_grpc.CameraServiceStub(channel)
            .CreateCamera(
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(name=name, recording_enabled=True)
                ),
                metadata=auth,
                timeout=30,
            )
            .camera
        )
    url = publish_url(local_platform, camera.id)
    publishers.append(publish(url))
    wait_for(lambda: segment_count(local_platform, camera.id), lambda n: n >= 2, "2 segments", 120)
    stop_by_pid(publishers.pop(), grace_s=5)
    # The control plane saw it stop: a CAMERA_STOPPED gap opens.
    wait_for(
        lambda: camera_named(local_platform, name),
        lambda c: c is not None and c.status == camera_pb2.CAMERA_STATUS_OFFLINE,
        f"{name} OFFLINE after its publisher stopped",
        60,
    )
    # The scenario, not a wait for anything: the camera stays dark for 5 s (a reconnect within
    # the timeline's 1.5 s merge would be no gap at all).
    time.sleep(5)
    recorded = segment_count(local_platform, camera.id)
    publishers.append(publish(url))
    wait_for(
        lambda: segment_count(local_platform, camera.id),
        lambda n: n >= recorded + 2,
        "segments after publishing again",
        120,
    )

    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    page.get_by_test_id("nav-recordings").click()
    page.get_by_test_id("recordings-camera").click()
    page.get_by_role("option", name=name, exact=True).click()
    gap = page.locator('[data-testid="timeline-gap"][data-cause="CAMERA_STOPPED"]')
    expect(gap.first).to_be_attached(timeout=60_000)
    expect(
        page.locator('[data-testid="gap-row"][data-cause="CAMERA_STOPPED"]').first
    ).to_contain_text("Camera stopped publishing")
    # The legend names every cause the bar may colour.
    expect(page.get_by_test_id("gap-legend-item")).to_have_count(6)
    expect(page.get_by_test_id("gap-legend")).to_contain_text("node lost")
    screenshot(page, "timeline-gap-cause")


@pytest.mark.timeout(420)
def test_draining_a_node_from_the_ui_shows_progress_until_its_camera_moved(
    page: Page, local_platform: LocalPlatform, camera_source: RtspSource, tmp_path: Path
) -> None:
    """Two nodes and one pull camera (the module's earlier cameras are deleted first, so the
    drained node holds only this one): Drain in the node's menu shows the drain's progress live,
    the camera moves make-before-break to the other node, its page and history say so, and
    Uncordon ends the drain."""
    delete_every_camera(local_platform)
    with second_node(local_platform, tmp_path, "edge-2") as edge:
        name = f"Quay {secrets.token_hex(3)}"
        created = create_pull_camera(local_platform, name, camera_source.url)
        placed = wait_for(
            lambda: camera_by_id(local_platform, created.id),
            lambda c: c.node_id != "" and c.status == camera_pb2.CAMERA_STATUS_ONLINE,
            f"{name} placed and ONLINE",
            90,
        )
        names = {edge.id: "edge-2", node_named(local_platform).id: NODE}
        drained, other = names[placed.node_id], names[next(i for i in names if i != placed.node_id)]

        log_in(page, local_platform.url, "admin", local_platform.admin_password)
        page.get_by_test_id("nav-nodes").click()
        row = page.locator(f'[data-testid="node-row"][data-name="{drained}"]')
        expect(row.locator(f'[data-testid="node-camera"][data-name="{name}"]')).to_be_visible()
        row.get_by_test_id("node-actions").click()
        page.get_by_test_id("node-drain").click()
        page.get_by_role("button", name="Drain", exact=True).click()

        expect(row.get_by_test_id("node-cordoned")).to_have_text("draining")
        progress = row.get_by_test_id("node-drain-progress")
        expect(progress).to_be_visible()
        expect(progress).to_have_attribute("data-remaining", "0", timeout=90_000)
        expect(progress).to_contain_text("Drained: no pull cameras left on it.")
        target = page.locator(f'[data-testid="node-row"][data-name="{other}"]')
        expect(target.locator(f'[data-testid="node-camera"][data-name="{name}"]')).to_be_visible()
        screenshot(page, "nodes-drained")

        # The camera's page: on the other node, ONLINE, and the move in its history.
        target.locator(f'[data-testid="node-camera"][data-name="{name}"]').click()
        expect(page.get_by_test_id("camera-node")).to_have_text(other)
        expect(page.get_by_test_id("camera-page-status")).to_have_attribute("data-status", "ONLINE")
        reasons = page.get_by_test_id("placement-reason")
        expect(reasons.first).to_have_text(re.compile("handover finished|its node is draining"))
        expect(page.get_by_test_id("placements")).to_contain_text(f"{drained} → {other}")

        # Uncordon ends the drain.
        page.get_by_test_id("nav-nodes").click()
        row.get_by_test_id("node-actions").click()
        page.get_by_test_id("node-uncordon").click()
        expect(row.get_by_test_id("node-cordoned")).to_have_count(0)
        expect(row.get_by_test_id("node-drain-progress")).to_have_count(0)
