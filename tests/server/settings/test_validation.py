"""The settings' rules and wire form without a server: the defaults are valid, every model field
travels through the API and back unchanged, and refusals stay small enough to send."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from camfleet.v1 import settings_pb2
from google.protobuf import field_mask_pb2

from server.errors import InvalidArgument
from server.settings import convert
from server.settings.model import (
    SECRET_FIELDS,
    Group,
    NotificationSettings,
    PlatformSettings,
    RecordingSettings,
    SecuritySettings,
    StorageSettings,
    StreamingSettings,
)
from server.settings.validation import MAX_ALLOWLIST, violations

# Values unlike every default, so a field lost on the way shows.
CHANGED = PlatformSettings(
    streaming=StreamingSettings(hls_fragment_s=2.5, hls_playlist_length_s=20.0),
    recording=RecordingSettings(segment_s=6.0, default_profile="high", default_retention_days=30),
    storage=StorageSettings(
        warm_after_s=3600.0,
        free_space_floor_bytes=2 << 30,
        cold_endpoint="http://127.0.0.1:9000",
        cold_bucket="camfleet-cold",
        cold_prefix="site-a/",
        cold_access_key="AKID",
        cold_secret_key="sk-1",
        cold_after_s=7 * 86400.0,
        cold_region="eu-west-1",
    ),
    security=SecuritySettings(
        password_min_length=16,
        password_min_score=4,
        access_token_ttl_s=600.0,
        refresh_token_ttl_s=86400.0,
        login_limit_per_account_address=3,
        login_limit_per_address=50,
        login_limit_window_s=120.0,
        login_account_backoff_after=5,
        login_account_backoff_max_s=30.0,
        login_allowlist=("10.0.0.0/8", "2001:db8::/32"),
    ),
    notifications=NotificationSettings(
        smtp_host="mail.example.org",
        smtp_port=465,
        smtp_username="cams",
        smtp_password="pw-1",
        smtp_from="cams@example.org",
        smtp_security="tls",
        sms_provider="kannel",
        sms_url="http://127.0.0.1:13013/cgi-bin/sendsms",
        sms_account="fleet",
        sms_from="+15550100",
        sms_token="tok-1",
    ),
)


def test_the_defaults_and_the_examples_are_valid() -> None:
    for value in (PlatformSettings(), CHANGED):
        for group in Group:
            assert violations(group, value.group(group), value) == [], group


@pytest.mark.parametrize("group", list(Group))
def test_every_field_travels_through_the_api_and_back(group: Group) -> None:
    shown = convert.group_to_proto(group, CHANGED.group(group), None)
    secrets = SECRET_FIELDS.get(group, frozenset())
    for name in secrets:
        assert getattr(shown, name) == "" and getattr(shown, f"{name}_set")
        setattr(shown, name, getattr(CHANGED.group(group), name))  # as a client writes it
    request = settings_pb2.UpdateSettingsRequest(
        update_mask=field_mask_pb2.FieldMask(paths=[]), version=3
    )
    getattr(request, group.value).CopyFrom(shown)
    parsed_group, changes, version = convert.update_from_proto(request)
    assert (parsed_group, version) == (group, 3)
    assert replace(type(CHANGED.group(group))(), **changes) == CHANGED.group(group)
    assert set(changes) == {f.name for f in fields(CHANGED.group(group))}


def test_an_empty_secret_keeps_and_clear_removes() -> None:
    request = settings_pb2.UpdateSettingsRequest(
        notifications=settings_pb2.NotificationSettings(smtp_host="h", clear_sms_token=True),
        update_mask=field_mask_pb2.FieldMask(
            paths=["smtp_host", "smtp_password", "clear_sms_token"]
        ),
        version=1,
    )
    _, changes, _ = convert.update_from_proto(request)
    assert changes == {"smtp_host": "h", "sms_token": ""}
    both = settings_pb2.UpdateSettingsRequest(
        notifications=settings_pb2.NotificationSettings(sms_token="t", clear_sms_token=True),
        version=1,
    )
    with pytest.raises(InvalidArgument) as refused:
        convert.update_from_proto(both)
    assert refused.value.violations[0].field == "notifications.clear_sms_token"


def test_cross_group_limits_name_the_other_group() -> None:
    short = replace(PlatformSettings(), recording=RecordingSettings(segment_s=2.0))
    (problem,) = violations(Group.STREAMING, StreamingSettings(hls_fragment_s=3.0), short)
    assert problem.field == "streaming.hls_fragment"
    assert "recording.segment_length" in problem.description
    (problem,) = violations(Group.RECORDING, RecordingSettings(segment_s=0.5), PlatformSettings())
    assert problem.field == "recording.segment_length"


def test_a_long_bad_allowlist_gives_a_bounded_refusal() -> None:
    too_many = SecuritySettings(login_allowlist=tuple(f"x{i}" for i in range(MAX_ALLOWLIST + 1)))
    assert [v.field for v in violations(Group.SECURITY, too_many, PlatformSettings())] == [
        "security.login_allowlist"
    ]
    all_bad = SecuritySettings(login_allowlist=tuple("y" * 10_000 for _ in range(MAX_ALLOWLIST)))
    problems = violations(Group.SECURITY, all_bad, PlatformSettings())
    assert 1 <= len(problems) <= 5
    assert sum(len(p.description) for p in problems) < 2000


def test_a_cold_tier_needs_its_store_and_both_keys_and_sane_names() -> None:
    rest = PlatformSettings()
    half = StorageSettings(cold_bucket="camfleet-cold")
    named = {v.field: v.description for v in violations(Group.STORAGE, half, rest)}
    assert set(named) == {
        "storage.cold_endpoint",
        "storage.cold_access_key",
        "storage.cold_secret_key",
    }
    assert "required when cold_bucket is set" in named["storage.cold_secret_key"]
    bad = StorageSettings(
        cold_endpoint="ftp://store/x",
        cold_bucket="No_Such",
        cold_prefix="../up",
        cold_access_key="a",
        cold_secret_key="s",
        cold_after_s=0.5,
    )
    named = {v.field for v in violations(Group.STORAGE, bad, rest)}
    assert named == {
        "storage.cold_endpoint",
        "storage.cold_bucket",
        "storage.cold_prefix",
        "storage.cold_after",
    }
    # No bucket: no cold tier, nothing else required.
    assert violations(Group.STORAGE, StorageSettings(), rest) == []
