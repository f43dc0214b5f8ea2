"""Roles between the API's enum and the stored names."""

from __future__ import annotations

from camfleet.v1 import common_pb2

from server.identity.permissions import Role

_ROLE_TO_PROTO: dict[Role, common_pb2.Role] = {
    Role.ADMIN: common_pb2.ROLE_ADMIN,
    Role.OPERATOR: common_pb2.ROLE_OPERATOR,
    Role.VIEWER: common_pb2.ROLE_VIEWER,
    Role.API: common_pb2.ROLE_API,
}
_PROTO_TO_ROLE: dict[int, Role] = {int(v): k for k, v in _ROLE_TO_PROTO.items()}


def role_to_proto(role: str) -> common_pb2.Role:
    """Proto enum of a stored role."""
    return _ROLE_TO_PROTO[Role(role)]


def role_from_proto(value: int) -> Role | None:
    """Domain role of a proto enum value; None for UNSPECIFIED or unknown numbers."""
    return _PROTO_TO_ROLE.get(value)
