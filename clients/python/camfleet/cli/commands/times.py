"""Times and time ranges as people type them on the command line, and back as text.

A time is RFC 3339 / ISO 8601 (`2026-12-06T03:00:00Z`; without a zone it is UTC), `now`, or an
age before now (`90s`, `15m`, `2h`, `7d`, also written `-2h` or `2h ago`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from camfleet.cli.errors import CliError, ExitCode

if TYPE_CHECKING:  # protobuf is imported when a value is converted, not at start-up
    from google.protobuf import duration_pb2, timestamp_pb2

_AGE = re.compile(r"^-?\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|min|h|d|w)(?:\s+ago)?$")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str, option: str = "") -> timedelta:
    """`90s`, `15m`, `2h`, `7d`, `1w` as a timedelta."""
    match = _AGE.match(text.strip().lower())
    if match is None:
        raise CliError(
            f"{_named(option)}{text!r} is not a length of time (e.g. 90s, 15m, 2h, 7d).",
            ExitCode.USAGE,
        )
    return timedelta(seconds=float(match[1]) * _UNIT_S[match[2]])


def parse_time(text: str, option: str = "", now: datetime | None = None) -> datetime:
    """A time as typed (see the module docstring), timezone-aware."""
    now = now or datetime.now(UTC)
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return now
    if _AGE.match(cleaned.lower()):
        return now - parse_age(cleaned, option)
    try:
        parsed = datetime.fromisoformat(cleaned.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CliError(
            f"{_named(option)}{text!r} is not a time; write 2026-12-06T03:00:00Z, now, or an "
            "age such as 2h (two hours ago).",
            ExitCode.USAGE,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def time_range(
    start: str | None, end: str | None, default_length: timedelta
) -> tuple[datetime, datetime]:
    """[start, end) from --start/--end; missing end: now; missing start: end - default_length."""
    now = datetime.now(UTC)
    until = parse_time(end, "--end", now) if end else now
    since = parse_time(start, "--start", now) if start else until - default_length
    if until <= since:
        raise CliError("--end must be after --start.", ExitCode.USAGE)
    return since, until


def ts(at: datetime) -> timestamp_pb2.Timestamp:
    """`at` as a protobuf Timestamp."""
    from google.protobuf import timestamp_pb2

    out = timestamp_pb2.Timestamp()
    out.FromDatetime(at.astimezone(UTC))
    return out


def duration(length: timedelta) -> duration_pb2.Duration:
    """`length` as a protobuf Duration."""
    from google.protobuf import duration_pb2

    out = duration_pb2.Duration()
    out.FromTimedelta(length)
    return out


def when(value: timestamp_pb2.Timestamp) -> str:
    """A Timestamp as `2026-12-06 03:00:01.250Z` ("" when unset)."""
    if not value.seconds and not value.nanos:
        return ""
    at = value.ToDatetime(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def seconds_text(total_s: float) -> str:
    """A length for people: `1.9s`, `4m 10s`, `2h 05m`, `3d 4h`."""
    if total_s < 60:
        return f"{total_s:.1f}s"
    whole = round(total_s)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s"


def length_text(value: duration_pb2.Duration) -> str:
    """A Duration as seconds_text."""
    return seconds_text(value.seconds + value.nanos / 1e9)


def size_text(size: float) -> str:
    """Bytes in powers of 1024: `812 B`, `1.4 MiB`."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _named(option: str) -> str:
    return f"{option}: " if option else ""
