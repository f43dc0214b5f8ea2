"""`camfleet alerts policies|notifications|deliveries`, `camfleet analytics schedules` and a
camera's `--ladder` against a live control plane of its own (tests/cli/conftest.py): a
notification policy created, listed, changed and deleted; a test notification delivered to a
real webhook receiver and found in the notifications and the delivery log; a report schedule
run now and mailed to a real SMTP server (aiosmtpd); a ladder stored and read back; refused
values as exit 6 with the field named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.alert_receivers import plain_smtp_server, webhook_receiver
from harness.ports import free_port
from tests.cli.cli_process import Cli, Result
from tests.conftest import PlatformFactory
from tests.support.assertions import eventually
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


def data(done: Result) -> object:
    assert done.code == 0, done
    return json.loads(done.stdout)


async def test_policies_notifications_and_the_delivery_log(cli: Cli) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    made = await cli.run("alerts", "channels", "create", "policy-hook", "webhook", f"url={url}")
    assert made.code == 0, made
    secret = re.search(r"Signing secret \(shown once\): (\S+)", made.stderr)
    assert secret, made
    channels = data(await cli.run("-o", "json", "alerts", "channels", "list"))
    assert isinstance(channels, list)
    (channel_id,) = [c["id"] for c in channels if c["name"] == "policy-hook"]

    policy = data(
        await cli.run(
            "-o",
            "json",
            "alerts",
            "policies",
            "create",
            "north-critical",
            "--channel",
            channel_id,
            "-m",
            "site=north",
            "-m",
            "rule!=noisy",
            "--severity",
            "critical",
            "--group-by",
            "rule",
            "--group-wait",
            "10s",
            "--repeat",
            "1h",
            "--order",
            "5",
        )
    )
    assert isinstance(policy, dict)
    assert policy["channel_ids"] == [channel_id] and policy["order"] == 5
    assert policy["severities"] == ["ALERT_SEVERITY_CRITICAL"] and policy["group_by"] == ["rule"]
    assert policy["group_wait"] == "10s" and policy["repeat_interval"] == "3600s"
    assert [(m["name"], m["operator"]) for m in policy["matchers"]] == [
        ("site", "OPERATOR_EQUAL"),
        ("rule", "OPERATOR_NOT_EQUAL"),
    ]
    assert policy["send_resolved"] is True  # unset on create: true

    listed = await cli.run("alerts", "policies", "list")
    assert listed.code == 0 and "north-critical" in listed.stdout, listed
    assert "site=north, rule!=noisy" in listed.stdout, listed
    by_name = data(await cli.run("-o", "json", "alerts", "policies", "get", "north-critical"))
    assert isinstance(by_name, dict) and by_name["id"] == policy["id"]

    changed = data(
        await cli.run(
            "-o",
            "json",
            "alerts",
            "policies",
            "update",
            policy["id"],
            "--repeat",
            "2h",
            "--no-send-resolved",
            "--name",
            "north-critical-2",
        )
    )
    assert isinstance(changed, dict)
    assert changed["repeat_interval"] == "7200s" and changed["send_resolved"] is False
    assert changed["name"] == "north-critical-2" and changed["group_wait"] == "10s"

    too_long = await cli.run("alerts", "policies", "update", policy["id"], "--group-wait", "2h")
    assert too_long.code == 6 and "group_wait" in too_long.stderr, too_long
    no_channel = await cli.run("alerts", "policies", "create", "nowhere")
    assert no_channel.code == 6 and "channel_ids" in no_channel.stderr, no_channel
    bad_severity = await cli.run(
        "alerts", "policies", "create", "x", "--channel", channel_id, "--severity", "dire"
    )
    assert bad_severity.code == 2 and "critical" in bad_severity.stderr, bad_severity

    deleted = await cli.run("alerts", "policies", "delete", policy["id"], "-y")
    assert deleted.code == 0, deleted
    after = await cli.run("alerts", "policies", "list")
    assert "north-critical" not in after.stdout, after
    gone = await cli.run("alerts", "policies", "get", policy["id"])
    assert gone.code == 5, gone

    # A test send reaches a real receiver; the notification and its attempt are listed.
    async with webhook_receiver(secret[1], port=port) as receiver:
        queued = data(await cli.run("-o", "json", "alerts", "channels", "test", channel_id))
        assert isinstance(queued, dict)
        note_id = queued["notification_id"]

        async def delivered() -> list[str]:
            return [r.webhook_id for r in receiver.received]

        await eventually(delivered, lambda ids: note_id in ids, within_seconds=60)

        async def log() -> object:
            return data(await cli.run("-o", "json", "alerts", "deliveries", note_id))

        attempts = await eventually(log, bool, within_seconds=60)
    assert isinstance(attempts, list) and attempts, attempts
    assert attempts[0]["ok"] is True and attempts[0]["notification_id"] == note_id
    assert attempts[0]["response_code"] in (200, 204)
    by_channel = await cli.run("alerts", "deliveries", channel_id)
    assert by_channel.code == 0 and note_id in by_channel.stdout, by_channel

    notes = data(
        await cli.run(
            "-o",
            "json",
            "alerts",
            "notifications",
            "list",
            "--filter",
            f'channel_id = "{channel_id}"',
        )
    )
    assert isinstance(notes, list)
    assert [(n["id"], n["kind"]) for n in notes] == [(note_id, "NOTIFICATION_KIND_TEST")]
    table = await cli.run("alerts", "notifications", "list")
    assert table.code == 0 and note_id in table.stdout and "TEST" in table.stdout, table
    bad_filter = await cli.run("alerts", "notifications", "list", "--filter", "status ! failed")
    assert bad_filter.code == 6 and "position 7" in bad_filter.stderr, bad_filter

    resumed = data(await cli.run("-o", "json", "alerts", "channels", "resume", channel_id))
    assert isinstance(resumed, dict) and resumed["paused"] is False

    preview = await cli.run("alerts", "rules", "preview", "--kind", "camera_offline")
    assert preview.code == 0 and "evaluated" in preview.stderr, preview


async def test_report_schedules_run_now_and_mail_the_report(cli: Cli) -> None:
    with plain_smtp_server() as mailbox:
        made = await cli.run(
            "-o", "json", "alerts", "channels", "create", "reports-mail", "email",
            "smtp_host=127.0.0.1", f"smtp_port={mailbox.port}", "security=none",
            "from=camfleet@example.test", "to=ops@example.test",
        )  # fmt: skip
        channel = data(made)
        assert isinstance(channel, dict)
        created = data(
            await cli.run(
                "-o",
                "json",
                "analytics",
                "schedules",
                "create",
                "weekly-storage",
                "--channel",
                channel["id"],
                "--kind",
                "storage",
                "--format",
                "csv",
                "--period",
                "weekly",
            )
        )
        assert isinstance(created, dict)
        assert (
            created["kind"] == "REPORT_KIND_STORAGE" and created["period"] == "REPORT_PERIOD_WEEKLY"
        )
        assert created["enabled"] is True and created["next_run_time"]
        listed = await cli.run("analytics", "schedules", "list")
        assert listed.code == 0 and "weekly-storage" in listed.stdout, listed

        ran = data(await cli.run("-o", "json", "analytics", "schedules", "run", created["id"]))
        assert isinstance(ran, dict)
        assert ran["last_error"] == "" and ran["last_run_time"], ran
        assert ran["next_run_time"] == created["next_run_time"]  # a run now keeps the calendar
        message = mailbox.message()
        attachments = [p.get_filename() for p in message.iter_attachments()]
        assert any(name and name.endswith(".csv") for name in attachments), attachments

    disabled = data(
        await cli.run("-o", "json", "analytics", "schedules", "update", created["id"], "--disabled")
    )
    assert isinstance(disabled, dict) and disabled["enabled"] is False

    bad_format = await cli.run(
        "analytics", "schedules", "create", "x", "--channel", channel["id"], "--format", "docx"
    )
    assert bad_format.code == 2 and "xlsx" in bad_format.stderr, bad_format
    hooks = await cli.run(
        "alerts", "channels", "create", "not-mail", "webhook", "url=http://127.0.0.1:9/hook"
    )
    assert hooks.code == 0, hooks
    all_channels = data(await cli.run("-o", "json", "alerts", "channels", "list"))
    assert isinstance(all_channels, list)
    (hook_id,) = [c["id"] for c in all_channels if c["name"] == "not-mail"]
    not_mail = await cli.run("analytics", "schedules", "create", "y", "--channel", hook_id)
    # A webhook cannot carry a report: the state of the channel refuses it (exit 8, conflict).
    assert not_mail.code == 8 and "needs an e-mail channel" in not_mail.stderr, not_mail

    deleted = await cli.run("analytics", "schedules", "delete", created["id"], "--yes")
    assert deleted.code == 0, deleted
    after = await cli.run("analytics", "schedules", "list")
    assert "weekly-storage" not in after.stdout, after
    again = await cli.run("analytics", "schedules", "run", created["id"])
    assert again.code == 5, again


async def test_a_camera_ladder_is_stored_and_read_back(cli: Cli) -> None:
    created = data(
        await cli.run("-o", "json", "cameras", "create", "ladder-lobby", "--ladder", "source,360p")
    )
    assert isinstance(created, dict) and created["live_ladder"] == ["source", "360p"]
    read = data(await cli.run("-o", "json", "cameras", "get", "ladder-lobby"))
    assert isinstance(read, dict) and read["live_ladder"] == ["source", "360p"]
    shown = await cli.run("cameras", "get", "ladder-lobby")
    assert "source,360p" in shown.stdout, shown

    wider = data(
        await cli.run(
            "-o", "json", "cameras", "update", "ladder-lobby", "--ladder", "source, 720p, 360p"
        )
    )
    assert isinstance(wider, dict) and wider["live_ladder"] == ["source", "720p", "360p"]
    default = data(await cli.run("-o", "json", "cameras", "update", "ladder-lobby", "--ladder", ""))
    assert isinstance(default, dict) and default["live_ladder"] == []
    shown = await cli.run("cameras", "get", "ladder-lobby")
    assert "(settings default)" in shown.stdout, shown

    odd = await cli.run("cameras", "update", "ladder-lobby", "--ladder", "source,361p")
    assert odd.code == 6 and "live_ladder" in odd.stderr and "361p" in odd.stderr, odd
    refused = await cli.run("cameras", "create", "ladder-x", "--ladder", "4k")
    assert refused.code == 6 and "live_ladder" in refused.stderr, refused
