import datetime

from camfleet.v1 import node_pb2 as _node_pb2
from camfleet.v1 import recording_pb2 as _recording_pb2
from camfleet.v1 import stream_pb2 as _stream_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssignedIngest(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGNED_INGEST_UNSPECIFIED: _ClassVar[AssignedIngest]
    ASSIGNED_INGEST_PUSH: _ClassVar[AssignedIngest]
    ASSIGNED_INGEST_PULL: _ClassVar[AssignedIngest]

class SegmentEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_EVENT_TYPE_UNSPECIFIED: _ClassVar[SegmentEventType]
    SEGMENT_EVENT_TYPE_CLOSED: _ClassVar[SegmentEventType]
    SEGMENT_EVENT_TYPE_MOVED: _ClassVar[SegmentEventType]
    SEGMENT_EVENT_TYPE_DELETED: _ClassVar[SegmentEventType]
    SEGMENT_EVENT_TYPE_MOVES_BLOCKED: _ClassVar[SegmentEventType]
    SEGMENT_EVENT_TYPE_MOVES_RESUMED: _ClassVar[SegmentEventType]
ASSIGNED_INGEST_UNSPECIFIED: AssignedIngest
ASSIGNED_INGEST_PUSH: AssignedIngest
ASSIGNED_INGEST_PULL: AssignedIngest
SEGMENT_EVENT_TYPE_UNSPECIFIED: SegmentEventType
SEGMENT_EVENT_TYPE_CLOSED: SegmentEventType
SEGMENT_EVENT_TYPE_MOVED: SegmentEventType
SEGMENT_EVENT_TYPE_DELETED: SegmentEventType
SEGMENT_EVENT_TYPE_MOVES_BLOCKED: SegmentEventType
SEGMENT_EVENT_TYPE_MOVES_RESUMED: SegmentEventType

class RegisterNodeRequest(_message.Message):
    __slots__ = ("join_token", "name", "labels", "certificate_request")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOIN_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    join_token: str
    name: str
    labels: _containers.ScalarMap[str, str]
    certificate_request: str
    def __init__(self, join_token: _Optional[str] = ..., name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., certificate_request: _Optional[str] = ...) -> None: ...

class RegisterNodeResponse(_message.Message):
    __slots__ = ("node_id", "credential", "certificate")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    credential: str
    certificate: str
    def __init__(self, node_id: _Optional[str] = ..., credential: _Optional[str] = ..., certificate: _Optional[str] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("event_id", "time", "hello", "heartbeat", "stream_event", "ack", "nack", "segment_event", "recorder_event")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STREAM_EVENT_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_EVENT_FIELD_NUMBER: _ClassVar[int]
    RECORDER_EVENT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    time: _timestamp_pb2.Timestamp
    hello: Hello
    heartbeat: Heartbeat
    stream_event: StreamEvent
    ack: AssignmentAck
    nack: AssignmentNack
    segment_event: SegmentEvent
    recorder_event: RecorderEvent
    def __init__(self, event_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., stream_event: _Optional[_Union[StreamEvent, _Mapping]] = ..., ack: _Optional[_Union[AssignmentAck, _Mapping]] = ..., nack: _Optional[_Union[AssignmentNack, _Mapping]] = ..., segment_event: _Optional[_Union[SegmentEvent, _Mapping]] = ..., recorder_event: _Optional[_Union[RecorderEvent, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("welcome", "assignment", "drain", "ping", "event_ack", "delete_segments")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    EVENT_ACK_FIELD_NUMBER: _ClassVar[int]
    DELETE_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    assignment: Assignment
    drain: Drain
    ping: Ping
    event_ack: EventAck
    delete_segments: DeleteSegments
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., assignment: _Optional[_Union[Assignment, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., event_ack: _Optional[_Union[EventAck, _Mapping]] = ..., delete_segments: _Optional[_Union[DeleteSegments, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("version", "capacity", "rtmp_url", "http_url", "streams", "assignment_version", "cpu_cores", "uptime_seconds")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RTMP_URL_FIELD_NUMBER: _ClassVar[int]
    HTTP_URL_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CPU_CORES_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    version: str
    capacity: int
    rtmp_url: str
    http_url: str
    streams: _containers.RepeatedCompositeFieldContainer[StreamReport]
    assignment_version: int
    cpu_cores: float
    uptime_seconds: float
    def __init__(self, version: _Optional[str] = ..., capacity: _Optional[int] = ..., rtmp_url: _Optional[str] = ..., http_url: _Optional[str] = ..., streams: _Optional[_Iterable[_Union[StreamReport, _Mapping]]] = ..., assignment_version: _Optional[int] = ..., cpu_cores: _Optional[float] = ..., uptime_seconds: _Optional[float] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("session_id", "heartbeat_interval", "playback_secret", "node_id", "lost_after")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_SECRET_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LOST_AFTER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    heartbeat_interval: _duration_pb2.Duration
    playback_secret: str
    node_id: str
    lost_after: _duration_pb2.Duration
    def __init__(self, session_id: _Optional[str] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., playback_secret: _Optional[str] = ..., node_id: _Optional[str] = ..., lost_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StreamReport(_message.Message):
    __slots__ = ("camera_id", "bitrate_bps", "fps", "width", "height", "video_codec", "audio_codec", "clients", "publish_start_time", "media_flowing")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    BITRATE_BPS_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VIDEO_CODEC_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CODEC_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_START_TIME_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FLOWING_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    bitrate_bps: int
    fps: float
    width: int
    height: int
    video_codec: str
    audio_codec: str
    clients: int
    publish_start_time: _timestamp_pb2.Timestamp
    media_flowing: bool
    def __init__(self, camera_id: _Optional[str] = ..., bitrate_bps: _Optional[int] = ..., fps: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., video_codec: _Optional[str] = ..., audio_codec: _Optional[str] = ..., clients: _Optional[int] = ..., publish_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., media_flowing: _Optional[bool] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("host", "streams")
    HOST_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    host: _node_pb2.HostMetrics
    streams: _containers.RepeatedCompositeFieldContainer[StreamReport]
    def __init__(self, host: _Optional[_Union[_node_pb2.HostMetrics, _Mapping]] = ..., streams: _Optional[_Iterable[_Union[StreamReport, _Mapping]]] = ...) -> None: ...

class StreamEvent(_message.Message):
    __slots__ = ("type", "camera_id", "message", "remote_address", "stream_key_prefix")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STREAM_KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    type: _stream_pb2.StreamEventType
    camera_id: str
    message: str
    remote_address: str
    stream_key_prefix: str
    def __init__(self, type: _Optional[_Union[_stream_pb2.StreamEventType, str]] = ..., camera_id: _Optional[str] = ..., message: _Optional[str] = ..., remote_address: _Optional[str] = ..., stream_key_prefix: _Optional[str] = ...) -> None: ...

class AssignmentAck(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class AssignmentNack(_message.Message):
    __slots__ = ("version", "error")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    version: int
    error: str
    def __init__(self, version: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class EventAck(_message.Message):
    __slots__ = ("event_ids",)
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AssignedCamera(_message.Message):
    __slots__ = ("camera_id", "name", "ingest", "stream_key", "source_url", "record", "record_profile", "retention_max_age", "retention_max_bytes", "epoch", "ladder")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INGEST_FIELD_NUMBER: _ClassVar[int]
    STREAM_KEY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    RECORD_PROFILE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LADDER_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    name: str
    ingest: AssignedIngest
    stream_key: str
    source_url: str
    record: bool
    record_profile: _recording_pb2.RecordingProfile
    retention_max_age: _duration_pb2.Duration
    retention_max_bytes: int
    epoch: int
    ladder: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, camera_id: _Optional[str] = ..., name: _Optional[str] = ..., ingest: _Optional[_Union[AssignedIngest, str]] = ..., stream_key: _Optional[str] = ..., source_url: _Optional[str] = ..., record: _Optional[bool] = ..., record_profile: _Optional[_Union[_recording_pb2.RecordingProfile, str]] = ..., retention_max_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retention_max_bytes: _Optional[int] = ..., epoch: _Optional[int] = ..., ladder: _Optional[_Iterable[str]] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("version", "cameras", "revoked_grants", "playback", "settings")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_GRANTS_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    version: int
    cameras: _containers.RepeatedCompositeFieldContainer[AssignedCamera]
    revoked_grants: _containers.RepeatedCompositeFieldContainer[RevokedGrant]
    playback: PlaybackPolicy
    settings: AgentSettings
    def __init__(self, version: _Optional[int] = ..., cameras: _Optional[_Iterable[_Union[AssignedCamera, _Mapping]]] = ..., revoked_grants: _Optional[_Iterable[_Union[RevokedGrant, _Mapping]]] = ..., playback: _Optional[_Union[PlaybackPolicy, _Mapping]] = ..., settings: _Optional[_Union[AgentSettings, _Mapping]] = ...) -> None: ...

class AgentSettings(_message.Message):
    __slots__ = ("hls_fragment", "hls_playlist_length", "segment_length", "free_space_floor_bytes", "warm_after", "cold")
    HLS_FRAGMENT_FIELD_NUMBER: _ClassVar[int]
    HLS_PLAYLIST_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    FREE_SPACE_FLOOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    WARM_AFTER_FIELD_NUMBER: _ClassVar[int]
    COLD_FIELD_NUMBER: _ClassVar[int]
    hls_fragment: _duration_pb2.Duration
    hls_playlist_length: _duration_pb2.Duration
    segment_length: _duration_pb2.Duration
    free_space_floor_bytes: int
    warm_after: _duration_pb2.Duration
    cold: ColdStorage
    def __init__(self, hls_fragment: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., hls_playlist_length: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., segment_length: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., free_space_floor_bytes: _Optional[int] = ..., warm_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cold: _Optional[_Union[ColdStorage, _Mapping]] = ...) -> None: ...

class ColdStorage(_message.Message):
    __slots__ = ("endpoint", "bucket", "prefix", "access_key", "secret_key", "after", "region")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    bucket: str
    prefix: str
    access_key: str
    secret_key: str
    after: _duration_pb2.Duration
    region: str
    def __init__(self, endpoint: _Optional[str] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., access_key: _Optional[str] = ..., secret_key: _Optional[str] = ..., after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., region: _Optional[str] = ...) -> None: ...

class RevokedGrant(_message.Message):
    __slots__ = ("principal", "not_before")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    principal: str
    not_before: _timestamp_pb2.Timestamp
    def __init__(self, principal: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PlaybackPolicy(_message.Message):
    __slots__ = ("max_url_ttl", "max_clip_duration", "export_cache_bytes", "exports_per_node", "exports_per_principal")
    MAX_URL_TTL_FIELD_NUMBER: _ClassVar[int]
    MAX_CLIP_DURATION_FIELD_NUMBER: _ClassVar[int]
    EXPORT_CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_PER_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    max_url_ttl: _duration_pb2.Duration
    max_clip_duration: _duration_pb2.Duration
    export_cache_bytes: int
    exports_per_node: int
    exports_per_principal: int
    def __init__(self, max_url_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_clip_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., export_cache_bytes: _Optional[int] = ..., exports_per_node: _Optional[int] = ..., exports_per_principal: _Optional[int] = ...) -> None: ...

class CheckStreamKeyRequest(_message.Message):
    __slots__ = ("stream_key", "remote_address")
    STREAM_KEY_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    stream_key: str
    remote_address: str
    def __init__(self, stream_key: _Optional[str] = ..., remote_address: _Optional[str] = ...) -> None: ...

class CheckStreamKeyResponse(_message.Message):
    __slots__ = ("allowed", "camera_id", "reason")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    camera_id: str
    reason: str
    def __init__(self, allowed: _Optional[bool] = ..., camera_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetClipPartsRequest(_message.Message):
    __slots__ = ("camera_id", "start_ms", "end_ms", "grant", "expires", "signature")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    start_ms: int
    end_ms: int
    grant: str
    expires: int
    signature: str
    def __init__(self, camera_id: _Optional[str] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., grant: _Optional[str] = ..., expires: _Optional[int] = ..., signature: _Optional[str] = ...) -> None: ...

class ClipPart(_message.Message):
    __slots__ = ("recording_id", "start_time", "end_time", "size_bytes", "url", "node_name")
    RECORDING_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    recording_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    size_bytes: int
    url: str
    node_name: str
    def __init__(self, recording_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., size_bytes: _Optional[int] = ..., url: _Optional[str] = ..., node_name: _Optional[str] = ...) -> None: ...

class GetClipPartsResponse(_message.Message):
    __slots__ = ("parts",)
    PARTS_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.RepeatedCompositeFieldContainer[ClipPart]
    def __init__(self, parts: _Optional[_Iterable[_Union[ClipPart, _Mapping]]] = ...) -> None: ...

class SegmentEvent(_message.Message):
    __slots__ = ("type", "segment", "reason")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    type: SegmentEventType
    segment: _recording_pb2.Recording
    reason: str
    def __init__(self, type: _Optional[_Union[SegmentEventType, str]] = ..., segment: _Optional[_Union[_recording_pb2.Recording, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RecorderEvent(_message.Message):
    __slots__ = ("camera_id", "state", "message", "gap")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    state: _recording_pb2.RecordingState
    message: str
    gap: _recording_pb2.RecordingGap
    def __init__(self, camera_id: _Optional[str] = ..., state: _Optional[_Union[_recording_pb2.RecordingState, str]] = ..., message: _Optional[str] = ..., gap: _Optional[_Union[_recording_pb2.RecordingGap, _Mapping]] = ...) -> None: ...

class DeleteSegments(_message.Message):
    __slots__ = ("recording_ids",)
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, recording_ids: _Optional[_Iterable[str]] = ...) -> None: ...
