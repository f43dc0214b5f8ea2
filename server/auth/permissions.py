"""The permission table: what every RPC needs (what each role holds: server.identity).

This is the one place authorization is decided. `server.transport.interceptor` looks every call
up here; a method missing from `RPC_RULES` is refused (fail closed), and a test walks every RPC
of every service against every role.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from server.identity.permissions import Permission


class Access(enum.Enum):
    """Who may call a method at all, before permissions."""

    PUBLIC = "public"  # no credential needed (login, health, reflection)
    AUTHENTICATED = "authenticated"  # any valid credential (WhoAmI, own password)
    PERMISSION = "permission"  # a credential holding `permission`
    NODE = "node"  # a node agent's own credential (`cfn_…`); user credentials are refused


@dataclass(frozen=True)
class Rule:
    """What one RPC requires."""

    access: Access
    permission: Permission | None = None


PUBLIC = Rule(Access.PUBLIC)
AUTHENTICATED = Rule(Access.AUTHENTICATED)
NODE = Rule(Access.NODE)


def needs(permission: Permission) -> Rule:
    """Rule for a method that requires `permission`."""
    return Rule(Access.PERMISSION, permission)


_P = Permission
_PKG = "/camfleet.v1."

RPC_RULES: Mapping[str, Rule] = {
    # Infrastructure: load balancers and grpcurl must reach these without credentials.
    # Only what the server serves is listed (reflection in both versions: newer tools ask v1
    # first, older ones v1alpha; server/transport/reflection.py): tests/server/auth/
    # test_permissions.py checks both ways.
    "/grpc.health.v1.Health/Check": PUBLIC,
    "/grpc.health.v1.Health/List": PUBLIC,  # registered by grpcio-health-checking (unimplemented)
    "/grpc.health.v1.Health/Watch": PUBLIC,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": PUBLIC,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": PUBLIC,
    # AuthService
    f"{_PKG}AuthService/Login": PUBLIC,
    f"{_PKG}AuthService/Refresh": PUBLIC,
    f"{_PKG}AuthService/Logout": AUTHENTICATED,
    f"{_PKG}AuthService/WhoAmI": AUTHENTICATED,
    f"{_PKG}AuthService/ListPermissions": AUTHENTICATED,
    # UserService
    f"{_PKG}UserService/CreateUser": needs(_P.USERS_WRITE),
    f"{_PKG}UserService/GetUser": needs(_P.USERS_READ),
    f"{_PKG}UserService/ListUsers": needs(_P.USERS_READ),
    f"{_PKG}UserService/UpdateUser": needs(_P.USERS_WRITE),
    f"{_PKG}UserService/DeleteUser": needs(_P.USERS_WRITE),
    # Own password for everyone; someone else's needs users.write (checked in the domain,
    # because it depends on the request's user_id).
    f"{_PKG}UserService/ChangePassword": AUTHENTICATED,
    # ApiTokenService
    f"{_PKG}ApiTokenService/CreateApiToken": needs(_P.API_TOKENS_WRITE),
    f"{_PKG}ApiTokenService/GetApiToken": needs(_P.API_TOKENS_READ),
    f"{_PKG}ApiTokenService/ListApiTokens": needs(_P.API_TOKENS_READ),
    f"{_PKG}ApiTokenService/RevokeApiToken": needs(_P.API_TOKENS_WRITE),
    # CameraService
    f"{_PKG}CameraService/CreateCamera": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/GetCamera": needs(_P.CAMERAS_READ),
    f"{_PKG}CameraService/ListCameras": needs(_P.CAMERAS_READ),
    f"{_PKG}CameraService/UpdateCamera": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/DeleteCamera": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/RotateStreamKey": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/ActivateCamera": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/DeactivateCamera": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/StartRecording": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/StopRecording": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/BatchCameraAction": needs(_P.CAMERAS_WRITE),
    f"{_PKG}CameraService/GetStreamUrls": needs(_P.STREAMS_READ),
    f"{_PKG}CameraService/ListPlacements": needs(_P.CAMERAS_READ),
    # EventService: camera events need cameras.read (secrets are stripped per watcher).
    f"{_PKG}EventService/WatchEvents": needs(_P.CAMERAS_READ),
    # AuditService
    f"{_PKG}AuditService/ListAuditLogs": needs(_P.AUDIT_READ),
    # NodeService
    f"{_PKG}NodeService/CreateJoinToken": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/ListJoinTokens": needs(_P.NODES_READ),
    f"{_PKG}NodeService/RevokeJoinToken": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/ListNodes": needs(_P.NODES_READ),
    f"{_PKG}NodeService/GetNode": needs(_P.NODES_READ),
    f"{_PKG}NodeService/UpdateNode": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/GetLeader": needs(_P.NODES_READ),
    f"{_PKG}NodeService/CordonNode": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/UncordonNode": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/DrainNode": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/DeleteNode": needs(_P.NODES_WRITE),
    # AgentService: the join token in the request is the credential of RegisterNode (refusals
    # are audited); the rest run as the node.
    f"{_PKG}AgentService/RegisterNode": PUBLIC,
    f"{_PKG}AgentService/Connect": NODE,
    f"{_PKG}AgentService/CheckStreamKey": NODE,
    f"{_PKG}AgentService/GetClipParts": NODE,
    # StreamService
    f"{_PKG}StreamService/GetStream": needs(_P.STREAMS_READ),
    f"{_PKG}StreamService/ListStreams": needs(_P.STREAMS_READ),
    f"{_PKG}StreamService/ListStreamEvents": needs(_P.STREAMS_READ),
    # RecordingService: downloading, exporting and playing back are reads (as watching live is).
    f"{_PKG}RecordingService/ListRecordings": needs(_P.RECORDINGS_READ),
    f"{_PKG}RecordingService/GetRecording": needs(_P.RECORDINGS_READ),
    f"{_PKG}RecordingService/GetTimeline": needs(_P.RECORDINGS_READ),
    f"{_PKG}RecordingService/GetDownloadUrl": needs(_P.RECORDINGS_READ),
    f"{_PKG}RecordingService/ExportClip": needs(_P.RECORDINGS_READ),
    f"{_PKG}RecordingService/GetPlaybackUrl": needs(_P.RECORDINGS_READ),
    f"{_PKG}RecordingService/DeleteRecording": needs(_P.RECORDINGS_WRITE),
    # AlertService: previewing a rule is a read; acknowledging, silencing and sending a test
    # notification are writes.
    f"{_PKG}AlertService/CreateAlertRule": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/ListAlertRules": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/GetAlertRule": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/UpdateAlertRule": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/DeleteAlertRule": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/PreviewAlertRule": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/ListAlerts": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/GetAlert": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/AcknowledgeAlert": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/UnacknowledgeAlert": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/CreateSilence": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/ListSilences": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/UpdateSilence": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/ExpireSilence": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/CreateChannel": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/ListChannels": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/GetChannel": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/UpdateChannel": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/DeleteChannel": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/TestChannel": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/ResumeChannel": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/CreateNotificationPolicy": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/ListNotificationPolicies": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/UpdateNotificationPolicy": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/DeleteNotificationPolicy": needs(_P.ALERTS_WRITE),
    f"{_PKG}AlertService/ListNotifications": needs(_P.ALERTS_READ),
    f"{_PKG}AlertService/ListDeliveryAttempts": needs(_P.ALERTS_READ),
    # AnalyticsService: the fleet's history is a read; security figures name users and
    # addresses, as the audit log does; scheduled reports are changes.
    f"{_PKG}AnalyticsService/GetUptime": needs(_P.ANALYTICS_READ),
    f"{_PKG}AnalyticsService/GetCoverage": needs(_P.ANALYTICS_READ),
    f"{_PKG}AnalyticsService/GetStorage": needs(_P.ANALYTICS_READ),
    f"{_PKG}AnalyticsService/GetStorageForecast": needs(_P.ANALYTICS_READ),
    f"{_PKG}AnalyticsService/GetStreamHealth": needs(_P.ANALYTICS_READ),
    f"{_PKG}AnalyticsService/GetSecurityStats": needs(_P.AUDIT_READ),
    f"{_PKG}AnalyticsService/ExportReport": needs(_P.ANALYTICS_READ),
    f"{_PKG}AnalyticsService/CreateReportSchedule": needs(_P.ANALYTICS_WRITE),
    f"{_PKG}AnalyticsService/ListReportSchedules": needs(_P.ANALYTICS_READ),
    f"{_PKG}AnalyticsService/UpdateReportSchedule": needs(_P.ANALYTICS_WRITE),
    f"{_PKG}AnalyticsService/DeleteReportSchedule": needs(_P.ANALYTICS_WRITE),
    f"{_PKG}AnalyticsService/RunReportSchedule": needs(_P.ANALYTICS_WRITE),
    # SettingsService: admins only (secrets are never returned, but the rest shapes the fleet).
    f"{_PKG}SettingsService/GetSettings": needs(_P.SETTINGS_READ),
    f"{_PKG}SettingsService/UpdateSettings": needs(_P.SETTINGS_WRITE),
    f"{_PKG}SettingsService/ListSettingsHistory": needs(_P.SETTINGS_READ),
}


def rule_for(method: str) -> Rule | None:
    """The rule of a full method name, or None (which the interceptor treats as deny)."""
    return RPC_RULES.get(method)
