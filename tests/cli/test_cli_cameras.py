"""`camfleet cameras` against the worker's shared control plane (tests/cli/conftest.py): a full
lifecycle checked through the API, the output formats, field violations, a filter's syntax
error with its position, and bulk actions on a selector's matches behind a confirmation."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import yaml
from camfleet.v1 import camera_pb2

from tests.cli.cli_process import Cli
from tests.support.platform import ADMIN_PASSWORD, Platform

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def cli(platform: Platform, tmp_path: Path) -> Cli:
    c = Cli(tmp_path / "cli")
    await c.login(platform.target, "admin", ADMIN_PASSWORD)
    return c


async def _camera(platform: Platform, camera_id: str) -> camera_pb2.Camera:
    resp = await platform.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=camera_id), metadata=platform.admin
    )
    return resp.camera


async def test_a_camera_lifecycle(cli: Cli, platform: Platform) -> None:
    name = f"cli-{secrets.token_hex(4)}"
    created = await cli.run(
        "-o", "json", "cameras", "create", name, "--location", "Lobby", "--label", "site=north",
        "--retention", "7d",
    )  # fmt: skip
    assert created.code == 0, created
    camera = json.loads(created.stdout)
    camera_id = camera["id"]
    stored = await _camera(platform, camera_id)
    assert (stored.name, stored.location, dict(stored.labels)) == (name, "Lobby", {"site": "north"})
    assert stored.retention_max_age.seconds == 7 * 86400 and stored.active

    # By name or by id, the same camera.
    by_name = await cli.run("cameras", "get", name)
    assert by_name.code == 0, by_name
    assert camera_id in by_name.stdout and "site=north" in by_name.stdout

    updated = await cli.run(
        "cameras", "update", name, "--description", "by the door", "--label", "floor=1",
        "--label", "site-", "--record",
    )  # fmt: skip
    assert updated.code == 0, updated
    stored = await _camera(platform, camera_id)
    assert stored.description == "by the door" and dict(stored.labels) == {"floor": "1"}
    assert stored.recording_enabled

    assert (await cli.run("cameras", "stop-recording", camera_id)).code == 0
    assert not (await _camera(platform, camera_id)).recording_enabled
    assert (await cli.run("cameras", "start-recording", name)).code == 0
    assert (await _camera(platform, camera_id)).recording_enabled
    assert (await cli.run("cameras", "deactivate", name)).code == 0
    assert not (await _camera(platform, camera_id)).active
    assert (await cli.run("cameras", "activate", name)).code == 0
    assert (await _camera(platform, camera_id)).active

    old_key = (await _camera(platform, camera_id)).stream_key
    rotated = await cli.run("cameras", "rotate-key", name)
    assert rotated.code == 0, rotated
    new_key = (await _camera(platform, camera_id)).stream_key
    assert new_key != old_key and new_key in rotated.stdout and old_key not in rotated.stdout

    urls = await cli.run("-o", "json", "cameras", "urls", name)
    assert urls.code == 0, urls
    assert json.loads(urls.stdout)["rtmp_publish_url"].endswith(new_key)

    deleted = await cli.run("cameras", "delete", name)
    assert deleted.code == 0, deleted
    gone = await cli.run("cameras", "get", camera_id)
    assert gone.code == 5, gone
    assert gone.stderr.startswith("Error: ") and gone.stderr.count("\n") == 1
    unknown = await cli.run("cameras", "get", name)
    assert unknown.code == 5 and f"no camera named '{name}'" in unknown.stderr, unknown


async def test_output_formats_from_the_same_cameras(cli: Cli, platform: Platform) -> None:
    tag = secrets.token_hex(4)
    for i in range(2):
        await platform.new_camera(f"fmt-{tag}-{i}", labels={"run": tag}, location=f"room {i}")
    selector = ("--filter", f'labels.run = "{tag}"')

    as_json = await cli.run("-o", "json", "cameras", "list", *selector)
    assert as_json.code == 0, as_json
    rows = json.loads(as_json.stdout)
    assert [r["name"] for r in rows] == [f"fmt-{tag}-0", f"fmt-{tag}-1"]
    # Every field, .proto names, enum names: stable for scripts.
    assert rows[0]["status"] == "CAMERA_STATUS_OFFLINE" and rows[0]["recording_enabled"] is False
    assert rows[0]["labels"] == {"run": tag} and rows[0]["ingest_mode"] == "INGEST_MODE_PUSH"

    as_yaml = await cli.run("-o", "yaml", "cameras", "list", *selector)
    assert yaml.safe_load(as_yaml.stdout) == rows

    table = await cli.run("cameras", "list", *selector)
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ACTIVE", "RECORDING", "INGEST", "NODE", "ID"]
    assert lines[2].split()[:5] == [f"fmt-{tag}-0", "OFFLINE", "yes", "off", "PUSH"]
    assert "LOCATION" not in table.stdout and "room 0" not in table.stdout
    wide = await cli.run("-o", "wide", "cameras", "list", *selector)
    assert "LOCATION" in wide.stdout and f"run={tag}" in wide.stdout and "room 1" in wide.stdout

    nothing = await cli.run("cameras", "list", "--filter", 'labels.run = "no-such-run"')
    assert nothing.code == 0 and nothing.stdout == "" and "Nothing found" in nothing.stderr
    empty_json = await cli.run("-o", "json", "cameras", "list", "--filter", 'name = "nope-x"')
    assert json.loads(empty_json.stdout) == []


async def test_refused_values_show_the_field_violations(cli: Cli) -> None:
    bad = await cli.run(
        "cameras", "create", f"bad-{secrets.token_hex(3)}", "--source-url", "ftp://example/x"
    )
    assert bad.code == 6, bad
    assert bad.stderr.startswith("Error: camera.source_url: must be")
    assert "Traceback" not in bad.stderr and bad.stdout == ""

    bad_label = await cli.run("cameras", "create", f"bad-{secrets.token_hex(3)}", "-l", "Bad Key=1")
    assert bad_label.code == 6, bad_label
    assert "labels" in bad_label.stderr

    syntax = await cli.run("cameras", "list", "--filter", 'status = ONLINE AND (name:"x"')
    assert syntax.code == 6, syntax
    assert "filter" in syntax.stderr and "position 20" in syntax.stderr, syntax

    usage = await cli.run("cameras", "create", "x", "--retention", "soon")
    assert usage.code == 2 and "--retention 'soon' is not a duration" in usage.stderr, usage
    nothing = await cli.run("cameras", "update", "whatever")
    assert nothing.code == 2 and "Nothing to change" in nothing.stderr, nothing


async def test_a_selector_acts_on_every_match_after_confirmation(
    cli: Cli, platform: Platform
) -> None:
    tag = secrets.token_hex(4)
    ids = [
        (await platform.new_camera(f"bulk-{tag}-{i}", labels={"batch": tag})).id for i in range(3)
    ]
    other = await platform.new_camera(f"bulk-other-{tag}")
    selector = f'labels.batch = "{tag}"'

    # No terminal to confirm on, no --yes: refused, nothing changed.
    unconfirmed = await cli.run("cameras", "deactivate", "--selector", selector)
    assert unconfirmed.code == 2, unconfirmed
    assert "3 camera(s)" in unconfirmed.stderr and "--yes" in unconfirmed.stderr
    assert all([(await _camera(platform, i)).active for i in ids])

    done = await cli.run("-o", "json", "cameras", "deactivate", "--selector", selector, "--yes")
    assert done.code == 0, done
    assert sorted(c["id"] for c in json.loads(done.stdout)) == sorted(ids)
    assert not any([(await _camera(platform, i)).active for i in ids])
    assert (await _camera(platform, other.id)).active

    both = await cli.run("cameras", "activate", ids[0], "--selector", selector)
    assert both.code == 2 and "not both" in both.stderr, both

    deleted = await cli.run("cameras", "delete", "--selector", selector, "-y")
    assert deleted.code == 0, deleted
    assert "Deleted 3 camera(s)" in deleted.stdout
    left = await cli.run("-o", "json", "cameras", "list", "--filter", selector)
    assert json.loads(left.stdout) == []
    assert (await _camera(platform, other.id)).id == other.id
