import datetime

from camfleet.v1 import alert_pb2 as _alert_pb2
from camfleet.v1 import camera_pb2 as _camera_pb2
from camfleet.v1 import node_pb2 as _node_pb2
from camfleet.v1 import recording_pb2 as _recording_pb2
from camfleet.v1 import stream_pb2 as _stream_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_CAMERA_CREATED: _ClassVar[EventType]
    EVENT_TYPE_CAMERA_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_CAMERA_DELETED: _ClassVar[EventType]
    EVENT_TYPE_CAMERA_STATUS_CHANGED: _ClassVar[EventType]
    EVENT_TYPE_NODE_JOINED: _ClassVar[EventType]
    EVENT_TYPE_NODE_STATE_CHANGED: _ClassVar[EventType]
    EVENT_TYPE_NODE_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_NODE_DELETED: _ClassVar[EventType]
    EVENT_TYPE_STREAM_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_BOOKMARK: _ClassVar[EventType]
    EVENT_TYPE_RECORDING_STATE_CHANGED: _ClassVar[EventType]
    EVENT_TYPE_RECORDING_ADDED: _ClassVar[EventType]
    EVENT_TYPE_CAMERA_PLACED: _ClassVar[EventType]
    EVENT_TYPE_ALERT_CHANGED: _ClassVar[EventType]
    EVENT_TYPE_SETTINGS_CHANGED: _ClassVar[EventType]
    EVENT_TYPE_STORAGE_TIER_CHANGED: _ClassVar[EventType]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_CAMERA_CREATED: EventType
EVENT_TYPE_CAMERA_UPDATED: EventType
EVENT_TYPE_CAMERA_DELETED: EventType
EVENT_TYPE_CAMERA_STATUS_CHANGED: EventType
EVENT_TYPE_NODE_JOINED: EventType
EVENT_TYPE_NODE_STATE_CHANGED: EventType
EVENT_TYPE_NODE_UPDATED: EventType
EVENT_TYPE_NODE_DELETED: EventType
EVENT_TYPE_STREAM_UPDATED: EventType
EVENT_TYPE_BOOKMARK: EventType
EVENT_TYPE_RECORDING_STATE_CHANGED: EventType
EVENT_TYPE_RECORDING_ADDED: EventType
EVENT_TYPE_CAMERA_PLACED: EventType
EVENT_TYPE_ALERT_CHANGED: EventType
EVENT_TYPE_SETTINGS_CHANGED: EventType
EVENT_TYPE_STORAGE_TIER_CHANGED: EventType

class Event(_message.Message):
    __slots__ = ("revision", "type", "time", "subject", "message", "camera", "node", "stream", "recording", "placement", "alert")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    RECORDING_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    revision: int
    type: EventType
    time: _timestamp_pb2.Timestamp
    subject: str
    message: str
    camera: _camera_pb2.Camera
    node: _node_pb2.Node
    stream: _stream_pb2.StreamStatus
    recording: _recording_pb2.Recording
    placement: _camera_pb2.Placement
    alert: _alert_pb2.Alert
    def __init__(self, revision: _Optional[int] = ..., type: _Optional[_Union[EventType, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subject: _Optional[str] = ..., message: _Optional[str] = ..., camera: _Optional[_Union[_camera_pb2.Camera, _Mapping]] = ..., node: _Optional[_Union[_node_pb2.Node, _Mapping]] = ..., stream: _Optional[_Union[_stream_pb2.StreamStatus, _Mapping]] = ..., recording: _Optional[_Union[_recording_pb2.Recording, _Mapping]] = ..., placement: _Optional[_Union[_camera_pb2.Placement, _Mapping]] = ..., alert: _Optional[_Union[_alert_pb2.Alert, _Mapping]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("after_revision", "filter")
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    after_revision: int
    filter: str
    def __init__(self, after_revision: _Optional[int] = ..., filter: _Optional[str] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...
