"""What people type on the `camfleet` command line, read into protobuf fields and times: the
settings' key=value words, durations, sizes, enum names, and times and ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from camfleet.cli.commands import settings_values as values
from camfleet.cli.commands import times
from camfleet.cli.errors import CliError
from camfleet.v1 import recording_pb2, settings_pb2


def test_assignments_set_each_kind_of_field_and_name_the_mask() -> None:
    recording = settings_pb2.RecordingSettings()
    paths = values.apply_assignments(
        "recording",
        recording,
        ["segment-length=1.5s", "default_profile=LOW", "default_retention_days=30"],
    )
    assert paths == ["segment_length", "default_profile", "default_retention_days"]
    assert (recording.segment_length.seconds, recording.segment_length.nanos) == (1, 500_000_000)
    assert recording.default_profile == recording_pb2.RECORDING_PROFILE_LOW
    assert recording.default_retention_days == 30

    security = settings_pb2.SecuritySettings()
    values.apply_assignments("security", security, ["login_allowlist=10.0.0.0/8, 192.0.2.7"])
    assert list(security.login_allowlist) == ["10.0.0.0/8", "192.0.2.7"]
    values.apply_assignments("security", security, ["login_allowlist="])
    assert list(security.login_allowlist) == []

    storage = settings_pb2.StorageSettings()
    values.apply_assignments("storage", storage, ["free_space_floor_bytes=2GiB", "warm_after=7d"])
    assert storage.free_space_floor_bytes == 2 * 1024**3
    assert storage.warm_after.seconds == 7 * 86400

    notifications = settings_pb2.NotificationSettings()
    values.apply_assignments(
        "notifications", notifications, ["smtp_security=tls", "clear_smtp_password=true"]
    )
    assert notifications.smtp_security == settings_pb2.NotificationSettings.SMTP_SECURITY_TLS
    assert notifications.clear_smtp_password is True


@pytest.mark.parametrize(
    ("word", "says"),
    [
        ("segment_length", "is not key=value"),
        ("colour=blue", "no field 'colour'; they are segment_length"),
        ("segment_length=soon", "recording.segment_length: 'soon' is not a duration"),
        ("default_profile=fancy", "is not one of original, low, medium, high, ultra"),
        ("default_retention_days=many", "'many' is not a whole number"),
        ("revision=3", "no field 'revision'"),
    ],
)
def test_a_wrong_assignment_is_a_sentence_naming_the_field(word: str, says: str) -> None:
    with pytest.raises(values.BadValue) as caught:
        values.apply_assignments("recording", settings_pb2.RecordingSettings(), [word])
    assert says in str(caught.value)


def test_values_read_back_as_people_write_them() -> None:
    recording = settings_pb2.RecordingSettings()
    values.apply_assignments("recording", recording, ["segment_length=2h", "default_profile=high"])
    fields = recording.DESCRIPTOR.fields_by_name
    assert values.field_text(recording, fields["segment_length"]) == "2h"
    assert values.field_text(recording, fields["default_profile"]) == "high"
    assert values.duration_text(values.parse_duration("90s")) == "90s"
    assert values.duration_text(values.parse_duration("500ms")) == "0.5s"
    assert values.parse_size("512KiB") == 512 * 1024
    assert values.parse_size("3MB") == 3 * 1024**2
    with pytest.raises(values.BadValue):
        values.parse_size("lots")


def test_groups_by_name() -> None:
    assert values.group_number("Security") == settings_pb2.SETTINGS_GROUP_SECURITY
    with pytest.raises(values.BadValue, match="the groups are streaming, recording"):
        values.group_number("network")


def test_times_and_ages() -> None:
    now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert times.parse_time("now", now=now) == now
    assert times.parse_time("2h", now=now) == now - timedelta(hours=2)
    assert times.parse_time("-15m", now=now) == now - timedelta(minutes=15)
    assert times.parse_time("7d ago", now=now) == now - timedelta(days=7)
    assert times.parse_time("2026-12-01T10:00:00Z") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert times.parse_time("2026-12-01T10:00:00") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    with pytest.raises(CliError, match="--start: 'yesterday' is not a time"):
        times.parse_time("yesterday", "--start")
    with pytest.raises(CliError, match="--end must be after --start"):
        times.time_range("1h", "2h", timedelta(hours=1))
    assert times.seconds_text(1.94) == "1.9s"
    assert times.seconds_text(250) == "4m 10s"
    assert times.seconds_text(7500) == "2h 05m"
