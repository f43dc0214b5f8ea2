"""The protobuf well-known types (Timestamp, Duration) ⇄ Python, shared by every domain's
servicer and convert.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2

from server.errors import InvalidArgument

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
