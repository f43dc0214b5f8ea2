import datetime

from camfleet.v1 import camera_pb2 as _camera_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_EVENT_TYPE_UNSPECIFIED: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_PUBLISH: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_MEDIA: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_UNPUBLISH: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_ERROR: _ClassVar[StreamEventType]
    STREAM_EVENT_TYPE_REFUSED: _ClassVar[StreamEventType]
STREAM_EVENT_TYPE_UNSPECIFIED: StreamEventType
STREAM_EVENT_TYPE_PUBLISH: StreamEventType
STREAM_EVENT_TYPE_MEDIA: StreamEventType
STREAM_EVENT_TYPE_UNPUBLISH: StreamEventType
STREAM_EVENT_TYPE_ERROR: StreamEventType
STREAM_EVENT_TYPE_REFUSED: StreamEventType

class StreamEventRecord(_message.Message):
    __slots__ = ("id", "camera_id", "node_id", "type", "message", "remote_address", "time", "receive_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    camera_id: str
    node_id: str
    type: StreamEventType
    message: str
    remote_address: str
    time: _timestamp_pb2.Timestamp
    receive_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., camera_id: _Optional[str] = ..., node_id: _Optional[str] = ..., type: _Optional[_Union[StreamEventType, str]] = ..., message: _Optional[str] = ..., remote_address: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamStatus(_message.Message):
    __slots__ = ("camera_id", "status", "status_reason", "node_id", "bitrate_bps", "fps", "width", "height", "video_codec", "audio_codec", "clients", "publish_start_time", "uptime_seconds", "update_time")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    BITRATE_BPS_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VIDEO_CODEC_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CODEC_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_START_TIME_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    status: _camera_pb2.CameraStatus
    status_reason: str
    node_id: str
    bitrate_bps: int
    fps: float
    width: int
    height: int
    video_codec: str
    audio_codec: str
    clients: int
    publish_start_time: _timestamp_pb2.Timestamp
    uptime_seconds: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, camera_id: _Optional[str] = ..., status: _Optional[_Union[_camera_pb2.CameraStatus, str]] = ..., status_reason: _Optional[str] = ..., node_id: _Optional[str] = ..., bitrate_bps: _Optional[int] = ..., fps: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., video_codec: _Optional[str] = ..., audio_codec: _Optional[str] = ..., clients: _Optional[int] = ..., publish_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uptime_seconds: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStreamRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class GetStreamResponse(_message.Message):
    __slots__ = ("stream",)
    STREAM_FIELD_NUMBER: _ClassVar[int]
    stream: StreamStatus
    def __init__(self, stream: _Optional[_Union[StreamStatus, _Mapping]] = ...) -> None: ...

class ListStreamsRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class ListStreamsResponse(_message.Message):
    __slots__ = ("streams",)
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    streams: _containers.RepeatedCompositeFieldContainer[StreamStatus]
    def __init__(self, streams: _Optional[_Iterable[_Union[StreamStatus, _Mapping]]] = ...) -> None: ...

class ListStreamEventsRequest(_message.Message):
    __slots__ = ("camera_id", "page_size", "page_token")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    page_size: int
    page_token: str
    def __init__(self, camera_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStreamEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[StreamEventRecord]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[StreamEventRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
