"""Values as people type them on the command line: durations (`90s`, `15m`, `7d`), `key=value`
pairs, filter literals. Errors are usage errors (exit code 2) that name the option."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from camfleet.cli.errors import CliError, ExitCode

if TYPE_CHECKING:  # protobuf is imported when a value is converted, not at start-up
    from google.protobuf import duration_pb2

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, option: str) -> timedelta:
    """`90s`, `15m`, `2h`, `7d`, `1w` (a bare number is seconds)."""
    match = _DURATION.match(text)
    if not match:
        raise CliError(
            f"{option} {text!r} is not a duration; write e.g. 90s, 15m, 2h, 7d or 1w.",
            ExitCode.USAGE,
        )
    amount, unit = float(match.group(1)), (match.group(2) or "s").lower()
    return timedelta(seconds=amount * _UNITS[unit])


def duration_message(text: str, option: str) -> duration_pb2.Duration:
    from google.protobuf import duration_pb2

    out = duration_pb2.Duration()
    out.FromTimedelta(parse_duration(text, option))
    return out


def parse_pairs(items: Iterable[str], option: str) -> tuple[dict[str, str], list[str]]:
    """`key=value` items to set, and `key-` items to remove (kubectl's label syntax)."""
    to_set: dict[str, str] = {}
    to_remove: list[str] = []
    for item in items:
        if "=" in item:
            key, _, value = item.partition("=")
            if not key.strip():
                raise CliError(f"{option} {item!r} has no key; write key=value.", ExitCode.USAGE)
            to_set[key.strip()] = value
        elif item.endswith("-") and len(item) > 1:
            to_remove.append(item[:-1])
        else:
            raise CliError(
                f"{option} {item!r} is neither key=value (to set) nor key- (to remove).",
                ExitCode.USAGE,
            )
    return to_set, to_remove


def quote(value: str) -> str:
    """`value` as a filter string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_filters(*parts: str) -> str:
    """AND of the non-empty filter expressions, each parenthesised."""
    present = [p.strip() for p in parts if p and p.strip()]
    if len(present) <= 1:
        return present[0] if present else ""
    return " AND ".join(f"({p})" for p in present)
