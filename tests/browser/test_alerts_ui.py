"""Alerting in the browser UI (issue 13), as an operator sets it up and answers it in Debian's
chromium against `./start`: a webhook channel created in the UI shows its generated signing
secret once and then only "set", and its Send test shows in its delivery log; a notification
policy routes to it; a camera-offline rule (for 0) previews the offline camera live as the form
is filled, and once saved its alert fires: listed under Firing with its severity, summary and
labels, counted in the navigation and on the dashboard; acknowledged with a comment, then
silenced for an hour (the silence matching the rule and the camera, listed on the Silences page).
A pending alert is silenced "until …" (a past or too distant end refused in words), fires once
its rule is edited to `for 0`, is acknowledged and un-acknowledged, and resolves when its rule is
deleted; the silence is expired from its page. A viewer (no alerts.read) has no Alerts entry and
reads the refusal on the page. The webhook receiver is a real HTTP server on loopback."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from camfleet.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    user_pb2,
    user_pb2_grpc,
)
from google.protobuf import duration_pb2
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.helpers import admin_rpc, goto, log_in, wait_for
from tests.support.local_platform import LocalPlatform


class Receiver:
    """A webhook receiver on loopback that answers 204 and keeps what it was sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _offline_camera(platform: LocalPlatform, name: str, tag: str) -> camera_pb2.Camera:
    """A push camera nobody publishes to: OFFLINE from the start, labelled for the rule."""
    with admin_rpc(platform) as (channel, auth):
        return (
            camera_pb2_grpc.CameraServiceStub(channel)
            .CreateCamera(
                camera_pb2.CreateCameraRequest(
                    camera=camera_pb2.Camera(
                        name=name,
                        ingest_mode=camera_pb2.INGEST_MODE_PUSH,
                        labels={"alerttest": tag},
                    )
                ),
                metadata=auth,
                timeout=30,
            )
            .camera
        )


def _rule(platform: LocalPlatform, name: str, tag: str, for_s: int) -> alert_pb2.AlertRule:
    """A camera-offline rule over the cameras labelled `tag`, made behind the browser's back."""
    with admin_rpc(platform) as (channel, auth):
        return (
            alert_pb2_grpc.AlertServiceStub(channel)
            .CreateAlertRule(
                alert_pb2.CreateAlertRuleRequest(
                    rule=alert_pb2.AlertRule(
                        name=name,
                        condition=alert_pb2.AlertCondition(
                            camera_offline=alert_pb2.CameraOfflineCondition()
                        ),
                        severity=alert_pb2.ALERT_SEVERITY_CRITICAL,
                        match_labels={"alerttest": tag},
                        enabled=True,
                        **{"for": duration_pb2.Duration(seconds=for_s)},
                    )
                ),
                metadata=auth,
                timeout=30,
            )
            .rule
        )


def _notifications(platform: LocalPlatform, channel_id: str) -> list[alert_pb2.Notification]:
    with admin_rpc(platform) as (channel, auth):
        return list(
            alert_pb2_grpc.AlertServiceStub(channel)
            .ListNotifications(
                alert_pb2.ListNotificationsRequest(filter=f'channel_id = "{channel_id}"'),
                metadata=auth,
                timeout=30,
            )
            .notifications
        )


def _channel_id(platform: LocalPlatform, name: str) -> str:
    with admin_rpc(platform) as (channel, auth):
        found = alert_pb2_grpc.AlertServiceStub(channel).ListChannels(
            alert_pb2.ListChannelsRequest(page_size=100), metadata=auth, timeout=30
        )
    [ch] = [c for c in found.channels if c.name == name]
    return ch.id


def _create_channel_and_policy(
    page: Page, platform: LocalPlatform, hook: str, receiver: Receiver
) -> str:
    page.get_by_test_id("nav-alerts").click()
    page.get_by_test_id("alerts-tab-channels").click()
    page.get_by_test_id("channel-new").click()
    page.get_by_test_id("channel-name").fill(hook)
    # Another scheme is refused in words before anything is sent.
    page.get_by_test_id("channel-url").fill("ftp://127.0.0.1/hook")
    page.get_by_test_id("channel-save").click()
    expect(page.get_by_test_id("channel-problems")).to_have_text(
        "URL: an http:// or https:// address is needed."
    )
    page.get_by_test_id("channel-url").fill(receiver.url)
    page.get_by_test_id("channel-save").click()
    # No secret typed: the server made one, shown once.
    expect(page.get_by_test_id("channel-generated-secret")).to_have_text(re.compile(r"^whsec_\S+$"))
    page.keyboard.press("Escape")
    row = page.locator(f'[data-testid="channel-row"][data-name="{hook}"]')
    expect(row.get_by_test_id("channel-secret-set")).to_have_text("set")
    expect(row).to_contain_text(receiver.url)
    expect(row.get_by_test_id("channel-unused")).to_be_visible()
    channel_id = _channel_id(platform, hook)

    # Send test: the test notification is in the channel's delivery log, delivered to the
    # receiver; closing the log, the channel's health says it delivered.
    row.get_by_test_id("channel-test").click()
    log = page.get_by_test_id("delivery-log")
    test_row = log.locator('[data-testid="notification-row"][data-kind="test"]')
    expect(test_row).to_have_count(1)
    wait_for(
        lambda: [b.get("kind") for b in receiver.bodies],
        lambda kinds: kinds == ["test"],
        "the receiver got the test notification",
        within_s=60,
    )
    expect(test_row).to_have_attribute("data-status", "delivered")
    page.keyboard.press("Escape")
    expect(log).to_have_count(0)
    expect(row.get_by_test_id("channel-ok")).to_be_visible()
    assert [n.kind for n in _notifications(platform, channel_id)] == [
        alert_pb2.NOTIFICATION_KIND_TEST
    ]

    # A policy sending every alert to it, told at once.
    page.get_by_test_id("alerts-tab-policies").click()
    page.get_by_test_id("policy-new").click()
    page.get_by_test_id("policy-name").fill(f"{hook} policy")
    page.get_by_test_id("policy-channels").click()
    page.get_by_role("option", name=hook).click()
    page.get_by_test_id("policy-group-wait").fill("0s")
    page.get_by_test_id("policy-save").click()
    policy = page.locator(f'[data-testid="policy-row"][data-name="{hook} policy"]')
    expect(policy).to_contain_text(hook)
    expect(policy).to_contain_text("wait 0s")
    screenshot(page, "alerts-policies")
    return channel_id


@pytest.mark.timeout(300)
def test_an_offline_camera_fires_a_rule_made_in_the_ui_and_is_acknowledged_and_silenced(
    page: Page, local_platform: LocalPlatform, receiver: Receiver
) -> None:
    tag = secrets.token_hex(3)
    camera_name, rule, hook = f"Yard {tag}", f"offline {tag}", f"ops hook {tag}"
    camera = _offline_camera(local_platform, camera_name, tag)
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    expect(page.get_by_test_id("nav-alerts")).to_be_visible()
    expect(page.get_by_test_id("nav-firing-count")).to_have_count(0)

    _create_channel_and_policy(page, local_platform, hook, receiver)

    # The rule editor previews what the rule would fire for as the form changes.
    page.get_by_test_id("alerts-tab-rules").click()
    page.get_by_test_id("rule-new").click()
    page.get_by_test_id("rule-name").fill(rule)
    page.get_by_test_id("rule-for").fill("ten minutes")
    expect(page.get_by_test_id("rule-preview-waiting")).to_contain_text(
        "“ten minutes” is not a duration"
    )
    page.get_by_test_id("rule-for").fill("0s")
    page.get_by_test_id("rule-match-labels").fill(f"alerttest={tag}")
    preview = page.get_by_test_id("rule-preview")
    expect(preview.get_by_test_id("rule-preview-alert")).to_have_count(1)
    expect(preview.get_by_test_id("rule-preview-alert")).to_contain_text("firing")
    expect(preview.get_by_test_id("rule-preview-alert")).to_contain_text(camera_name)
    # A label no camera holds: the preview follows, nothing would fire.
    page.get_by_test_id("rule-match-labels").fill(f"alerttest=no-{tag}")
    expect(preview.get_by_test_id("rule-preview-alert")).to_have_count(0)
    expect(preview.get_by_test_id("rule-preview-count")).to_contain_text("Would fire for nothing")
    page.get_by_test_id("rule-match-labels").fill(f"alerttest={tag}")
    expect(preview.get_by_test_id("rule-preview-alert")).to_have_count(1)
    screenshot(page, "alerts-rule-editor")
    page.get_by_test_id("rule-save").click()
    expect(page.locator(f'[data-testid="rule-row"][data-name="{rule}"]')).to_contain_text(
        "Camera offline"
    )

    # It fires: counted in the navigation, listed under Firing with what it is about.
    expect(page.get_by_test_id("nav-firing-count")).to_have_text("1", timeout=60_000)
    page.get_by_test_id("alerts-tab-alerts").click()
    alert = page.locator(f'[data-testid="alert-row"][data-rule="{rule}"]')
    expect(alert).to_have_attribute("data-state", "firing")
    expect(alert.get_by_test_id("alert-severity")).to_have_text("warning")
    expect(alert.get_by_test_id("alert-summary")).to_contain_text(camera_name)
    expect(alert.get_by_test_id("alert-labels")).to_contain_text(f"camera_name={camera_name}")
    expect(alert.get_by_test_id("alert-labels")).to_contain_text(f"alerttest={tag}")
    expect(page.get_by_test_id("alerts-count-firing")).to_have_text("1")
    screenshot(page, "alerts-firing")

    # The policy told the webhook at once (group wait 0): a firing notification naming the
    # camera, delivered, in the channel's delivery log with its successful attempt.
    fired = wait_for(
        lambda: [b for b in receiver.bodies if b.get("kind") == "firing"],
        lambda bodies: len(bodies) == 1,
        "the receiver got the firing notification",
        within_s=60,
    )
    assert camera_name in str(fired[0].get("summary")), fired
    page.get_by_test_id("alerts-tab-channels").click()
    page.locator(f'[data-testid="channel-row"][data-name="{hook}"]').get_by_test_id(
        "channel-log"
    ).click()
    log = page.get_by_test_id("delivery-log")
    firing = log.locator('[data-testid="notification-row"][data-kind="firing"]')
    expect(firing).to_have_attribute("data-status", "delivered")
    expect(firing).to_contain_text(camera_name)
    expect(log.locator('[data-testid="attempt-row"][data-ok="true"]')).to_have_count(2)
    expect(log.get_by_test_id("attempt-table")).to_contain_text("ok 204")
    screenshot(page, "alerts-delivery-log")
    page.keyboard.press("Escape")
    page.get_by_test_id("alerts-tab-alerts").click()

    # Acknowledged with a comment.
    alert.get_by_test_id("alert-ack").click()
    page.get_by_test_id("ack-comment").fill("replacing its cable")
    page.get_by_test_id("ack-save").click()
    expect(alert.get_by_test_id("alert-acknowledged")).to_contain_text("replacing its cable")
    expect(alert).to_have_attribute("data-acknowledged", "true")

    # Silenced for an hour: a silence on its rule and camera, listed as active.
    alert.get_by_test_id("alert-silence").click()
    page.get_by_test_id("alert-silence-1h").click()
    expect(alert).to_have_attribute("data-silenced", "true")
    expect(alert.get_by_test_id("alert-silenced")).to_be_visible()
    page.get_by_test_id("alerts-tab-silences").click()
    silence = page.locator('[data-testid="silence-row"]', has_text=f'rule="{rule}"')
    expect(silence).to_have_count(1)
    expect(silence).to_have_attribute("data-state", "active")
    expect(silence).to_contain_text(f'rule="{rule}"')
    expect(silence).to_contain_text(f'camera="{camera.id}"')
    expect(silence).to_contain_text("1 alert")

    # The dashboard counts it too (acknowledged and silenced, it still fires).
    page.get_by_test_id("nav-dashboard").click()
    expect(page.get_by_test_id("count-firing")).to_have_text("1")
    expect(page.get_by_test_id("dashboard-alert")).to_contain_text(camera_name)
    screenshot(page, "alerts-dashboard")


@pytest.mark.timeout(300)
def test_a_pending_alert_silenced_until_a_time_fires_once_its_rule_is_edited_and_resolves_with_it(
    page: Page, local_platform: LocalPlatform
) -> None:
    tag = secrets.token_hex(3)
    camera_name, rule = f"Dock {tag}", f"dock offline {tag}"
    camera = _offline_camera(local_platform, camera_name, tag)
    _rule(local_platform, rule, tag, for_s=3600)
    log_in(page, local_platform.url, "admin", local_platform.admin_password)

    # Pending for an hour: under Pending, not Firing.
    page.get_by_test_id("nav-alerts").click()
    page.get_by_test_id("alerts-state-pending").click()
    alert = page.locator(f'[data-testid="alert-row"][data-rule="{rule}"]')
    expect(alert).to_have_attribute("data-state", "pending")
    expect(alert.get_by_test_id("alert-severity")).to_have_text("critical")
    expect(alert).to_contain_text("pending since")

    # Silence until …: prefilled with the rule and the camera; a time already past is refused
    # in words; a later one creates an active silence that marks the alert.
    alert.get_by_test_id("alert-silence").click()
    page.get_by_test_id("alert-silence-until").click()
    expect(page.get_by_test_id("silence-matchers")).to_have_value(
        f"rule={rule}\ncamera={camera.id}"
    )
    page.get_by_test_id("silence-until").fill("2020-01-01T10:00")
    page.get_by_test_id("silence-save").click()
    expect(page.get_by_test_id("silence-problems")).to_have_text(
        "Until: must be later than the start and than now."
    )
    page.get_by_test_id("silence-until").fill("2099-01-01T10:00")
    page.get_by_test_id("silence-save").click()
    expect(page.get_by_test_id("silence-problems")).to_have_text(
        "Until: a silence lasts at most a year."
    )
    later = datetime.now() + timedelta(days=30)  # the browser's local time is this machine's
    page.get_by_test_id("silence-until").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_test_id("silence-comment").fill("dock rebuilt")
    page.get_by_test_id("silence-save").click()
    expect(page.get_by_test_id("silence-form")).to_have_count(0)
    expect(alert).to_have_attribute("data-silenced", "true")

    # Its rule edited in the UI to fire at once: the alert moves to Firing.
    page.get_by_test_id("alerts-tab-rules").click()
    row = page.locator(f'[data-testid="rule-row"][data-name="{rule}"]')
    expect(row).to_contain_text("for 1h")
    row.get_by_test_id("rule-actions").click()
    page.get_by_test_id("rule-edit").click()
    expect(page.get_by_test_id("rule-name")).to_have_value(rule)
    expect(page.get_by_test_id("rule-match-labels")).to_have_value(f"alerttest={tag}")
    # The preview of the stored rule says pending; with for 0 it says firing.
    preview = page.get_by_test_id("rule-preview-alert")
    expect(preview).to_contain_text("pending")
    page.get_by_test_id("rule-for").fill("0")
    expect(preview).to_contain_text("firing")
    page.get_by_test_id("rule-save").click()
    expect(row).to_contain_text("for 0s")
    page.get_by_test_id("alerts-tab-alerts").click()
    expect(alert).to_have_attribute("data-state", "firing", timeout=60_000)

    # Acknowledged, then the acknowledgement withdrawn.
    alert.get_by_test_id("alert-ack").click()
    page.get_by_test_id("ack-save").click()
    expect(alert).to_have_attribute("data-acknowledged", "true")
    expect(alert.get_by_test_id("alert-acknowledged")).to_contain_text("acknowledged by admin")
    alert.get_by_test_id("alert-unack").click()
    expect(alert).to_have_attribute("data-acknowledged", "false")
    expect(alert.get_by_test_id("alert-acknowledged")).to_have_count(0)

    # The silence, listed with its comment, ended now: it moves to Expired.
    page.get_by_test_id("alerts-tab-silences").click()
    silence = page.locator('[data-testid="silence-row"]', has_text="dock rebuilt")
    expect(silence).to_have_attribute("data-state", "active")
    screenshot(page, "alerts-silences")
    silence.get_by_test_id("silence-expire").click()
    expect(silence).to_have_count(0)
    page.get_by_text("Expired", exact=True).click()
    expect(
        page.locator('[data-testid="silence-row"][data-state="expired"]', has_text="dock rebuilt")
    ).to_have_count(1)

    # The rule deleted in the UI: its alert resolves.
    page.get_by_test_id("alerts-tab-rules").click()
    row.get_by_test_id("rule-actions").click()
    page.get_by_test_id("rule-delete").click()
    page.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    page.get_by_test_id("alerts-tab-alerts").click()
    page.get_by_test_id("alerts-state-resolved").click()
    expect(alert).to_have_attribute("data-state", "resolved")
    expect(alert).to_contain_text("resolved")
    expect(alert.get_by_test_id("alert-ack")).to_have_count(0)


def test_a_viewer_has_no_alerts_entry_and_is_told_why_on_the_page(
    page: Page, local_platform: LocalPlatform
) -> None:
    username, password = f"viewer{secrets.token_hex(3)}", "a viewer's long passphrase"
    with admin_rpc(local_platform) as (channel, auth):
        user_pb2_grpc.UserServiceStub(channel).CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=username, role=common_pb2.ROLE_VIEWER),
                password=password,
            ),
            metadata=auth,
            timeout=30,
        )
    log_in(page, local_platform.url, username, password)
    expect(page.get_by_test_id("nav-cameras")).to_be_visible()
    expect(page.get_by_test_id("nav-alerts")).to_have_count(0)
    expect(page.get_by_test_id("dashboard-alerts")).to_have_count(0)
    goto(page, f"{local_platform.url}/#/alerts")
    expect(page.get_by_test_id("error")).to_contain_text("Your account is not allowed to do this.")


def test_channel_secrets_are_write_only_in_the_forms(
    page: Page, local_platform: LocalPlatform
) -> None:
    tag = secrets.token_hex(3)
    mail, sms = f"mail {tag}", f"sms {tag}"
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    page.get_by_test_id("nav-alerts").click()
    page.get_by_test_id("alerts-tab-channels").click()

    # An e-mail channel with an SMTP password: stored, shown only as "set".
    page.get_by_test_id("channel-new").click()
    page.get_by_test_id("channel-name").fill(mail)
    page.get_by_test_id("channel-kind").get_by_text("Email").click()
    page.get_by_test_id("channel-smtp-host").fill("127.0.0.1")
    page.get_by_test_id("channel-smtp-port").fill("2525")
    page.get_by_test_id("channel-password").fill("smtp-pass-1")
    page.get_by_test_id("channel-from").fill("camfleet@example.org")
    page.get_by_test_id("channel-to").fill("ops@example.org, night@example.org")
    page.get_by_test_id("channel-save").click()
    row = page.locator(f'[data-testid="channel-row"][data-name="{mail}"]')
    expect(row.get_by_test_id("channel-secret-set")).to_have_text("set")
    expect(row).to_contain_text("ops@example.org, night@example.org via 127.0.0.1")
    expect(page.get_by_test_id("channel-generated-secret")).to_have_count(0)

    # Editing it: the password input is empty and says a password is stored; saving another
    # recipient without typing one keeps it.
    row.get_by_test_id("channel-actions").click()
    page.get_by_test_id("channel-edit").click()
    password = page.get_by_test_id("channel-password")
    expect(password).to_have_value("")
    expect(password).to_have_attribute("placeholder", "set")
    expect(page.get_by_text("Stored: leave empty to keep it, or type a new one")).to_be_visible()
    page.get_by_test_id("channel-to").fill("ops@example.org")
    page.get_by_test_id("channel-save").click()
    expect(row).to_contain_text("ops@example.org via 127.0.0.1")
    expect(row.get_by_test_id("channel-secret-set")).to_have_text("set")
    with admin_rpc(local_platform) as (channel, auth):
        stored = alert_pb2_grpc.AlertServiceStub(channel).GetChannel(
            alert_pb2.GetChannelRequest(id=_channel_id(local_platform, mail)),
            metadata=auth,
            timeout=30,
        )
    assert stored.channel.secret_set and not stored.channel.email.password

    # An SMS channel through Kannel: no number is refused in words, then it is created.
    page.get_by_test_id("channel-new").click()
    page.get_by_test_id("channel-name").fill(sms)
    page.get_by_test_id("channel-kind").get_by_text("SMS").click()
    page.get_by_test_id("channel-sms-provider").click()
    page.get_by_role("option", name="Kannel sendsms", exact=True).click()
    page.get_by_test_id("channel-sms-url").fill("http://127.0.0.1:13013/cgi-bin/sendsms")
    page.get_by_test_id("channel-token").fill("kannel-pass")
    page.get_by_test_id("channel-save").click()
    expect(page.get_by_test_id("channel-problems")).to_have_text("To: 1 to 20 numbers.")
    page.get_by_test_id("channel-sms-to").fill("+15550001")
    page.get_by_test_id("channel-save").click()
    # What only the server checks comes back as its sentence, naming the field.
    expect(page.get_by_test_id("channel-error")).to_contain_text(
        "Some of what was entered is not valid."
    )
    expect(page.get_by_test_id("channel-error")).to_contain_text("sms.account")
    page.get_by_test_id("channel-sms-account").fill("camfleet")
    page.get_by_test_id("channel-sms-from").fill("camfleet")
    page.get_by_test_id("channel-save").click()
    sms_row = page.locator(f'[data-testid="channel-row"][data-name="{sms}"]')
    expect(sms_row).to_contain_text("+15550001 via Kannel")
    expect(sms_row.get_by_test_id("channel-secret-set")).to_have_text("set")
    screenshot(page, "alerts-channels")


def test_every_condition_kind_form_makes_a_rule_the_server_previews(
    page: Page, local_platform: LocalPlatform
) -> None:
    """Each kind's form with its default thresholds is a rule the server accepts: its preview
    answers (how many it checked) instead of refusing it."""
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    page.get_by_test_id("nav-alerts").click()
    page.get_by_test_id("alerts-tab-rules").click()
    page.get_by_test_id("rule-new").click()
    page.get_by_test_id("rule-name").fill(f"kinds {secrets.token_hex(3)}")
    kinds = {
        "Camera in error": "cameraError",
        "Recording gap": "recordingGap",
        "Recorder crash loop": "recorderCrashLoop",
        "Node lost": "nodeLost",
        "Node disk": "nodeDisk",
        "Stream quality": "streamQuality",
        "Failed logins": "failedLogins",
        "API token from a new address": "tokenNewAddress",
        "Camera offline": "cameraOffline",
    }
    preview = page.get_by_test_id("rule-preview")
    for label, case in kinds.items():
        page.get_by_test_id("rule-kind").click()
        page.get_by_role("option", name=label, exact=True).click()
        # The preview answered for this kind: what it checked, no refusal.
        expect(preview).to_have_attribute("data-answered", case)
        expect(preview).to_have_attribute("data-outcome", "ok")
        expect(page.get_by_test_id("rule-preview-count")).to_contain_text("checked")
    # A threshold out of range is named in the form, and the preview waits for it.
    page.get_by_test_id("rule-kind").click()
    page.get_by_role("option", name="Failed logins", exact=True).click()
    page.get_by_test_id("rule-login-count").fill("0")
    expect(page.get_by_test_id("rule-preview-waiting")).to_contain_text(
        "Failed logins: must be between 1 and 100000."
    )
