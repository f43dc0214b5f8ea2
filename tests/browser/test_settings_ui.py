"""Settings in the browser UI (issue 14), as an administrator uses them in Debian's chromium
against `./start`: a segment length saved on the Recording page is what GetSettings then returns
(with the next version, and a history row saying who changed it from what to what); a negative
segment length shows, at the field, the very sentence the server gives for it; a change made
meanwhile by someone else is explained instead of overwritten, and Reload shows it; the SMTP
password is only ever "set" or "not set", replaced by typing a new one. An operator has no
Settings entry."""

from __future__ import annotations

import secrets

import grpc
import pytest
from camfleet.v1 import common_pb2, settings_pb2, settings_pb2_grpc, user_pb2, user_pb2_grpc
from google.protobuf import duration_pb2, field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import screenshot
from tests.browser.helpers import Metadata, admin_rpc, goto, log_in, nav_labels
from tests.support.local_platform import LocalPlatform

RECORDING = settings_pb2.SETTINGS_GROUP_RECORDING
NOTIFICATIONS = settings_pb2.SETTINGS_GROUP_NOTIFICATIONS


def _get(channel: grpc.Channel, auth: Metadata, group: int) -> settings_pb2.Settings:
    stub = settings_pb2_grpc.SettingsServiceStub(channel)
    return stub.GetSettings(
        settings_pb2.GetSettingsRequest(group=group),  # type: ignore[arg-type]
        metadata=auth,
        timeout=30,
    ).settings


def _set_segment_length(channel: grpc.Channel, auth: Metadata, seconds: int, version: int) -> None:
    settings_pb2_grpc.SettingsServiceStub(channel).UpdateSettings(
        settings_pb2.UpdateSettingsRequest(
            recording=settings_pb2.RecordingSettings(
                segment_length=duration_pb2.Duration(seconds=seconds)
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["segment_length"]),
            version=version,
        ),
        metadata=auth,
        timeout=30,
    )


def _violations(err: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, err
    out: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.update({v.field: v.description for v in bad.field_violations})
    return out


def _open(page: Page, platform: LocalPlatform, group: str) -> None:
    log_in(page, platform.url, "admin", platform.admin_password)
    page.get_by_test_id("nav-settings").click()
    page.get_by_test_id(f"settings-tab-{group}").click()
    expect(page.get_by_test_id("settings-form")).to_have_attribute("data-group", group)


def _field_error(page: Page, path: str) -> str:
    error = page.get_by_test_id(f"field-{path}").locator(".mantine-InputWrapper-error")
    expect(error).to_be_visible()
    return error.inner_text()


@pytest.mark.timeout(300)
def test_a_segment_length_saved_in_the_ui_is_what_the_api_returns(
    page: Page, local_platform: LocalPlatform
) -> None:
    with admin_rpc(local_platform) as (channel, auth):
        before = _get(channel, auth, RECORDING).recording
    seconds = 7 if before.segment_length.seconds != 7 else 8
    _open(page, local_platform, "recording")
    version = page.get_by_test_id("settings-version")
    expect(version).to_have_attribute("data-version", str(before.revision.version))
    field = page.get_by_test_id("setting-segment_length")
    expect(field).to_have_value(str(before.segment_length.seconds))
    field.fill(str(seconds))
    page.get_by_test_id("settings-save").click()
    expect(version).to_have_attribute("data-version", str(before.revision.version + 1))
    expect(field).to_have_value(str(seconds))

    with admin_rpc(local_platform) as (channel, auth):
        after = _get(channel, auth, RECORDING).recording
    assert after.segment_length.ToTimedelta().total_seconds() == seconds
    assert after.revision.version == before.revision.version + 1
    assert after.revision.updated_by == "admin"
    # Nothing else of the group changed: only the edited field was sent.
    assert after.default_profile == before.default_profile
    assert after.default_retention_days == before.default_retention_days

    row = page.locator(
        f'[data-testid="settings-history-row"][data-version="{after.revision.version}"]'
    )
    expect(row).to_contain_text("admin")
    expect(row.get_by_test_id("settings-history-field")).to_contain_text("segment_length")
    expect(row.get_by_test_id("settings-history-field")).to_contain_text(str(seconds))
    screenshot(page, "settings-recording")


@pytest.mark.timeout(300)
def test_a_negative_segment_length_shows_the_servers_sentence_at_the_field(
    page: Page, local_platform: LocalPlatform
) -> None:
    with admin_rpc(local_platform) as (channel, auth):
        current = _get(channel, auth, RECORDING).recording
        # What the server says of -5 s, asked directly (the same request the page sends).
        with pytest.raises(grpc.RpcError) as refused:
            _set_segment_length(channel, auth, -5, current.revision.version)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        said = _violations(refused.value)
    [(field, sentence)] = said.items()
    assert field.endswith("segment_length"), said

    _open(page, local_platform, "recording")
    page.get_by_test_id("setting-segment_length").fill("-5")
    page.get_by_test_id("settings-save").click()
    assert _field_error(page, "segment_length") == sentence
    expect(page.get_by_test_id("setting-segment_length")).to_have_attribute("aria-invalid", "true")
    with admin_rpc(local_platform) as (channel, auth):
        unchanged = _get(channel, auth, RECORDING).recording
    assert unchanged.revision.version == current.revision.version
    assert unchanged.segment_length == current.segment_length


@pytest.mark.timeout(300)
def test_a_change_made_meanwhile_is_explained_and_reload_shows_it(
    page: Page, local_platform: LocalPlatform
) -> None:
    _open(page, local_platform, "recording")
    version = page.get_by_test_id("settings-version")
    expect(version).to_have_attribute("data-version", str(_version(local_platform)))
    read_at = int(version.get_attribute("data-version") or "0")

    # Someone else saves first.
    with admin_rpc(local_platform) as (channel, auth):
        _set_segment_length(channel, auth, 9, read_at)

    page.get_by_test_id("setting-segment_length").fill("11")
    page.get_by_test_id("settings-save").click()
    conflict = page.get_by_test_id("settings-conflict")
    expect(conflict).to_contain_text(f"now at version {read_at + 1}")
    expect(conflict).to_contain_text("Nothing was saved")
    with admin_rpc(local_platform) as (channel, auth):
        assert _get(channel, auth, RECORDING).recording.segment_length.seconds == 9

    page.get_by_test_id("settings-reload").click()
    expect(version).to_have_attribute("data-version", str(read_at + 1))
    expect(page.get_by_test_id("setting-segment_length")).to_have_value("9")
    expect(conflict).to_have_count(0)


@pytest.mark.timeout(300)
def test_the_group_left_behind_answering_last_does_not_replace_the_group_opened(
    page: Page, local_platform: LocalPlatform
) -> None:
    """A tab switched before the first group's answer came: that answer, arriving last, is not
    shown. It was: on a loaded machine the notifications form vanished under the person's
    cursor when the streaming group's answer came after it (CI)."""
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)  # let through below, once the second group is shown

    page.route("**/camfleet.v1.SettingsService/GetSettings", hold_the_first)
    log_in(page, local_platform.url, "admin", local_platform.admin_password)
    page.get_by_test_id("nav-settings").click()  # the streaming group: held
    page.get_by_test_id("settings-tab-notifications").click()
    form = page.get_by_test_id("settings-form")
    expect(form).to_have_attribute("data-group", "notifications")
    with page.expect_response("**/GetSettings") as late:
        held[0].continue_()
    assert late.value.finished() is None and late.value.ok
    # The page has had the late answer; give its promise a moment to settle before looking.
    page.wait_for_timeout(500)
    expect(form).to_have_attribute("data-group", "notifications")
    expect(page.get_by_test_id("setting-smtp_host")).to_be_visible()


def _version(platform: LocalPlatform) -> int:
    with admin_rpc(platform) as (channel, auth):
        return _get(channel, auth, RECORDING).recording.revision.version


@pytest.mark.timeout(300)
def test_the_smtp_password_is_only_set_or_not_set_and_is_replaced_by_typing(
    page: Page, local_platform: LocalPlatform
) -> None:
    with admin_rpc(local_platform) as (channel, auth):
        before = _get(channel, auth, NOTIFICATIONS).notifications
    _open(page, local_platform, "notifications")
    state = page.get_by_test_id("setting-smtp_password-state")
    expect(state).to_have_text("set" if before.smtp_password_set else "not set")
    password = page.get_by_test_id("setting-smtp_password")
    expect(password).to_have_value("")

    page.get_by_test_id("setting-smtp_host").fill("mail.example.test")
    page.get_by_test_id("setting-smtp_from").fill("camfleet@example.test")
    password.fill(f"pw-{secrets.token_hex(4)}")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-version")).to_have_attribute(
        "data-version", str(before.revision.version + 1)
    )
    expect(state).to_have_text("set")
    expect(password).to_have_value("")
    with admin_rpc(local_platform) as (channel, auth):
        after = _get(channel, auth, NOTIFICATIONS).notifications
    assert after.smtp_password_set
    assert after.smtp_password == ""
    assert after.smtp_host == "mail.example.test"
    # The history says the password was set, never what it is.
    row = page.locator(
        f'[data-testid="settings-history-row"][data-version="{after.revision.version}"]'
    )
    expect(row).to_contain_text("smtp_password")
    expect(row).to_contain_text("(set)")


@pytest.mark.timeout(300)
def test_an_operator_has_no_settings_entry_and_reads_the_refusal(
    page: Page, local_platform: LocalPlatform
) -> None:
    username, password = f"olga-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    with admin_rpc(local_platform) as (channel, auth):
        user_pb2_grpc.UserServiceStub(channel).CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=username, role=common_pb2.ROLE_OPERATOR),
                password=password,
            ),
            metadata=auth,
            timeout=30,
        )
    log_in(page, local_platform.url, username, password)
    assert "Settings" not in nav_labels(page)
    assert "Analytics" in nav_labels(page)
    goto(page, f"{local_platform.url}/#/settings/security")
    expect(page.get_by_test_id("settings-read-error")).to_contain_text("not allowed")


def _seconds(d: duration_pb2.Duration) -> float:
    return d.ToTimedelta().total_seconds()


def _shown(seconds: float, unit_s: float) -> str:
    """clients/web/src/settings/groups.ts: a value in its field's unit, at most 3 decimals."""
    value = round(seconds / unit_s * 1000) / 1000
    return str(int(value)) if value == int(value) else str(value)


@pytest.mark.timeout(300)
def test_every_groups_page_shows_the_stored_values_in_its_units(
    page: Page, local_platform: LocalPlatform
) -> None:
    with admin_rpc(local_platform) as (channel, auth):
        stored = _get(channel, auth, settings_pb2.SETTINGS_GROUP_UNSPECIFIED)
    expected = {
        "streaming": {
            "hls_fragment": _shown(_seconds(stored.streaming.hls_fragment), 1),
            "hls_playlist_length": _shown(_seconds(stored.streaming.hls_playlist_length), 1),
            "default_ladder": "\n".join(stored.streaming.default_ladder),
        },
        "storage": {
            "warm_after": _shown(_seconds(stored.storage.warm_after), 3600),
            "free_space_floor_bytes": _shown(stored.storage.free_space_floor_bytes, 1024 * 1024),
        },
        "security": {
            "password_min_length": str(stored.security.password_min_length),
            "access_token_ttl": _shown(_seconds(stored.security.access_token_ttl), 60),
            "refresh_token_ttl": _shown(_seconds(stored.security.refresh_token_ttl), 86400),
            "login_limit_window": _shown(_seconds(stored.security.login_limit_window), 60),
            "login_allowlist": "\n".join(stored.security.login_allowlist),
        },
        "notifications": {"smtp_port": str(stored.notifications.smtp_port)},
    }
    _open(page, local_platform, "streaming")
    for group, fields in expected.items():
        page.get_by_test_id(f"settings-tab-{group}").click()
        expect(page.get_by_test_id("settings-form")).to_have_attribute("data-group", group)
        for path, value in fields.items():
            expect(page.get_by_test_id(f"setting-{path}")).to_have_value(value)
    screenshot(page, "settings-notifications")


@pytest.mark.timeout(300)
def test_the_cold_tier_is_configured_on_the_storage_page_with_a_write_only_secret(
    page: Page, local_platform: LocalPlatform
) -> None:
    storage_group = settings_pb2.SETTINGS_GROUP_STORAGE
    with admin_rpc(local_platform) as (channel, auth):
        before = _get(channel, auth, storage_group).storage
    _open(page, local_platform, "storage")
    state = page.get_by_test_id("setting-cold_secret_key-state")
    expect(state).to_have_text("set" if before.cold_secret_key_set else "not set")
    secret = page.get_by_test_id("setting-cold_secret_key")
    expect(secret).to_have_value("")
    expect(page.get_by_test_id("setting-cold_region")).to_have_value(before.cold_region)

    # A bucket without its store and keys is refused with the fields named.
    page.get_by_test_id("setting-cold_bucket").fill("camfleet-cold")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("field-cold_endpoint")).to_contain_text(
        "is required when cold_bucket is set"
    )
    expect(page.get_by_test_id("field-cold_secret_key")).to_contain_text(
        "is required when cold_bucket is set (the secret key)"
    )

    page.get_by_test_id("setting-cold_endpoint").fill("http://127.0.0.1:9")
    page.get_by_test_id("setting-cold_access_key").fill("camfleet")
    page.get_by_test_id("setting-cold_after").fill("30")
    secret.fill(f"sk-{secrets.token_hex(4)}")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-version")).to_have_attribute(
        "data-version", str(before.revision.version + 1)
    )
    expect(state).to_have_text("set")
    expect(secret).to_have_value("")
    with admin_rpc(local_platform) as (channel, auth):
        after = _get(channel, auth, storage_group).storage
        assert after.cold_secret_key_set and after.cold_secret_key == ""
        assert (after.cold_bucket, after.cold_endpoint) == ("camfleet-cold", "http://127.0.0.1:9")
        assert after.cold_after.seconds == 30 * 86400
        # Leave the platform without a cold tier for the other tests.
        settings_pb2_grpc.SettingsServiceStub(channel).UpdateSettings(
            settings_pb2.UpdateSettingsRequest(
                storage=settings_pb2.StorageSettings(clear_cold_secret_key=True),
                update_mask=field_mask_pb2.FieldMask(
                    paths=[
                        "cold_bucket",
                        "cold_endpoint",
                        "cold_access_key",
                        "clear_cold_secret_key",
                    ]
                ),
                version=after.revision.version,
            ),
            metadata=auth,
            timeout=30,
        )
    expect(
        page.locator(
            f'[data-testid="settings-history-row"][data-version="{after.revision.version}"]'
        )
    ).to_contain_text("(set)")
