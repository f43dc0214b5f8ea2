"""`camfleet settings` and `camfleet events watch` against a live control plane of its own
(settings changes would reach the other tests of a shared one; tests/cli/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.cli_process import Cli, running
from tests.conftest import PlatformFactory
from tests.support.platform import ADMIN_PASSWORD, Platform

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def plane(make_platform: PlatformFactory) -> Platform:
    return await make_platform()


@pytest.fixture
async def cli(plane: Platform, tmp_path: Path) -> Cli:
    c = Cli(tmp_path / "cli")
    await c.login(plane.target, "admin", ADMIN_PASSWORD)
    return c


async def test_settings_set_get_round_trip_and_a_stale_version_is_refused(cli: Cli) -> None:
    before = await cli.run("-o", "json", "settings", "get", "recording")
    assert before.code == 0, before
    version = json.loads(before.stdout)["revision"]["version"]

    changed = await cli.run(
        "settings", "set", "recording", "segment_length=4s", "default_retention_days=9",
        "default_profile=low", "--version", version,
    )  # fmt: skip
    assert changed.code == 0, changed
    assert f"now version {int(version) + 1}" in changed.stdout, changed

    table = await cli.run("settings", "get", "recording")
    assert table.code == 0, table
    cells = [line.split() for line in table.stdout.splitlines()]
    rows = {c[1]: c[2:4] for c in cells if len(c) >= 4 and c[0] == "recording"}
    assert rows["segment_length"] == ["4s", str(int(version) + 1)], table.stdout
    assert rows["default_retention_days"][0] == "9", table.stdout
    assert rows["default_profile"][0] == "low", table.stdout

    as_yaml = yaml.safe_load((await cli.run("-o", "yaml", "settings", "get", "recording")).stdout)
    assert as_yaml["segment_length"] == "4s"
    assert as_yaml["default_profile"] == "RECORDING_PROFILE_LOW"

    # The version read before the change is stale now: refused, nothing changed.
    stale = await cli.run(
        "settings", "set", "recording", "default_retention_days=30", "--version", version
    )
    assert stale.code == 8, stale
    assert "changed since version" in stale.stderr and "nothing was changed" in stale.stderr, stale
    assert "Traceback" not in stale.stderr
    after = json.loads((await cli.run("-o", "json", "settings", "get", "recording")).stdout)
    assert after["default_retention_days"] == 9

    history = await cli.run("settings", "history", "recording")
    assert history.code == 0, history
    assert "default_retention_days: 0 -> 9" in history.stdout or (
        "default_retention_days:" in history.stdout and "-> 9" in history.stdout
    ), history.stdout


async def test_settings_mistakes_are_sentences(cli: Cli) -> None:
    unknown_group = await cli.run("settings", "get", "bogus")
    assert unknown_group.code == 2, unknown_group
    assert "no settings group 'bogus'" in unknown_group.stderr, unknown_group

    unknown_field = await cli.run("settings", "set", "recording", "colour=blue")
    assert unknown_field.code == 2, unknown_field
    assert "no field 'colour'" in unknown_field.stderr and "segment_length" in unknown_field.stderr

    bad_value = await cli.run("settings", "set", "recording", "segment_length=soon")
    assert bad_value.code == 2, bad_value
    assert "not a duration" in bad_value.stderr, bad_value

    # The server's validation: the field violation is named.
    refused = await cli.run("settings", "set", "recording", "segment_length=2d")
    assert refused.code == 6, refused
    assert "segment_length" in refused.stderr, refused


async def test_a_watch_sees_a_settings_change_made_by_another_call(cli: Cli) -> None:
    async with running(
        cli, "-o", "json", "events", "watch", "--filter", "type = SETTINGS_CHANGED"
    ) as watch:
        # From the revision it announces on, nothing is missed (a change made before would be).
        await watch.until("Watching from revision", stderr=True)
        changed = await cli.run("settings", "set", "streaming", "hls_playlist_length=12s")
        assert changed.code == 0, changed
        line = await watch.until("settings/streaming")
        event = json.loads(line)
        assert event["type"] == "EVENT_TYPE_SETTINGS_CHANGED"
        assert int(event["revision"]) > 0
