"""The permission table: what each role may do, and what every RPC needs.

This is the one place authorization is decided. `server.transport.interceptor` looks every call
up here; a method missing from `RPC_RULES` is refused (fail closed), and a test walks every RPC
of every service against every role.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Role(enum.StrEnum):
    """Account roles (stored by value)."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    API = "api"


class Permission(enum.StrEnum):
    """Things a caller may be allowed to do. API token scopes use the same names.

    Each is declared with its description in protos/camfleet/v1/permission.proto (enum
    `Permission`, option `permission_name`); tests/unit/test_permission_vocabulary.py fails when
    the two lists differ.
    """

    CAMERAS_READ = "cameras.read"
    CAMERAS_WRITE = "cameras.write"
    # Seeing stream keys and publish URLs is separate from reading cameras: a viewer may watch
    # but must not be able to impersonate a camera.
    STREAM_KEYS_READ = "stream_keys.read"
    STREAMS_READ = "streams.read"
    RECORDINGS_READ = "recordings.read"
    RECORDINGS_WRITE = "recordings.write"
    ALERTS_READ = "alerts.read"
    ALERTS_WRITE = "alerts.write"
    NODES_READ = "nodes.read"
    NODES_WRITE = "nodes.write"
    USERS_READ = "users.read"
    USERS_WRITE = "users.write"
    API_TOKENS_READ = "api_tokens.read"
    API_TOKENS_WRITE = "api_tokens.write"
    AUDIT_READ = "audit.read"


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: ALL_PERMISSIONS,
    Role.OPERATOR: frozenset(
        {
            Permission.CAMERAS_READ,
            Permission.CAMERAS_WRITE,
            Permission.STREAM_KEYS_READ,
            Permission.STREAMS_READ,
            Permission.RECORDINGS_READ,
            Permission.RECORDINGS_WRITE,
            Permission.ALERTS_READ,
            Permission.ALERTS_WRITE,
        }
    ),
    Role.VIEWER: frozenset(
        {Permission.CAMERAS_READ, Permission.STREAMS_READ, Permission.RECORDINGS_READ}
    ),
    # Machine accounts: the ceiling is everything; each token's scopes narrow it.
    Role.API: ALL_PERMISSIONS,
}


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
    # Only what the server serves is listed (grpcio-reflection serves v1alpha; clients that try
    # v1 first get UNIMPLEMENTED and fall back): tests/test_permissions.py checks both ways.
    "/grpc.health.v1.Health/Check": PUBLIC,
    "/grpc.health.v1.Health/List": PUBLIC,  # registered by grpcio-health-checking (unimplemented)
    "/grpc.health.v1.Health/Watch": PUBLIC,
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
    f"{_PKG}NodeService/CordonNode": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/UncordonNode": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/DrainNode": needs(_P.NODES_WRITE),
    f"{_PKG}NodeService/DeleteNode": needs(_P.NODES_WRITE),
    # AgentService: the join token in the request is the credential of RegisterNode (refusals
    # are audited); the rest run as the node.
    f"{_PKG}AgentService/RegisterNode": PUBLIC,
    f"{_PKG}AgentService/Connect": NODE,
    f"{_PKG}AgentService/CheckStreamKey": NODE,
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
}


def rule_for(method: str) -> Rule | None:
    """The rule of a full method name, or None (which the interceptor treats as deny)."""
    return RPC_RULES.get(method)


def parse_scopes(values: list[str]) -> tuple[frozenset[Permission], list[str]]:
    """Split scope strings into known permissions and the unknown ones (for error messages)."""
    known: set[Permission] = set()
    unknown: list[str] = []
    for value in values:
        try:
            known.add(Permission(value))
        except ValueError:
            unknown.append(value)
    return frozenset(known), unknown
