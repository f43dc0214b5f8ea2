"""The platform's settings in domain terms: five typed groups, their first-start defaults, and
the reader every other domain is given.

Groups (each versioned and updated on its own through SettingsService; the wire form is
settings.proto, the rows server/db/models/settings.py):
- `StreamingSettings`: live HLS on the nodes (nginx-rtmp's hls_fragment / hls_playlist_length).
- `RecordingSettings`: recorded segment length, the profile and age-based retention a new
  camera gets unless its request names its own.
- `StorageSettings`: the recordings tiers (when a segment moves to a node's warm directory) and
  the free space kept on each recordings disk.
- `SecuritySettings`: password policy, access-token and session (refresh-token) lifetimes,
  login limits, and the networks people may log in from.
- `NotificationSettings`: the platform's own SMTP server and SMS provider (scheduled reports,
  and mail before an alert channel exists).

Units are plain: seconds as floats named `*_s`, bytes as ints, days as ints. Every value is
validated before it is stored (server/settings/validation.py), so a reader can trust what it
gets from `Settings.current()`.

Defaults: the stored settings start from the flags and environment of the control plane that
first starts (`from_config`; agent-side values whose flags live on the agent take the agent's
defaults). After that the stored value wins: changing a flag no longer changes a setting that is
stored; change it with UpdateSettings instead (docs/ARCHITECTURE.md, "Settings").

Secrets (`SECRET_FIELDS`: the SMTP password, the SMS token, the cold tier's secret key) are
write-only on the API: the model holds them because the senders (and nodes) need them, but they
are never returned, never in events, and the history says only "(set)", "(changed)" or "(cleared)".

Agents: the streaming and recording groups (and the storage tiers) are what a node applies;
the control plane sends them in each Assignment, and a node applies a change without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from config_options import defaults
from server.common.ladder import DEFAULT_LADDER
from server.options import OPTIONS

if TYPE_CHECKING:
    from server.config import Settings as Config


class Group(StrEnum):
    """A settings group: the unit of GetSettings(group), UpdateSettings and versioning."""

    STREAMING = "streaming"
    RECORDING = "recording"
    STORAGE = "storage"
    SECURITY = "security"
    NOTIFICATIONS = "notifications"


# The recording profiles a camera may have (server/cameras/model.py RECORDING_PROFILES; repeated
# here because settings sits below cameras).
RECORDING_PROFILES = ("original", "low", "medium", "high", "ultra")
SMTP_SECURITY = ("starttls", "tls", "none")
# "" means: no SMS provider configured.
SMS_PROVIDERS = ("", "twilio", "kannel")

# The control plane's option defaults (server/options.py), so these cannot drift from the flags.
_D = defaults(OPTIONS)


@dataclass(frozen=True)
class StreamingSettings:
    """Live HLS on every node (nginx-rtmp). A change reloads nginx on each node."""

    # Target length of one HLS fragment (nginx `hls_fragment`); the agent's built-in value.
    hls_fragment_s: float = 1.0
    # How much of the live stream the playlist covers (nginx `hls_playlist_length`): the agent
    # renders max(6, 6 x fragment); at least one fragment.
    hls_playlist_length_s: float = 6.0
    # The live ladder of cameras without their own (server/common/ladder.py): the source
    # copied plus a 360p rung.
    default_ladder: tuple[str, ...] = DEFAULT_LADDER


@dataclass(frozen=True)
class RecordingSettings:
    """Recording on every node, and what a new camera starts with."""

    # Length of recorded segments, cut at the next keyframe after it (agent --segment-seconds).
    segment_s: float = 10.0
    # Recording profile of a camera created without one (one of RECORDING_PROFILES).
    default_profile: str = "original"
    # Age limit of a new camera's recordings, days; 0: none (kept until the disk's floor).
    default_retention_days: int = 0


@dataclass(frozen=True)
class StorageSettings:
    """Recordings disks on every node."""

    # Seconds after which a segment moves to a node's warm directory, when it has one (agent
    # --warm-after; tiers themselves are a node's own directories).
    warm_after_s: float = 86400.0
    # Free space kept on each recordings disk; below it the oldest segments are deleted
    # (agent --min-free-bytes). Never 0: a full disk stops every recorder on it.
    free_space_floor_bytes: int = 1 << 30
    # The cold tier, an S3-compatible object store (off while cold_bucket is empty): segments
    # older than cold_after_s move there from a node's warm tier (or hot, without one).
    cold_endpoint: str = ""
    cold_bucket: str = ""
    cold_prefix: str = ""
    cold_access_key: str = ""
    cold_secret_key: str = field(default="", repr=False)  # secret
    cold_after_s: float = 30 * 86400.0
    cold_region: str = "us-east-1"

    @property
    def cold_enabled(self) -> bool:
        """Whether a cold tier is configured."""
        return bool(self.cold_bucket)


@dataclass(frozen=True)
class SecuritySettings:
    """People's logins on the control plane (defaults: server/options.py)."""

    # Password policy of user creation and password changes (server/identity/password_policy).
    password_min_length: int = _D["password_min_length"]
    password_min_score: int = _D["password_min_score"]
    # Life of an access JWT.
    access_token_ttl_s: float = _D["access_token_ttl"].total_seconds()
    # Session lifetime: a session not refreshed within it ends (the refresh token's life).
    refresh_token_ttl_s: float = _D["refresh_token_ttl"].total_seconds()
    # Login limits (server/auth/login_limits.py).
    login_limit_per_account_address: int = _D["login_limit_per_account_address"]
    login_limit_per_address: int = _D["login_limit_per_address"]
    login_limit_window_s: float = _D["login_limit_window"].total_seconds()
    login_account_backoff_after: int = _D["login_account_backoff_after"]
    login_account_backoff_max_s: float = _D["login_account_backoff_max"].total_seconds()
    # CIDRs people may log in from (password logins; API tokens and nodes are not affected);
    # empty: from anywhere.
    login_allowlist: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotificationSettings:
    """The platform's own SMTP server and SMS provider."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)  # secret
    smtp_from: str = ""
    # One of SMTP_SECURITY.
    smtp_security: str = "starttls"
    # One of SMS_PROVIDERS ("": none).
    sms_provider: str = ""
    sms_url: str = ""
    sms_account: str = ""
    sms_from: str = ""
    sms_token: str = field(default="", repr=False)  # secret


GroupSettings = (
    StreamingSettings
    | RecordingSettings
    | StorageSettings
    | SecuritySettings
    | NotificationSettings
)

GROUP_TYPES: dict[Group, type[GroupSettings]] = {
    Group.STREAMING: StreamingSettings,
    Group.RECORDING: RecordingSettings,
    Group.STORAGE: StorageSettings,
    Group.SECURITY: SecuritySettings,
    Group.NOTIFICATIONS: NotificationSettings,
}

# Write-only fields by group: never returned, never in events; history shows "(set)" etc.
SECRET_FIELDS: dict[Group, frozenset[str]] = {
    Group.NOTIFICATIONS: frozenset({"smtp_password", "sms_token"}),
    Group.STORAGE: frozenset({"cold_secret_key"}),
}


def field_names(group: Group) -> tuple[str, ...]:
    """The fields of a group, in declaration order (also the valid field-mask paths)."""
    return tuple(f.name for f in fields(GROUP_TYPES[group]))


@dataclass(frozen=True)
class PlatformSettings:
    """Every group in force, with each group's version (0: never stored, the defaults)."""

    streaming: StreamingSettings = field(default_factory=StreamingSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    versions: dict[Group, int] = field(default_factory=dict, compare=False)

    def group(self, group: Group) -> GroupSettings:
        value: GroupSettings = getattr(self, group.value)
        return value

    def version(self, group: Group) -> int:
        return self.versions.get(group, 0)


class Settings(Protocol):
    """The settings in force, as other domains are given them (server/app.py injects one).

    `current()` is cheap: a cached value, refreshed on every replica when a settings change
    event arrives (and re-read now and then as a safety net), so a change applies live.
    """

    async def current(self) -> PlatformSettings: ...


@dataclass(frozen=True)
class FixedSettings:
    """A `Settings` that never changes (tests, tools): `FixedSettings(PlatformSettings())`."""

    value: PlatformSettings = field(default_factory=PlatformSettings)

    async def current(self) -> PlatformSettings:
        return self.value


def from_config(config: Config) -> PlatformSettings:
    """First-start defaults from the control plane's flags and environment: what is stored
    the first time, before anyone changes a setting (a stored value wins afterwards)."""
    return PlatformSettings(
        security=SecuritySettings(
            password_min_length=config.password_min_length,
            password_min_score=config.password_min_score,
            access_token_ttl_s=config.access_token_ttl.total_seconds(),
            refresh_token_ttl_s=config.refresh_token_ttl.total_seconds(),
            login_limit_per_account_address=config.login_limit_per_account_address,
            login_limit_per_address=config.login_limit_per_address,
            login_limit_window_s=config.login_limit_window.total_seconds(),
            login_account_backoff_after=config.login_account_backoff_after,
            login_account_backoff_max_s=config.login_account_backoff_max.total_seconds(),
        ),
    )
