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

class CameraStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMERA_STATUS_UNSPECIFIED: _ClassVar[CameraStatus]
    CAMERA_STATUS_OFFLINE: _ClassVar[CameraStatus]
    CAMERA_STATUS_CONNECTING: _ClassVar[CameraStatus]
    CAMERA_STATUS_ONLINE: _ClassVar[CameraStatus]
    CAMERA_STATUS_ERROR: _ClassVar[CameraStatus]

class IngestMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_MODE_UNSPECIFIED: _ClassVar[IngestMode]
    INGEST_MODE_PUSH: _ClassVar[IngestMode]
    INGEST_MODE_PULL: _ClassVar[IngestMode]

class PlacementReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLACEMENT_REASON_UNSPECIFIED: _ClassVar[PlacementReason]
    PLACEMENT_REASON_PLACED: _ClassVar[PlacementReason]
    PLACEMENT_REASON_NODE_LOST: _ClassVar[PlacementReason]
    PLACEMENT_REASON_DRAIN: _ClassVar[PlacementReason]
    PLACEMENT_REASON_REBALANCE: _ClassVar[PlacementReason]
    PLACEMENT_REASON_SELECTOR: _ClassVar[PlacementReason]
    PLACEMENT_REASON_UNPLACED: _ClassVar[PlacementReason]
    PLACEMENT_REASON_PUBLISHED: _ClassVar[PlacementReason]
    PLACEMENT_REASON_HANDOVER_DONE: _ClassVar[PlacementReason]

class CameraAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMERA_ACTION_UNSPECIFIED: _ClassVar[CameraAction]
    CAMERA_ACTION_ACTIVATE: _ClassVar[CameraAction]
    CAMERA_ACTION_DEACTIVATE: _ClassVar[CameraAction]
    CAMERA_ACTION_START_RECORDING: _ClassVar[CameraAction]
    CAMERA_ACTION_STOP_RECORDING: _ClassVar[CameraAction]
    CAMERA_ACTION_DELETE: _ClassVar[CameraAction]
    CAMERA_ACTION_ROTATE_STREAM_KEY: _ClassVar[CameraAction]
CAMERA_STATUS_UNSPECIFIED: CameraStatus
CAMERA_STATUS_OFFLINE: CameraStatus
CAMERA_STATUS_CONNECTING: CameraStatus
CAMERA_STATUS_ONLINE: CameraStatus
CAMERA_STATUS_ERROR: CameraStatus
INGEST_MODE_UNSPECIFIED: IngestMode
INGEST_MODE_PUSH: IngestMode
INGEST_MODE_PULL: IngestMode
PLACEMENT_REASON_UNSPECIFIED: PlacementReason
PLACEMENT_REASON_PLACED: PlacementReason
PLACEMENT_REASON_NODE_LOST: PlacementReason
PLACEMENT_REASON_DRAIN: PlacementReason
PLACEMENT_REASON_REBALANCE: PlacementReason
PLACEMENT_REASON_SELECTOR: PlacementReason
PLACEMENT_REASON_UNPLACED: PlacementReason
PLACEMENT_REASON_PUBLISHED: PlacementReason
PLACEMENT_REASON_HANDOVER_DONE: PlacementReason
CAMERA_ACTION_UNSPECIFIED: CameraAction
CAMERA_ACTION_ACTIVATE: CameraAction
CAMERA_ACTION_DEACTIVATE: CameraAction
CAMERA_ACTION_START_RECORDING: CameraAction
CAMERA_ACTION_STOP_RECORDING: CameraAction
CAMERA_ACTION_DELETE: CameraAction
CAMERA_ACTION_ROTATE_STREAM_KEY: CameraAction

class Camera(_message.Message):
    __slots__ = ("id", "name", "description", "location", "status", "status_reason", "active", "recording_enabled", "ingest_mode", "source_url", "stream_key", "labels", "create_time", "update_time", "status_change_time", "node_id", "recording_state", "recording_state_reason", "recording_profile", "retention_max_age", "retention_max_bytes", "node_selector", "placement_epoch", "placement_reason", "handover_node_id", "live_ladder")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class NodeSelectorEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    RECORDING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    INGEST_MODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    STREAM_KEY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDING_STATE_FIELD_NUMBER: _ClassVar[int]
    RECORDING_STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    RECORDING_PROFILE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    NODE_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_EPOCH_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_REASON_FIELD_NUMBER: _ClassVar[int]
    HANDOVER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LIVE_LADDER_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    location: str
    status: CameraStatus
    status_reason: str
    active: bool
    recording_enabled: bool
    ingest_mode: IngestMode
    source_url: str
    stream_key: str
    labels: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    status_change_time: _timestamp_pb2.Timestamp
    node_id: str
    recording_state: _recording_pb2.RecordingState
    recording_state_reason: str
    recording_profile: _recording_pb2.RecordingProfile
    retention_max_age: _duration_pb2.Duration
    retention_max_bytes: int
    node_selector: _containers.ScalarMap[str, str]
    placement_epoch: int
    placement_reason: str
    handover_node_id: str
    live_ladder: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., location: _Optional[str] = ..., status: _Optional[_Union[CameraStatus, str]] = ..., status_reason: _Optional[str] = ..., active: _Optional[bool] = ..., recording_enabled: _Optional[bool] = ..., ingest_mode: _Optional[_Union[IngestMode, str]] = ..., source_url: _Optional[str] = ..., stream_key: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., node_id: _Optional[str] = ..., recording_state: _Optional[_Union[_recording_pb2.RecordingState, str]] = ..., recording_state_reason: _Optional[str] = ..., recording_profile: _Optional[_Union[_recording_pb2.RecordingProfile, str]] = ..., retention_max_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retention_max_bytes: _Optional[int] = ..., node_selector: _Optional[_Mapping[str, str]] = ..., placement_epoch: _Optional[int] = ..., placement_reason: _Optional[str] = ..., handover_node_id: _Optional[str] = ..., live_ladder: _Optional[_Iterable[str]] = ...) -> None: ...

class Placement(_message.Message):
    __slots__ = ("camera_id", "from_node_id", "to_node_id", "reason", "message", "epoch", "time")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    from_node_id: str
    to_node_id: str
    reason: PlacementReason
    message: str
    epoch: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, camera_id: _Optional[str] = ..., from_node_id: _Optional[str] = ..., to_node_id: _Optional[str] = ..., reason: _Optional[_Union[PlacementReason, str]] = ..., message: _Optional[str] = ..., epoch: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPlacementsRequest(_message.Message):
    __slots__ = ("camera_id", "page_size", "page_token")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    page_size: int
    page_token: str
    def __init__(self, camera_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPlacementsResponse(_message.Message):
    __slots__ = ("placements", "next_page_token")
    PLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    placements: _containers.RepeatedCompositeFieldContainer[Placement]
    next_page_token: str
    def __init__(self, placements: _Optional[_Iterable[_Union[Placement, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateCameraRequest(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class CreateCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class GetCameraRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class ListCamerasRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "order_by", "search")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    order_by: str
    search: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., search: _Optional[str] = ...) -> None: ...

class ListCamerasResponse(_message.Message):
    __slots__ = ("cameras", "next_page_token", "total_size", "revision")
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[Camera]
    next_page_token: str
    total_size: int
    revision: int
    def __init__(self, cameras: _Optional[_Iterable[_Union[Camera, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ..., revision: _Optional[int] = ...) -> None: ...

class UpdateCameraRequest(_message.Message):
    __slots__ = ("camera", "update_mask")
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class DeleteCameraRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteCameraResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateStreamKeyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RotateStreamKeyResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class ActivateCameraRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ActivateCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class DeactivateCameraRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeactivateCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class StartRecordingRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StartRecordingResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class StopRecordingRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StopRecordingResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class BatchCameraActionRequest(_message.Message):
    __slots__ = ("ids", "action")
    IDS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    action: CameraAction
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., action: _Optional[_Union[CameraAction, str]] = ...) -> None: ...

class BatchCameraActionResponse(_message.Message):
    __slots__ = ("cameras", "affected_count")
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[Camera]
    affected_count: int
    def __init__(self, cameras: _Optional[_Iterable[_Union[Camera, _Mapping]]] = ..., affected_count: _Optional[int] = ...) -> None: ...

class GetStreamUrlsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetStreamUrlsResponse(_message.Message):
    __slots__ = ("rtmp_publish_url", "hls_playback_url", "expire_time", "hls_ladder_url", "whep_url")
    RTMP_PUBLISH_URL_FIELD_NUMBER: _ClassVar[int]
    HLS_PLAYBACK_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    HLS_LADDER_URL_FIELD_NUMBER: _ClassVar[int]
    WHEP_URL_FIELD_NUMBER: _ClassVar[int]
    rtmp_publish_url: str
    hls_playback_url: str
    expire_time: _timestamp_pb2.Timestamp
    hls_ladder_url: str
    whep_url: str
    def __init__(self, rtmp_publish_url: _Optional[str] = ..., hls_playback_url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hls_ladder_url: _Optional[str] = ..., whep_url: _Optional[str] = ...) -> None: ...
