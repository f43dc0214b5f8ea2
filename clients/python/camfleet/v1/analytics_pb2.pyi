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

class StorageGrouping(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORAGE_GROUPING_UNSPECIFIED: _ClassVar[StorageGrouping]
    STORAGE_GROUPING_CAMERA: _ClassVar[StorageGrouping]
    STORAGE_GROUPING_NODE: _ClassVar[StorageGrouping]
    STORAGE_GROUPING_TIER: _ClassVar[StorageGrouping]

class ForecastVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORECAST_VERDICT_UNSPECIFIED: _ClassVar[ForecastVerdict]
    FORECAST_VERDICT_RETENTION_MET: _ClassVar[ForecastVerdict]
    FORECAST_VERDICT_FILLS_UP: _ClassVar[ForecastVerdict]
    FORECAST_VERDICT_UNKNOWN: _ClassVar[ForecastVerdict]

class ReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_KIND_UNSPECIFIED: _ClassVar[ReportKind]
    REPORT_KIND_CAMERA_PERFORMANCE: _ClassVar[ReportKind]
    REPORT_KIND_STORAGE: _ClassVar[ReportKind]

class ReportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_FORMAT_UNSPECIFIED: _ClassVar[ReportFormat]
    REPORT_FORMAT_CSV: _ClassVar[ReportFormat]
    REPORT_FORMAT_XLSX: _ClassVar[ReportFormat]
    REPORT_FORMAT_PDF: _ClassVar[ReportFormat]

class ReportPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_PERIOD_UNSPECIFIED: _ClassVar[ReportPeriod]
    REPORT_PERIOD_DAILY: _ClassVar[ReportPeriod]
    REPORT_PERIOD_WEEKLY: _ClassVar[ReportPeriod]
STORAGE_GROUPING_UNSPECIFIED: StorageGrouping
STORAGE_GROUPING_CAMERA: StorageGrouping
STORAGE_GROUPING_NODE: StorageGrouping
STORAGE_GROUPING_TIER: StorageGrouping
FORECAST_VERDICT_UNSPECIFIED: ForecastVerdict
FORECAST_VERDICT_RETENTION_MET: ForecastVerdict
FORECAST_VERDICT_FILLS_UP: ForecastVerdict
FORECAST_VERDICT_UNKNOWN: ForecastVerdict
REPORT_KIND_UNSPECIFIED: ReportKind
REPORT_KIND_CAMERA_PERFORMANCE: ReportKind
REPORT_KIND_STORAGE: ReportKind
REPORT_FORMAT_UNSPECIFIED: ReportFormat
REPORT_FORMAT_CSV: ReportFormat
REPORT_FORMAT_XLSX: ReportFormat
REPORT_FORMAT_PDF: ReportFormat
REPORT_PERIOD_UNSPECIFIED: ReportPeriod
REPORT_PERIOD_DAILY: ReportPeriod
REPORT_PERIOD_WEEKLY: ReportPeriod

class TimeRange(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetUptimeRequest(_message.Message):
    __slots__ = ("range", "bucket", "filter", "order_by", "page_size", "page_token")
    RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    range: TimeRange
    bucket: _duration_pb2.Duration
    filter: str
    order_by: str
    page_size: int
    page_token: str
    def __init__(self, range: _Optional[_Union[TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class UptimeBucket(_message.Message):
    __slots__ = ("start_time", "uptime", "up", "down")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    DOWN_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    uptime: float
    up: _duration_pb2.Duration
    down: _duration_pb2.Duration
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uptime: _Optional[float] = ..., up: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., down: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Outages(_message.Message):
    __slots__ = ("count", "total", "longest", "mtbf")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LONGEST_FIELD_NUMBER: _ClassVar[int]
    MTBF_FIELD_NUMBER: _ClassVar[int]
    count: int
    total: _duration_pb2.Duration
    longest: _duration_pb2.Duration
    mtbf: _duration_pb2.Duration
    def __init__(self, count: _Optional[int] = ..., total: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., longest: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., mtbf: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CameraUptime(_message.Message):
    __slots__ = ("camera_id", "camera_name", "uptime", "up", "down", "outages", "buckets")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_NAME_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    DOWN_FIELD_NUMBER: _ClassVar[int]
    OUTAGES_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    camera_name: str
    uptime: float
    up: _duration_pb2.Duration
    down: _duration_pb2.Duration
    outages: Outages
    buckets: _containers.RepeatedCompositeFieldContainer[UptimeBucket]
    def __init__(self, camera_id: _Optional[str] = ..., camera_name: _Optional[str] = ..., uptime: _Optional[float] = ..., up: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., down: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., outages: _Optional[_Union[Outages, _Mapping]] = ..., buckets: _Optional[_Iterable[_Union[UptimeBucket, _Mapping]]] = ...) -> None: ...

class GetUptimeResponse(_message.Message):
    __slots__ = ("fleet_uptime", "fleet_outages", "fleet_buckets", "cameras", "next_page_token", "total_size")
    FLEET_UPTIME_FIELD_NUMBER: _ClassVar[int]
    FLEET_OUTAGES_FIELD_NUMBER: _ClassVar[int]
    FLEET_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    fleet_uptime: float
    fleet_outages: Outages
    fleet_buckets: _containers.RepeatedCompositeFieldContainer[UptimeBucket]
    cameras: _containers.RepeatedCompositeFieldContainer[CameraUptime]
    next_page_token: str
    total_size: int
    def __init__(self, fleet_uptime: _Optional[float] = ..., fleet_outages: _Optional[_Union[Outages, _Mapping]] = ..., fleet_buckets: _Optional[_Iterable[_Union[UptimeBucket, _Mapping]]] = ..., cameras: _Optional[_Iterable[_Union[CameraUptime, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetCoverageRequest(_message.Message):
    __slots__ = ("range", "bucket", "filter", "order_by", "page_size", "page_token")
    RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    range: TimeRange
    bucket: _duration_pb2.Duration
    filter: str
    order_by: str
    page_size: int
    page_token: str
    def __init__(self, range: _Optional[_Union[TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GapSeconds(_message.Message):
    __slots__ = ("cause", "total", "count")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    cause: _recording_pb2.GapCause
    total: _duration_pb2.Duration
    count: int
    def __init__(self, cause: _Optional[_Union[_recording_pb2.GapCause, str]] = ..., total: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class CoverageBucket(_message.Message):
    __slots__ = ("start_time", "expected", "recorded", "coverage")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    expected: _duration_pb2.Duration
    recorded: _duration_pb2.Duration
    coverage: float
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expected: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., recorded: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., coverage: _Optional[float] = ...) -> None: ...

class CameraCoverage(_message.Message):
    __slots__ = ("camera_id", "camera_name", "expected", "recorded", "coverage", "gaps", "buckets")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    camera_name: str
    expected: _duration_pb2.Duration
    recorded: _duration_pb2.Duration
    coverage: float
    gaps: _containers.RepeatedCompositeFieldContainer[GapSeconds]
    buckets: _containers.RepeatedCompositeFieldContainer[CoverageBucket]
    def __init__(self, camera_id: _Optional[str] = ..., camera_name: _Optional[str] = ..., expected: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., recorded: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., coverage: _Optional[float] = ..., gaps: _Optional[_Iterable[_Union[GapSeconds, _Mapping]]] = ..., buckets: _Optional[_Iterable[_Union[CoverageBucket, _Mapping]]] = ...) -> None: ...

class GetCoverageResponse(_message.Message):
    __slots__ = ("fleet_expected", "fleet_recorded", "fleet_coverage", "fleet_gaps", "cameras", "next_page_token", "total_size")
    FLEET_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    FLEET_RECORDED_FIELD_NUMBER: _ClassVar[int]
    FLEET_COVERAGE_FIELD_NUMBER: _ClassVar[int]
    FLEET_GAPS_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    fleet_expected: _duration_pb2.Duration
    fleet_recorded: _duration_pb2.Duration
    fleet_coverage: float
    fleet_gaps: _containers.RepeatedCompositeFieldContainer[GapSeconds]
    cameras: _containers.RepeatedCompositeFieldContainer[CameraCoverage]
    next_page_token: str
    total_size: int
    def __init__(self, fleet_expected: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., fleet_recorded: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., fleet_coverage: _Optional[float] = ..., fleet_gaps: _Optional[_Iterable[_Union[GapSeconds, _Mapping]]] = ..., cameras: _Optional[_Iterable[_Union[CameraCoverage, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetStorageRequest(_message.Message):
    __slots__ = ("range", "bucket", "group_by", "filter", "page_size", "page_token")
    RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    range: TimeRange
    bucket: _duration_pb2.Duration
    group_by: StorageGrouping
    filter: str
    page_size: int
    page_token: str
    def __init__(self, range: _Optional[_Union[TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., group_by: _Optional[_Union[StorageGrouping, str]] = ..., filter: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class StorageBucket(_message.Message):
    __slots__ = ("start_time", "bytes_written")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    BYTES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    bytes_written: int
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bytes_written: _Optional[int] = ...) -> None: ...

class StorageUse(_message.Message):
    __slots__ = ("key", "name", "stored_bytes", "segments", "bytes_written", "bytes_per_hour", "buckets")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    BYTES_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    key: str
    name: str
    stored_bytes: int
    segments: int
    bytes_written: int
    bytes_per_hour: float
    buckets: _containers.RepeatedCompositeFieldContainer[StorageBucket]
    def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., stored_bytes: _Optional[int] = ..., segments: _Optional[int] = ..., bytes_written: _Optional[int] = ..., bytes_per_hour: _Optional[float] = ..., buckets: _Optional[_Iterable[_Union[StorageBucket, _Mapping]]] = ...) -> None: ...

class GetStorageResponse(_message.Message):
    __slots__ = ("items", "total_stored_bytes", "total_bytes_per_hour", "next_page_token", "total_size")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[StorageUse]
    total_stored_bytes: int
    total_bytes_per_hour: float
    next_page_token: str
    total_size: int
    def __init__(self, items: _Optional[_Iterable[_Union[StorageUse, _Mapping]]] = ..., total_stored_bytes: _Optional[int] = ..., total_bytes_per_hour: _Optional[float] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetStorageForecastRequest(_message.Message):
    __slots__ = ("node_id", "window")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    window: _duration_pb2.Duration
    def __init__(self, node_id: _Optional[str] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CameraForecast(_message.Message):
    __slots__ = ("camera_id", "camera_name", "bytes_per_hour", "retention", "steady_bytes")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_NAME_FIELD_NUMBER: _ClassVar[int]
    BYTES_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    STEADY_BYTES_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    camera_name: str
    bytes_per_hour: float
    retention: _duration_pb2.Duration
    steady_bytes: int
    def __init__(self, camera_id: _Optional[str] = ..., camera_name: _Optional[str] = ..., bytes_per_hour: _Optional[float] = ..., retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., steady_bytes: _Optional[int] = ...) -> None: ...

class NodeForecast(_message.Message):
    __slots__ = ("node_id", "node_name", "tier", "total_bytes", "free_bytes", "floor_bytes", "recordings_bytes", "bytes_per_hour", "verdict", "plateau_bytes", "days_until_full", "achievable_retention", "summary", "cameras")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FLOOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECORDINGS_BYTES_FIELD_NUMBER: _ClassVar[int]
    BYTES_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    PLATEAU_BYTES_FIELD_NUMBER: _ClassVar[int]
    DAYS_UNTIL_FULL_FIELD_NUMBER: _ClassVar[int]
    ACHIEVABLE_RETENTION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    node_name: str
    tier: _recording_pb2.StorageTier
    total_bytes: int
    free_bytes: int
    floor_bytes: int
    recordings_bytes: int
    bytes_per_hour: float
    verdict: ForecastVerdict
    plateau_bytes: int
    days_until_full: float
    achievable_retention: _duration_pb2.Duration
    summary: str
    cameras: _containers.RepeatedCompositeFieldContainer[CameraForecast]
    def __init__(self, node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., tier: _Optional[_Union[_recording_pb2.StorageTier, str]] = ..., total_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., floor_bytes: _Optional[int] = ..., recordings_bytes: _Optional[int] = ..., bytes_per_hour: _Optional[float] = ..., verdict: _Optional[_Union[ForecastVerdict, str]] = ..., plateau_bytes: _Optional[int] = ..., days_until_full: _Optional[float] = ..., achievable_retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., summary: _Optional[str] = ..., cameras: _Optional[_Iterable[_Union[CameraForecast, _Mapping]]] = ...) -> None: ...

class GetStorageForecastResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeForecast]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeForecast, _Mapping]]] = ...) -> None: ...

class GetStreamHealthRequest(_message.Message):
    __slots__ = ("camera_id", "range", "bucket")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    range: TimeRange
    bucket: _duration_pb2.Duration
    def __init__(self, camera_id: _Optional[str] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class HealthPoint(_message.Message):
    __slots__ = ("start_time", "bitrate_kbps_avg", "bitrate_kbps_min", "fps_avg", "fps_min", "viewers_max", "samples")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    BITRATE_KBPS_AVG_FIELD_NUMBER: _ClassVar[int]
    BITRATE_KBPS_MIN_FIELD_NUMBER: _ClassVar[int]
    FPS_AVG_FIELD_NUMBER: _ClassVar[int]
    FPS_MIN_FIELD_NUMBER: _ClassVar[int]
    VIEWERS_MAX_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    bitrate_kbps_avg: float
    bitrate_kbps_min: float
    fps_avg: float
    fps_min: float
    viewers_max: int
    samples: int
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bitrate_kbps_avg: _Optional[float] = ..., bitrate_kbps_min: _Optional[float] = ..., fps_avg: _Optional[float] = ..., fps_min: _Optional[float] = ..., viewers_max: _Optional[int] = ..., samples: _Optional[int] = ...) -> None: ...

class GetStreamHealthResponse(_message.Message):
    __slots__ = ("points", "bucket")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[HealthPoint]
    bucket: _duration_pb2.Duration
    def __init__(self, points: _Optional[_Iterable[_Union[HealthPoint, _Mapping]]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetSecurityStatsRequest(_message.Message):
    __slots__ = ("range", "bucket")
    RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    range: TimeRange
    bucket: _duration_pb2.Duration
    def __init__(self, range: _Optional[_Union[TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SecurityCount(_message.Message):
    __slots__ = ("key", "failed_logins", "denied_calls")
    KEY_FIELD_NUMBER: _ClassVar[int]
    FAILED_LOGINS_FIELD_NUMBER: _ClassVar[int]
    DENIED_CALLS_FIELD_NUMBER: _ClassVar[int]
    key: str
    failed_logins: int
    denied_calls: int
    def __init__(self, key: _Optional[str] = ..., failed_logins: _Optional[int] = ..., denied_calls: _Optional[int] = ...) -> None: ...

class SecurityBucket(_message.Message):
    __slots__ = ("start_time", "failed_logins", "denied_calls")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILED_LOGINS_FIELD_NUMBER: _ClassVar[int]
    DENIED_CALLS_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    failed_logins: int
    denied_calls: int
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_logins: _Optional[int] = ..., denied_calls: _Optional[int] = ...) -> None: ...

class GetSecurityStatsResponse(_message.Message):
    __slots__ = ("failed_logins", "denied_calls", "by_user", "by_address", "buckets")
    FAILED_LOGINS_FIELD_NUMBER: _ClassVar[int]
    DENIED_CALLS_FIELD_NUMBER: _ClassVar[int]
    BY_USER_FIELD_NUMBER: _ClassVar[int]
    BY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    failed_logins: int
    denied_calls: int
    by_user: _containers.RepeatedCompositeFieldContainer[SecurityCount]
    by_address: _containers.RepeatedCompositeFieldContainer[SecurityCount]
    buckets: _containers.RepeatedCompositeFieldContainer[SecurityBucket]
    def __init__(self, failed_logins: _Optional[int] = ..., denied_calls: _Optional[int] = ..., by_user: _Optional[_Iterable[_Union[SecurityCount, _Mapping]]] = ..., by_address: _Optional[_Iterable[_Union[SecurityCount, _Mapping]]] = ..., buckets: _Optional[_Iterable[_Union[SecurityBucket, _Mapping]]] = ...) -> None: ...

class ExportReportRequest(_message.Message):
    __slots__ = ("kind", "format", "range", "camera_ids")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    kind: ReportKind
    format: ReportFormat
    range: TimeRange
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[_Union[ReportKind, str]] = ..., format: _Optional[_Union[ReportFormat, str]] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., camera_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportReportResponse(_message.Message):
    __slots__ = ("filename", "content_type", "data")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    data: bytes
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ReportSchedule(_message.Message):
    __slots__ = ("id", "name", "kind", "format", "period", "channel_id", "camera_ids", "enabled", "last_run_time", "next_run_time", "last_error", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_TIME_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: ReportKind
    format: ReportFormat
    period: ReportPeriod
    channel_id: str
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    last_run_time: _timestamp_pb2.Timestamp
    next_run_time: _timestamp_pb2.Timestamp
    last_error: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ReportKind, str]] = ..., format: _Optional[_Union[ReportFormat, str]] = ..., period: _Optional[_Union[ReportPeriod, str]] = ..., channel_id: _Optional[str] = ..., camera_ids: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., last_run_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_run_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateReportScheduleRequest(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: ReportSchedule
    def __init__(self, schedule: _Optional[_Union[ReportSchedule, _Mapping]] = ...) -> None: ...

class CreateReportScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: ReportSchedule
    def __init__(self, schedule: _Optional[_Union[ReportSchedule, _Mapping]] = ...) -> None: ...

class ListReportSchedulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListReportSchedulesResponse(_message.Message):
    __slots__ = ("schedules",)
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    schedules: _containers.RepeatedCompositeFieldContainer[ReportSchedule]
    def __init__(self, schedules: _Optional[_Iterable[_Union[ReportSchedule, _Mapping]]] = ...) -> None: ...

class UpdateReportScheduleRequest(_message.Message):
    __slots__ = ("schedule", "update_mask")
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    schedule: ReportSchedule
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, schedule: _Optional[_Union[ReportSchedule, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateReportScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: ReportSchedule
    def __init__(self, schedule: _Optional[_Union[ReportSchedule, _Mapping]] = ...) -> None: ...

class DeleteReportScheduleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteReportScheduleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunReportScheduleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RunReportScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: ReportSchedule
    def __init__(self, schedule: _Optional[_Union[ReportSchedule, _Mapping]] = ...) -> None: ...
