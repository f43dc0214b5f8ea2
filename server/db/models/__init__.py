"""All tables, one module per domain on one shared `Base` (base.py), so migrations and reviews
still see the whole schema: importing this package registers every table on `Base.metadata`
(Alembic's target), and every name is importable from here as before the split.

A new table goes in the module of its domain (or a new one) and is re-exported below.
"""

from server.db.models.alerts import (
    AlertGroupRow,
    AlertRow,
    AlertRuleRow,
    ChannelRow,
    DeliveryAttemptRow,
    NotificationPolicyRow,
    NotificationRow,
    SilenceRow,
    TokenAddressRow,
)
from server.db.models.analytics import (
    CameraDayRow,
    CameraGapDayRow,
    CoverageHourRow,
    DiskSampleRow,
    HealthSampleRow,
    HistoryCursorRow,
    StateIntervalRow,
    StorageDayRow,
    StorageHourRow,
)
from server.db.models.audit import AuditLogRow
from server.db.models.base import NAMING, Base, new_id, utcnow
from server.db.models.cameras import CameraLabelRow, CameraRow
from server.db.models.events import EventCounterRow, EventRow
from server.db.models.identity import (
    ApiTokenRow,
    RefreshTokenRow,
    SecretRow,
    SigningKeyRow,
    UserRow,
)
from server.db.models.nodes import JoinTokenRow, NodeRow, StreamEventRow
from server.db.models.placement import LeaderRow, PlacementRow
from server.db.models.recordings import (
    PendingSegmentDeletionRow,
    RecordingEventRow,
    RecordingGapRow,
    RecordingRow,
)
from server.db.models.reports import ReportScheduleRow
from server.db.models.settings import SettingsGroupRow, SettingsHistoryRow
from server.db.models.timeline import TimelineHourRow, TimelineIslandRow

__all__ = [
    "NAMING",
    "AlertGroupRow",
    "AlertRow",
    "AlertRuleRow",
    "ApiTokenRow",
    "AuditLogRow",
    "Base",
    "CameraDayRow",
    "CameraGapDayRow",
    "CameraLabelRow",
    "CameraRow",
    "ChannelRow",
    "CoverageHourRow",
    "DeliveryAttemptRow",
    "DiskSampleRow",
    "EventCounterRow",
    "EventRow",
    "HealthSampleRow",
    "HistoryCursorRow",
    "JoinTokenRow",
    "LeaderRow",
    "NodeRow",
    "NotificationPolicyRow",
    "NotificationRow",
    "PendingSegmentDeletionRow",
    "PlacementRow",
    "RecordingEventRow",
    "RecordingGapRow",
    "RecordingRow",
    "RefreshTokenRow",
    "ReportScheduleRow",
    "SecretRow",
    "SettingsGroupRow",
    "SettingsHistoryRow",
    "SigningKeyRow",
    "SilenceRow",
    "StateIntervalRow",
    "StorageDayRow",
    "StorageHourRow",
    "StreamEventRow",
    "TimelineHourRow",
    "TimelineIslandRow",
    "TokenAddressRow",
    "UserRow",
    "new_id",
    "utcnow",
]
