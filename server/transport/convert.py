"""Small proto ⇄ Python conversions shared by the servicers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from camfleet.v1 import common_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from server.auth.permissions import Role
from server.errors import InvalidArgument

_ROLE_TO_PROTO: dict[Role, common_pb2.Role] = {
    Role.ADMIN: common_pb2.ROLE_ADMIN,
    Role.OPERATOR: common_pb2.ROLE_OPERATOR,
    Role.VIEWER: common_pb2.ROLE_VIEWER,
    Role.API: common_pb2.ROLE_API,
}
_PROTO_TO_ROLE: dict[int, Role] = {int(v): k for k, v in _ROLE_TO_PROTO.items()}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """Timestamp message, or None (leaves the field unset)."""
    if value is None:
        return None
    # Direct arithmetic: Timestamp.FromDatetime goes through time tuples and costs 4x more,
    # which shows on every camera of every list.
    delta = value - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000
    )


def from_timestamp(ts: timestamp_pb2.Timestamp, field: str) -> datetime:
    """Aware datetime of a Timestamp, or InvalidArgument when it is out of range."""
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument.for_field(field, "is not a valid time") from None


def from_duration(d: duration_pb2.Duration, field: str) -> timedelta:
    """timedelta of a Duration, or InvalidArgument when it is out of range."""
    try:
        return d.ToTimedelta()
    except (ValueError, OverflowError):
        raise InvalidArgument.for_field(field, "is not a valid duration") from None


def role_to_proto(role: str) -> common_pb2.Role:
    """Proto enum of a stored role."""
    return _ROLE_TO_PROTO[Role(role)]


def role_from_proto(value: int) -> Role | None:
    """Domain role of a proto enum value; None for UNSPECIFIED or unknown numbers."""
    return _PROTO_TO_ROLE.get(value)
