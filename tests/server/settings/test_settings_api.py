"""SettingsService on each backend: the groups start from the flags, updates with field masks
against a version, bad input refused with field violations (never INTERNAL), secrets never
returned and kept when left empty, and the history of who changed what, before and after."""

from __future__ import annotations

import grpc
import pytest
from camfleet.v1 import common_pb2, event_pb2, recording_pb2, settings_pb2

from tests.server.settings.support import error_info, get, seconds, stub, update
from tests.support.assertions import audit_since, now_filter, refused
from tests.support.platform import Platform

S = settings_pb2
INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def test_groups_start_from_the_flags_at_version_1(plane: Platform) -> None:
    everything = await get(plane)
    assert everything.recording.segment_length.ToTimedelta().total_seconds() == 10
    assert everything.recording.default_profile == recording_pb2.RECORDING_PROFILE_ORIGINAL
    assert everything.streaming.hls_fragment.ToTimedelta().total_seconds() == 1
    assert everything.storage.free_space_floor_bytes == 1 << 30
    # The test plane's flags: access tokens of 6 h, 10,000 failed logins per address.
    security = everything.security
    assert security.access_token_ttl.ToTimedelta().total_seconds() == 6 * 3600
    assert security.login_limit_per_address == 10_000
    assert security.password_min_length == plane.settings.password_min_length
    for group in ("streaming", "recording", "storage", "security", "notifications"):
        revision = getattr(everything, group).revision
        assert (revision.version, revision.updated_by) == (1, "system"), group
    one = await get(plane, S.SETTINGS_GROUP_STORAGE)
    assert one.HasField("storage") and not one.HasField("recording")


async def test_update_changes_the_masked_fields_only_and_bumps_the_version(
    plane: Platform,
) -> None:
    changed = await update(
        plane,
        ["segment_length"],
        recording=S.RecordingSettings(
            segment_length=seconds(6), default_profile=recording_pb2.RECORDING_PROFILE_LOW
        ),
    )
    assert changed.recording.segment_length.ToTimedelta().total_seconds() == 6
    # Not in the mask: unchanged.
    assert changed.recording.default_profile == recording_pb2.RECORDING_PROFILE_ORIGINAL
    assert changed.recording.revision.version == 2
    assert changed.recording.revision.updated_by == "admin"
    again = await get(plane, S.SETTINGS_GROUP_RECORDING)
    assert again.recording.segment_length.ToTimedelta().total_seconds() == 6
    # Another group's version is its own.
    assert (await get(plane)).storage.revision.version == 1


async def test_bad_values_are_refused_with_field_violations(plane: Platform) -> None:
    cases = [
        (
            {"recording": S.RecordingSettings(segment_length=seconds(-5))},
            ["segment_length"],
            "recording.segment_length",
        ),
        (
            {"recording": S.RecordingSettings(segment_length=seconds(0.7))},
            ["segment_length"],
            "recording.segment_length",
        ),
        (
            {
                "streaming": S.StreamingSettings(
                    hls_fragment=seconds(2), hls_playlist_length=seconds(1)
                )
            },
            ["hls_fragment", "hls_playlist_length"],
            "streaming.hls_playlist_length",
        ),
        (
            {"storage": S.StorageSettings(free_space_floor_bytes=0)},
            ["free_space_floor_bytes"],
            "storage.free_space_floor_bytes",
        ),
        (
            {"security": S.SecuritySettings(access_token_ttl=seconds(10))},
            ["access_token_ttl"],
            "security.access_token_ttl",
        ),
        (
            {"security": S.SecuritySettings(access_token_ttl=seconds(3 * 86400))},
            ["access_token_ttl"],
            "security.access_token_ttl",
        ),
        (
            {"security": S.SecuritySettings(login_allowlist=["127.0.0.1/32", "10.0.0.300/8"])},
            ["login_allowlist"],
            "security.login_allowlist[1]",
        ),
        (
            {"notifications": S.NotificationSettings(smtp_port=70000)},
            ["smtp_port"],
            "notifications.smtp_port",
        ),
    ]
    for group, paths, field in cases:
        refusal = await refused(update(plane, paths, **group), INVALID)
        assert field in refusal.fields, (field, refusal)
        assert refusal.fields[field] in refusal.message
    refusal = await refused(
        update(
            plane, ["segment_length"], recording=S.RecordingSettings(segment_length=seconds(-5))
        ),
        INVALID,
    )
    assert "positive" in refusal.fields["recording.segment_length"]
    # Nothing was stored by any of them.
    assert (await get(plane)).recording.revision.version == 1


async def test_fragment_longer_than_the_segment_is_refused(plane: Platform) -> None:
    await update(
        plane, ["segment_length"], recording=S.RecordingSettings(segment_length=seconds(3))
    )
    refusal = await refused(
        update(plane, ["hls_fragment"], streaming=S.StreamingSettings(hls_fragment=seconds(4))),
        INVALID,
    )
    assert "recorded segment (3 s" in refusal.fields["streaming.hls_fragment"]


async def test_requests_that_name_no_group_version_or_a_known_field_are_refused(
    plane: Platform,
) -> None:
    settings = stub(plane)
    refusal = await refused(
        settings.UpdateSettings(S.UpdateSettingsRequest(version=1), metadata=plane.admin), INVALID
    )
    assert "group" in refusal.fields
    refusal = await refused(
        update(plane, ["segment_length"], version=0, recording=S.RecordingSettings()), INVALID
    )
    assert "version" in refusal.fields
    refusal = await refused(update(plane, ["segment_s"], recording=S.RecordingSettings()), INVALID)
    assert "segment_s" in refusal.fields["update_mask.paths[0]"]
    refusal = await refused(update(plane, ["revision"], recording=S.RecordingSettings()), INVALID)
    assert "output only" in refusal.fields["update_mask.paths[0]"]
    await refused(
        settings.GetSettings(S.GetSettingsRequest(group=99), metadata=plane.admin),  # type: ignore[arg-type]
        INVALID,
    )


async def test_a_stale_version_is_aborted_with_the_current_version(plane: Platform) -> None:
    first = await update(
        plane, ["warm_after"], version=1, storage=S.StorageSettings(warm_after=seconds(3600))
    )
    assert first.storage.revision.version == 2
    # A second admin still holding version 1.
    try:
        await update(
            plane, ["warm_after"], version=1, storage=S.StorageSettings(warm_after=seconds(60))
        )
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.ABORTED
        assert "now version 2" in (err.details() or "")
        info = error_info(err)
        assert info.reason == "SETTINGS_VERSION_CONFLICT"
        assert info.metadata["current_version"] == "2"
    else:
        raise AssertionError("a stale update was accepted")
    assert (await get(plane)).storage.warm_after.ToTimedelta().total_seconds() == 3600


async def test_secrets_are_write_only_and_kept_when_left_empty(plane: Platform) -> None:
    since = now_filter()
    password = "smtp-secret-Pa55"
    set_ = await update(
        plane,
        ["smtp_host", "smtp_from", "smtp_password"],
        notifications=S.NotificationSettings(
            smtp_host="mail.example.org", smtp_from="cams@example.org", smtp_password=password
        ),
    )
    assert set_.notifications.smtp_password == "" and set_.notifications.smtp_password_set
    # An update of every field (empty mask) with the password left empty keeps it.
    kept = await update(
        plane,
        [],
        notifications=S.NotificationSettings(
            smtp_host="mail2.example.org",
            smtp_port=465,
            smtp_from="cams@example.org",
            smtp_security=S.NotificationSettings.SMTP_SECURITY_TLS,
        ),
    )
    assert kept.notifications.smtp_password_set
    assert kept.notifications.smtp_host == "mail2.example.org"
    everything = await get(plane)
    assert everything.notifications.smtp_password == ""
    assert password not in str(everything)
    cleared = await update(
        plane,
        ["clear_smtp_password"],
        notifications=S.NotificationSettings(clear_smtp_password=True),
    )
    assert not cleared.notifications.smtp_password_set
    history = await stub(plane).ListSettingsHistory(
        S.ListSettingsHistoryRequest(group=S.SETTINGS_GROUP_NOTIFICATIONS), metadata=plane.admin
    )
    assert password not in str(history)
    shown = [
        (f.before, f.after)
        for change in history.changes
        for f in change.fields
        if f.field == "smtp_password"
    ]
    assert shown == [("(set)", "(cleared)"), ("", "(set)")]
    audits = await audit_since(plane, since, "settings.update")
    assert len(audits) == 3 and all(password not in str(a) for a in audits)


async def test_history_shows_who_changed_what_before_and_after(plane: Platform) -> None:
    since = now_filter()
    await update(
        plane, ["segment_length"], recording=S.RecordingSettings(segment_length=seconds(6))
    )
    await update(
        plane,
        ["login_allowlist", "password_min_length"],
        security=S.SecuritySettings(login_allowlist=["127.0.0.0/8"], password_min_length=14),
    )
    settings = stub(plane)
    first_page = await settings.ListSettingsHistory(
        S.ListSettingsHistoryRequest(page_size=1), metadata=plane.admin
    )
    (newest,) = first_page.changes
    assert newest.group == S.SETTINGS_GROUP_SECURITY and newest.actor == "admin"
    assert newest.version == 2
    assert {(f.field, f.before, f.after) for f in newest.fields} == {
        ("login_allowlist", "", "127.0.0.0/8"),
        ("password_min_length", str(plane.settings.password_min_length), "14"),
    }
    second_page = await settings.ListSettingsHistory(
        S.ListSettingsHistoryRequest(page_size=1, page_token=first_page.next_page_token),
        metadata=plane.admin,
    )
    (older,) = second_page.changes
    assert older.group == S.SETTINGS_GROUP_RECORDING
    assert [(f.field, f.before, f.after) for f in older.fields] == [("segment_length", "10s", "6s")]
    assert not second_page.next_page_token
    only = await settings.ListSettingsHistory(
        S.ListSettingsHistoryRequest(group=S.SETTINGS_GROUP_RECORDING), metadata=plane.admin
    )
    assert [c.group for c in only.changes] == [S.SETTINGS_GROUP_RECORDING]
    await refused(
        settings.ListSettingsHistory(
            S.ListSettingsHistoryRequest(page_token="junk!"), metadata=plane.admin
        ),
        INVALID,
    )
    # Audited like other admin changes, with before and after.
    (audit,) = await audit_since(plane, since, "settings.update", 'target = "settings/recording"')
    assert audit.details["segment_length"] == "10s -> 6s" and audit.actor == "admin"


async def test_a_change_is_an_event(plane: Platform) -> None:
    after = await plane.plane.events.current_revision()
    await update(
        plane, ["segment_length"], recording=S.RecordingSettings(segment_length=seconds(8))
    )
    seen = await plane.events_until(
        plane.admin, after, lambda e: e.type == event_pb2.EVENT_TYPE_SETTINGS_CHANGED
    )
    (event,) = [e for e in seen if e.type == event_pb2.EVENT_TYPE_SETTINGS_CHANGED]
    assert event.subject == "settings/recording" and "version 2" in event.message


@pytest.mark.parametrize("role", ["operator", "viewer"])
async def test_only_admins_read_or_change_settings(plane: Platform, role: str) -> None:
    metadata = await plane.as_role(
        common_pb2.ROLE_OPERATOR if role == "operator" else common_pb2.ROLE_VIEWER
    )
    settings = stub(plane)
    refusal = await refused(
        settings.GetSettings(S.GetSettingsRequest(), metadata=metadata),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "settings.read" in refusal.message
