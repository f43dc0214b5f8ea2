import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StorageTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORAGE_TIER_UNSPECIFIED: _ClassVar[StorageTier]
    STORAGE_TIER_HOT: _ClassVar[StorageTier]
    STORAGE_TIER_WARM: _ClassVar[StorageTier]
    STORAGE_TIER_COLD: _ClassVar[StorageTier]

class RecordingProfile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORDING_PROFILE_UNSPECIFIED: _ClassVar[RecordingProfile]
    RECORDING_PROFILE_ORIGINAL: _ClassVar[RecordingProfile]
    RECORDING_PROFILE_LOW: _ClassVar[RecordingProfile]
    RECORDING_PROFILE_MEDIUM: _ClassVar[RecordingProfile]
    RECORDING_PROFILE_HIGH: _ClassVar[RecordingProfile]
    RECORDING_PROFILE_ULTRA: _ClassVar[RecordingProfile]

class RecordingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORDING_STATE_UNSPECIFIED: _ClassVar[RecordingState]
    RECORDING_STATE_IDLE: _ClassVar[RecordingState]
    RECORDING_STATE_RECORDING: _ClassVar[RecordingState]
    RECORDING_STATE_ERROR: _ClassVar[RecordingState]

class GapCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GAP_CAUSE_UNSPECIFIED: _ClassVar[GapCause]
    GAP_CAUSE_NODE_LOST: _ClassVar[GapCause]
    GAP_CAUSE_SOURCE_ERROR: _ClassVar[GapCause]
    GAP_CAUSE_RECORDER_CRASH: _ClassVar[GapCause]
    GAP_CAUSE_DISK_FULL: _ClassVar[GapCause]
    GAP_CAUSE_CAMERA_STOPPED: _ClassVar[GapCause]
    GAP_CAUSE_UNKNOWN: _ClassVar[GapCause]
STORAGE_TIER_UNSPECIFIED: StorageTier
STORAGE_TIER_HOT: StorageTier
STORAGE_TIER_WARM: StorageTier
STORAGE_TIER_COLD: StorageTier
RECORDING_PROFILE_UNSPECIFIED: RecordingProfile
RECORDING_PROFILE_ORIGINAL: RecordingProfile
RECORDING_PROFILE_LOW: RecordingProfile
RECORDING_PROFILE_MEDIUM: RecordingProfile
RECORDING_PROFILE_HIGH: RecordingProfile
RECORDING_PROFILE_ULTRA: RecordingProfile
RECORDING_STATE_UNSPECIFIED: RecordingState
RECORDING_STATE_IDLE: RecordingState
RECORDING_STATE_RECORDING: RecordingState
RECORDING_STATE_ERROR: RecordingState
GAP_CAUSE_UNSPECIFIED: GapCause
GAP_CAUSE_NODE_LOST: GapCause
GAP_CAUSE_SOURCE_ERROR: GapCause
GAP_CAUSE_RECORDER_CRASH: GapCause
GAP_CAUSE_DISK_FULL: GapCause
GAP_CAUSE_CAMERA_STOPPED: GapCause
GAP_CAUSE_UNKNOWN: GapCause

class Recording(_message.Message):
    __slots__ = ("id", "camera_id", "node_id", "start_time", "end_time", "duration", "size_bytes", "sha256", "tier", "profile", "container", "recovered", "create_time", "epoch", "object_bucket", "object_key")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    OBJECT_BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    node_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    size_bytes: int
    sha256: str
    tier: StorageTier
    profile: RecordingProfile
    container: str
    recovered: bool
    create_time: _timestamp_pb2.Timestamp
    epoch: int
    object_bucket: str
    object_key: str
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., node_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., tier: _Optional[_Union[StorageTier, str]] = ..., profile: _Optional[_Union[RecordingProfile, str]] = ..., container: _Optional[str] = ..., recovered: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., epoch: _Optional[int] = ..., object_bucket: _Optional[str] = ..., object_key: _Optional[str] = ...) -> None: ...

class RecordingGap(_message.Message):
    __slots__ = ("camera_id", "start_time", "end_time", "reason", "cause", "node_ids")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    reason: str
    cause: GapCause
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, camera_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., cause: _Optional[_Union[GapCause, str]] = ..., node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TimelineSpan(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListRecordingsRequest(_message.Message):
    __slots__ = ("camera_id", "start_time", "end_time", "page_size", "page_token")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, camera_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRecordingsResponse(_message.Message):
    __slots__ = ("recordings", "next_page_token")
    RECORDINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    recordings: _containers.RepeatedCompositeFieldContainer[Recording]
    next_page_token: str
    def __init__(self, recordings: _Optional[_Iterable[_Union[Recording, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRecordingRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRecordingResponse(_message.Message):
    __slots__ = ("recording",)
    RECORDING_FIELD_NUMBER: _ClassVar[int]
    recording: Recording
    def __init__(self, recording: _Optional[_Union[Recording, _Mapping]] = ...) -> None: ...

class GetTimelineRequest(_message.Message):
    __slots__ = ("camera_id", "start_time", "end_time")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, camera_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTimelineResponse(_message.Message):
    __slots__ = ("spans", "gaps", "recorded", "expected", "coverage")
    SPANS_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    spans: _containers.RepeatedCompositeFieldContainer[TimelineSpan]
    gaps: _containers.RepeatedCompositeFieldContainer[RecordingGap]
    recorded: _duration_pb2.Duration
    expected: _duration_pb2.Duration
    coverage: float
    def __init__(self, spans: _Optional[_Iterable[_Union[TimelineSpan, _Mapping]]] = ..., gaps: _Optional[_Iterable[_Union[RecordingGap, _Mapping]]] = ..., recorded: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., expected: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., coverage: _Optional[float] = ...) -> None: ...

class GetDownloadUrlRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetDownloadUrlResponse(_message.Message):
    __slots__ = ("url", "expire_time")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    url: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeleteRecordingRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteRecordingResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExportClipRequest(_message.Message):
    __slots__ = ("camera_id", "start_time", "end_time")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, camera_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportClipResponse(_message.Message):
    __slots__ = ("url", "expire_time", "start_time", "end_time", "holes")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    url: str
    expire_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    holes: _containers.RepeatedCompositeFieldContainer[RecordingGap]
    def __init__(self, url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., holes: _Optional[_Iterable[_Union[RecordingGap, _Mapping]]] = ...) -> None: ...

class GetPlaybackUrlRequest(_message.Message):
    __slots__ = ("camera_id", "start_time", "end_time")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, camera_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPlaybackUrlResponse(_message.Message):
    __slots__ = ("url", "expire_time")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    url: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
