import datetime

from camfleet.v1 import recording_pb2 as _recording_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SettingsGroup(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTINGS_GROUP_UNSPECIFIED: _ClassVar[SettingsGroup]
    SETTINGS_GROUP_STREAMING: _ClassVar[SettingsGroup]
    SETTINGS_GROUP_RECORDING: _ClassVar[SettingsGroup]
    SETTINGS_GROUP_STORAGE: _ClassVar[SettingsGroup]
    SETTINGS_GROUP_SECURITY: _ClassVar[SettingsGroup]
    SETTINGS_GROUP_NOTIFICATIONS: _ClassVar[SettingsGroup]
SETTINGS_GROUP_UNSPECIFIED: SettingsGroup
SETTINGS_GROUP_STREAMING: SettingsGroup
SETTINGS_GROUP_RECORDING: SettingsGroup
SETTINGS_GROUP_STORAGE: SettingsGroup
SETTINGS_GROUP_SECURITY: SettingsGroup
SETTINGS_GROUP_NOTIFICATIONS: SettingsGroup

class SettingsRevision(_message.Message):
    __slots__ = ("version", "update_time", "updated_by")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    version: int
    update_time: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, version: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class StreamingSettings(_message.Message):
    __slots__ = ("revision", "hls_fragment", "hls_playlist_length", "default_ladder")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    HLS_FRAGMENT_FIELD_NUMBER: _ClassVar[int]
    HLS_PLAYLIST_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_LADDER_FIELD_NUMBER: _ClassVar[int]
    revision: SettingsRevision
    hls_fragment: _duration_pb2.Duration
    hls_playlist_length: _duration_pb2.Duration
    default_ladder: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, revision: _Optional[_Union[SettingsRevision, _Mapping]] = ..., hls_fragment: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., hls_playlist_length: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., default_ladder: _Optional[_Iterable[str]] = ...) -> None: ...

class RecordingSettings(_message.Message):
    __slots__ = ("revision", "segment_length", "default_profile", "default_retention_days")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    revision: SettingsRevision
    segment_length: _duration_pb2.Duration
    default_profile: _recording_pb2.RecordingProfile
    default_retention_days: int
    def __init__(self, revision: _Optional[_Union[SettingsRevision, _Mapping]] = ..., segment_length: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., default_profile: _Optional[_Union[_recording_pb2.RecordingProfile, str]] = ..., default_retention_days: _Optional[int] = ...) -> None: ...

class StorageSettings(_message.Message):
    __slots__ = ("revision", "warm_after", "free_space_floor_bytes", "cold_endpoint", "cold_bucket", "cold_prefix", "cold_access_key", "cold_secret_key", "cold_secret_key_set", "clear_cold_secret_key", "cold_after", "cold_region")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    WARM_AFTER_FIELD_NUMBER: _ClassVar[int]
    FREE_SPACE_FLOOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    COLD_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    COLD_BUCKET_FIELD_NUMBER: _ClassVar[int]
    COLD_PREFIX_FIELD_NUMBER: _ClassVar[int]
    COLD_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    COLD_SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    COLD_SECRET_KEY_SET_FIELD_NUMBER: _ClassVar[int]
    CLEAR_COLD_SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    COLD_AFTER_FIELD_NUMBER: _ClassVar[int]
    COLD_REGION_FIELD_NUMBER: _ClassVar[int]
    revision: SettingsRevision
    warm_after: _duration_pb2.Duration
    free_space_floor_bytes: int
    cold_endpoint: str
    cold_bucket: str
    cold_prefix: str
    cold_access_key: str
    cold_secret_key: str
    cold_secret_key_set: bool
    clear_cold_secret_key: bool
    cold_after: _duration_pb2.Duration
    cold_region: str
    def __init__(self, revision: _Optional[_Union[SettingsRevision, _Mapping]] = ..., warm_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., free_space_floor_bytes: _Optional[int] = ..., cold_endpoint: _Optional[str] = ..., cold_bucket: _Optional[str] = ..., cold_prefix: _Optional[str] = ..., cold_access_key: _Optional[str] = ..., cold_secret_key: _Optional[str] = ..., cold_secret_key_set: _Optional[bool] = ..., clear_cold_secret_key: _Optional[bool] = ..., cold_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cold_region: _Optional[str] = ...) -> None: ...

class SecuritySettings(_message.Message):
    __slots__ = ("revision", "password_min_length", "password_min_score", "access_token_ttl", "refresh_token_ttl", "login_limit_per_account_address", "login_limit_per_address", "login_limit_window", "login_account_backoff_after", "login_account_backoff_max", "login_allowlist")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    LOGIN_LIMIT_PER_ACCOUNT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LOGIN_LIMIT_PER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LOGIN_LIMIT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    LOGIN_ACCOUNT_BACKOFF_AFTER_FIELD_NUMBER: _ClassVar[int]
    LOGIN_ACCOUNT_BACKOFF_MAX_FIELD_NUMBER: _ClassVar[int]
    LOGIN_ALLOWLIST_FIELD_NUMBER: _ClassVar[int]
    revision: SettingsRevision
    password_min_length: int
    password_min_score: int
    access_token_ttl: _duration_pb2.Duration
    refresh_token_ttl: _duration_pb2.Duration
    login_limit_per_account_address: int
    login_limit_per_address: int
    login_limit_window: _duration_pb2.Duration
    login_account_backoff_after: int
    login_account_backoff_max: _duration_pb2.Duration
    login_allowlist: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, revision: _Optional[_Union[SettingsRevision, _Mapping]] = ..., password_min_length: _Optional[int] = ..., password_min_score: _Optional[int] = ..., access_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refresh_token_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., login_limit_per_account_address: _Optional[int] = ..., login_limit_per_address: _Optional[int] = ..., login_limit_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., login_account_backoff_after: _Optional[int] = ..., login_account_backoff_max: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., login_allowlist: _Optional[_Iterable[str]] = ...) -> None: ...

class NotificationSettings(_message.Message):
    __slots__ = ("revision", "smtp_host", "smtp_port", "smtp_username", "smtp_password", "smtp_password_set", "clear_smtp_password", "smtp_from", "smtp_security", "sms_provider", "sms_url", "sms_account", "sms_from", "sms_token", "sms_token_set", "clear_sms_token")
    class SmtpSecurity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SMTP_SECURITY_UNSPECIFIED: _ClassVar[NotificationSettings.SmtpSecurity]
        SMTP_SECURITY_STARTTLS: _ClassVar[NotificationSettings.SmtpSecurity]
        SMTP_SECURITY_TLS: _ClassVar[NotificationSettings.SmtpSecurity]
        SMTP_SECURITY_NONE: _ClassVar[NotificationSettings.SmtpSecurity]
    SMTP_SECURITY_UNSPECIFIED: NotificationSettings.SmtpSecurity
    SMTP_SECURITY_STARTTLS: NotificationSettings.SmtpSecurity
    SMTP_SECURITY_TLS: NotificationSettings.SmtpSecurity
    SMTP_SECURITY_NONE: NotificationSettings.SmtpSecurity
    class SmsProvider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SMS_PROVIDER_UNSPECIFIED: _ClassVar[NotificationSettings.SmsProvider]
        SMS_PROVIDER_TWILIO: _ClassVar[NotificationSettings.SmsProvider]
        SMS_PROVIDER_KANNEL: _ClassVar[NotificationSettings.SmsProvider]
    SMS_PROVIDER_UNSPECIFIED: NotificationSettings.SmsProvider
    SMS_PROVIDER_TWILIO: NotificationSettings.SmsProvider
    SMS_PROVIDER_KANNEL: NotificationSettings.SmsProvider
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SMTP_HOST_FIELD_NUMBER: _ClassVar[int]
    SMTP_PORT_FIELD_NUMBER: _ClassVar[int]
    SMTP_USERNAME_FIELD_NUMBER: _ClassVar[int]
    SMTP_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SMTP_PASSWORD_SET_FIELD_NUMBER: _ClassVar[int]
    CLEAR_SMTP_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SMTP_FROM_FIELD_NUMBER: _ClassVar[int]
    SMTP_SECURITY_FIELD_NUMBER: _ClassVar[int]
    SMS_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SMS_URL_FIELD_NUMBER: _ClassVar[int]
    SMS_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SMS_FROM_FIELD_NUMBER: _ClassVar[int]
    SMS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SMS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    CLEAR_SMS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    revision: SettingsRevision
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_password_set: bool
    clear_smtp_password: bool
    smtp_from: str
    smtp_security: NotificationSettings.SmtpSecurity
    sms_provider: NotificationSettings.SmsProvider
    sms_url: str
    sms_account: str
    sms_from: str
    sms_token: str
    sms_token_set: bool
    clear_sms_token: bool
    def __init__(self, revision: _Optional[_Union[SettingsRevision, _Mapping]] = ..., smtp_host: _Optional[str] = ..., smtp_port: _Optional[int] = ..., smtp_username: _Optional[str] = ..., smtp_password: _Optional[str] = ..., smtp_password_set: _Optional[bool] = ..., clear_smtp_password: _Optional[bool] = ..., smtp_from: _Optional[str] = ..., smtp_security: _Optional[_Union[NotificationSettings.SmtpSecurity, str]] = ..., sms_provider: _Optional[_Union[NotificationSettings.SmsProvider, str]] = ..., sms_url: _Optional[str] = ..., sms_account: _Optional[str] = ..., sms_from: _Optional[str] = ..., sms_token: _Optional[str] = ..., sms_token_set: _Optional[bool] = ..., clear_sms_token: _Optional[bool] = ...) -> None: ...

class Settings(_message.Message):
    __slots__ = ("streaming", "recording", "storage", "security", "notifications")
    STREAMING_FIELD_NUMBER: _ClassVar[int]
    RECORDING_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    streaming: StreamingSettings
    recording: RecordingSettings
    storage: StorageSettings
    security: SecuritySettings
    notifications: NotificationSettings
    def __init__(self, streaming: _Optional[_Union[StreamingSettings, _Mapping]] = ..., recording: _Optional[_Union[RecordingSettings, _Mapping]] = ..., storage: _Optional[_Union[StorageSettings, _Mapping]] = ..., security: _Optional[_Union[SecuritySettings, _Mapping]] = ..., notifications: _Optional[_Union[NotificationSettings, _Mapping]] = ...) -> None: ...

class GetSettingsRequest(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: SettingsGroup
    def __init__(self, group: _Optional[_Union[SettingsGroup, str]] = ...) -> None: ...

class GetSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: Settings
    def __init__(self, settings: _Optional[_Union[Settings, _Mapping]] = ...) -> None: ...

class UpdateSettingsRequest(_message.Message):
    __slots__ = ("streaming", "recording", "storage", "security", "notifications", "update_mask", "version")
    STREAMING_FIELD_NUMBER: _ClassVar[int]
    RECORDING_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    streaming: StreamingSettings
    recording: RecordingSettings
    storage: StorageSettings
    security: SecuritySettings
    notifications: NotificationSettings
    update_mask: _field_mask_pb2.FieldMask
    version: int
    def __init__(self, streaming: _Optional[_Union[StreamingSettings, _Mapping]] = ..., recording: _Optional[_Union[RecordingSettings, _Mapping]] = ..., storage: _Optional[_Union[StorageSettings, _Mapping]] = ..., security: _Optional[_Union[SecuritySettings, _Mapping]] = ..., notifications: _Optional[_Union[NotificationSettings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class UpdateSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: Settings
    def __init__(self, settings: _Optional[_Union[Settings, _Mapping]] = ...) -> None: ...

class ListSettingsHistoryRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "group")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    group: SettingsGroup
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., group: _Optional[_Union[SettingsGroup, str]] = ...) -> None: ...

class SettingsFieldChange(_message.Message):
    __slots__ = ("field", "before", "after")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    field: str
    before: str
    after: str
    def __init__(self, field: _Optional[str] = ..., before: _Optional[str] = ..., after: _Optional[str] = ...) -> None: ...

class SettingsChange(_message.Message):
    __slots__ = ("group", "version", "change_time", "actor", "fields")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    group: SettingsGroup
    version: int
    change_time: _timestamp_pb2.Timestamp
    actor: str
    fields: _containers.RepeatedCompositeFieldContainer[SettingsFieldChange]
    def __init__(self, group: _Optional[_Union[SettingsGroup, str]] = ..., version: _Optional[int] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[SettingsFieldChange, _Mapping]]] = ...) -> None: ...

class ListSettingsHistoryResponse(_message.Message):
    __slots__ = ("changes", "next_page_token")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[SettingsChange]
    next_page_token: str
    def __init__(self, changes: _Optional[_Iterable[_Union[SettingsChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
