"""The vocabulary of authorization: roles, permissions, and what each role may do.

A leaf: every floor may import it (audit names principals, nodes issue principals, transport
checks them), and it imports nothing of the server but its errors.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Role(enum.StrEnum):
    """Account roles (stored by value)."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    API = "api"


class Permission(enum.StrEnum):
    """Things a caller may be allowed to do. API token scopes use the same names.

    Each is declared with its description in protos/camfleet/v1/permission.proto (enum
    `Permission`, option `permission_name`); tests/server/auth/test_permission_vocabulary.py fails
    when the two lists differ.
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
    ANALYTICS_READ = "analytics.read"
    ANALYTICS_WRITE = "analytics.write"
    SETTINGS_READ = "settings.read"
    SETTINGS_WRITE = "settings.write"


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
            Permission.ANALYTICS_READ,
            Permission.ANALYTICS_WRITE,
        }
    ),
    Role.VIEWER: frozenset(
        {
            Permission.CAMERAS_READ,
            Permission.STREAMS_READ,
            Permission.RECORDINGS_READ,
            Permission.ANALYTICS_READ,
        }
    ),
    # Machine accounts: the ceiling is everything; each token's scopes narrow it.
    Role.API: ALL_PERMISSIONS,
}


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
