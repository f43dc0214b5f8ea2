"""What each settings group may hold: every problem of a proposed group as a field violation
named by its request path ("recording.segment_length"), so a caller sees all of them at once.

Some limits span groups (an HLS fragment no longer than a recorded segment): a proposed group is
checked against the other groups in force.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from server.common.ladder import ladder_problem
from server.errors import FieldViolation
from server.settings.model import (
    RECORDING_PROFILES,
    SMS_PROVIDERS,
    SMTP_SECURITY,
    Group,
    GroupSettings,
    NotificationSettings,
    PlatformSettings,
    RecordingSettings,
    SecuritySettings,
    StorageSettings,
    StreamingSettings,
    field_names,
)

_DAY = 86400.0
_MIB = 1 << 20
MAX_ALLOWLIST = 100
_MAX_ENTRY_VIOLATIONS = 5
_MAX_TEXT = 255
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^(?:[A-Za-z0-9_.-]+/)*(?:[A-Za-z0-9_.-]+)?$")
_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+/?$")

# A field's name in the API where it is not the model's name without its "_s" unit.
_RENAMED = {"segment_s": "segment_length"}


def api_name(field: str) -> str:
    """The API's name of a model field ("hls_fragment_s" -> "hls_fragment")."""
    return _RENAMED.get(field) or field.removesuffix("_s")


def model_name(group: Group, api_field: str) -> str | None:
    """The model field an API path names within `group`, or None when there is none."""
    return next((f for f in field_names(group) if api_name(f) == api_field), None)


def _seconds(value: float) -> str:
    return f"{value:g} s"


class _Check:
    """Collects violations of one group, named `<group>.<api field>`."""

    def __init__(self, group: Group) -> None:
        self.group = group
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(f"{self.group.value}.{api_name(field)}", description))

    def between(self, field: str, value: float, low: float, high: float, unit: str = "") -> bool:
        if low <= value <= high:
            return True
        if unit == "s":
            self.add(field, f"must be between {_seconds(low)} and {_seconds(high)}, got {value:g}")
        else:
            self.add(field, f"must be between {low:g} and {high:g}, got {value:g}")
        return False

    def seconds(self, field: str, value: float, low: float, high: float) -> bool:
        if value <= 0:
            self.add(field, f"must be a positive duration, got {value:g} s")
            return False
        return self.between(field, value, low, high, "s")

    def text(self, field: str, value: str) -> None:
        if len(value) > _MAX_TEXT:
            self.add(field, f"must be at most {_MAX_TEXT} characters")
        elif any(c in value for c in "\x00\r\n"):
            self.add(field, "must not contain line breaks or NUL characters")


def _streaming(c: _Check, s: StreamingSettings, rest: PlatformSettings) -> None:
    fragment_ok = c.seconds("hls_fragment_s", s.hls_fragment_s, 0.5, 10.0)
    playlist_ok = c.seconds("hls_playlist_length_s", s.hls_playlist_length_s, 0.5, 600.0)
    if playlist_ok and fragment_ok and s.hls_playlist_length_s < s.hls_fragment_s:
        c.add(
            "hls_playlist_length_s",
            f"must hold at least one fragment ({_seconds(s.hls_fragment_s)}), "
            f"got {_seconds(s.hls_playlist_length_s)}",
        )
    segment = rest.recording.segment_s
    if fragment_ok and s.hls_fragment_s > segment:
        c.add(
            "hls_fragment_s",
            f"must not be longer than a recorded segment ({_seconds(segment)}; "
            "recording.segment_length)",
        )
    problem = ladder_problem(s.default_ladder, allow_empty=False)
    if problem is not None:
        c.add("default_ladder", problem)


def _recording(c: _Check, s: RecordingSettings, rest: PlatformSettings) -> None:
    if c.seconds("segment_s", s.segment_s, 1.0, 3600.0):
        fragment = rest.streaming.hls_fragment_s
        if s.segment_s < fragment:
            c.add(
                "segment_s",
                f"must not be shorter than an HLS fragment ({_seconds(fragment)}; "
                "streaming.hls_fragment)",
            )
    if s.default_profile not in RECORDING_PROFILES:
        c.add("default_profile", f"must be one of {', '.join(RECORDING_PROFILES)}")
    c.between("default_retention_days", s.default_retention_days, 0, 3650)


def _storage(c: _Check, s: StorageSettings, rest: PlatformSettings) -> None:
    c.seconds("warm_after_s", s.warm_after_s, 1.0, 3650 * _DAY)
    if s.free_space_floor_bytes < _MIB:
        c.add(
            "free_space_floor_bytes",
            f"must be at least 1 MiB ({_MIB} bytes): a full disk stops every recorder on it; "
            f"got {s.free_space_floor_bytes}",
        )
    _cold_tier(c, s)


def _cold_tier(c: _Check, s: StorageSettings) -> None:
    c.seconds("cold_after_s", s.cold_after_s, 1.0, 3650 * _DAY)
    for name in ("cold_endpoint", "cold_access_key", "cold_secret_key", "cold_region"):
        c.text(name, getattr(s, name))
    if s.cold_bucket and not _BUCKET.match(s.cold_bucket):
        c.add(
            "cold_bucket",
            "must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit",
        )
    parts = s.cold_prefix.split("/")
    if (
        len(s.cold_prefix) > 200
        or not _PREFIX.match(s.cold_prefix)
        or any(p in (".", "..") for p in parts)
    ):
        c.add(
            "cold_prefix",
            "must be at most 200 letters, digits and . _ - / , not start with / nor hold "
            "empty or .. parts",
        )
    if s.cold_endpoint and not _ENDPOINT.match(s.cold_endpoint):
        c.add("cold_endpoint", "must be an http:// or https:// URL of host[:port], no path")
    if not s.cold_region:
        c.add("cold_region", "is required (us-east-1 when the store has no regions)")
    if s.cold_bucket:
        for name, what in (
            ("cold_endpoint", "the store's URL"),
            ("cold_access_key", "the access key"),
            ("cold_secret_key", "the secret key"),
        ):
            if not getattr(s, name):
                c.add(name, f"is required when cold_bucket is set ({what})")


def _security(c: _Check, s: SecuritySettings, rest: PlatformSettings) -> None:
    c.between("password_min_length", s.password_min_length, 8, 128)
    c.between("password_min_score", s.password_min_score, 0, 4)
    access_ok = c.seconds("access_token_ttl_s", s.access_token_ttl_s, 60.0, _DAY)
    refresh_ok = c.seconds("refresh_token_ttl_s", s.refresh_token_ttl_s, 60.0, 365 * _DAY)
    if refresh_ok and access_ok and s.refresh_token_ttl_s < s.access_token_ttl_s:
        c.add(
            "refresh_token_ttl_s",
            f"must be at least the access token's life ({_seconds(s.access_token_ttl_s)})",
        )
    c.between("login_limit_per_account_address", s.login_limit_per_account_address, 1, 1000)
    c.between("login_limit_per_address", s.login_limit_per_address, 1, 10000)
    c.seconds("login_limit_window_s", s.login_limit_window_s, 1.0, _DAY)
    c.between("login_account_backoff_after", s.login_account_backoff_after, 1, 10000)
    c.seconds("login_account_backoff_max_s", s.login_account_backoff_max_s, 1.0, 3600.0)
    if len(s.login_allowlist) > MAX_ALLOWLIST:
        c.add("login_allowlist", f"must have at most {MAX_ALLOWLIST} entries")
        return
    bad = 0
    for i, entry in enumerate(s.login_allowlist):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            bad += 1
            if bad > _MAX_ENTRY_VIOLATIONS:  # the status must stay small enough to send
                break
            c.violations.append(
                FieldViolation(
                    f"security.login_allowlist[{i}]",
                    f"{entry[:100]!r} is not a network in CIDR form (e.g. 10.0.0.0/8, "
                    "2001:db8::/32) nor an address",
                )
            )


def _notifications(c: _Check, s: NotificationSettings, rest: PlatformSettings) -> None:
    for name in (
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "smtp_from",
        "sms_url",
        "sms_account",
        "sms_from",
        "sms_token",
    ):
        c.text(name, getattr(s, name))
    if any(ch.isspace() for ch in s.smtp_host):
        c.add("smtp_host", "must be a host name or address without spaces")
    c.between("smtp_port", s.smtp_port, 1, 65535)
    if s.smtp_security not in SMTP_SECURITY:
        c.add("smtp_security", f"must be one of {', '.join(SMTP_SECURITY)}")
    if s.smtp_from and "@" not in s.smtp_from:
        c.add("smtp_from", "must be an e-mail address (name@domain)")
    if s.smtp_host and not s.smtp_from:
        c.add("smtp_from", "is required when smtp_host is set (the sender of the mail)")
    if s.sms_provider not in SMS_PROVIDERS:
        c.add("sms_provider", f"must be one of {', '.join(p for p in SMS_PROVIDERS if p)}")
    if s.sms_url and not s.sms_url.startswith(("http://", "https://")):
        c.add("sms_url", "must be an http:// or https:// URL")
    if s.sms_provider and not s.sms_url:
        c.add("sms_url", "is required when an SMS provider is set")


_CHECKS: dict[Group, Callable[[_Check, Any, PlatformSettings], None]] = {
    Group.STREAMING: _streaming,
    Group.RECORDING: _recording,
    Group.STORAGE: _storage,
    Group.SECURITY: _security,
    Group.NOTIFICATIONS: _notifications,
}


def violations(
    group: Group, proposed: GroupSettings, rest: PlatformSettings
) -> list[FieldViolation]:
    """Every problem of `proposed` as the new value of `group`, given the other groups in
    `rest`; empty when it may be stored."""
    check = _Check(group)
    _CHECKS[group](check, proposed, rest)
    return check.violations
