"""Tests of server.common.listing.fields: what a comparison on each kind of field selects, on
SQLite and PostgreSQL, and what a caller is told about a comparison that makes no sense."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import compile_filter
from tests.server.common.listing.items import (
    FILTER_SCHEMA,
    PG_DIALECT,
    SQLITE_DIALECT,
    assert_filter_error,
    filter_error,
    ids,
)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        # enums: short or full name, any case; != keeps the others
        ("status = ONLINE", ["i1", "i3", "i6", "i7"]),
        ("status = camera_status_online", ["i1", "i3", "i6", "i7"]),
        ("status != ONLINE", ["i2", "i4", "i5"]),
        # bools and ints
        ("active = true", ["i1", "i2", "i5", "i6"]),
        ("active = FALSE", ["i3", "i4", "i7"]),
        ("active != true", ["i3", "i4", "i7"]),
        ("count > 10", ["i2", "i3", "i7"]),
        ("count <= 0", ["i4", "i5"]),
        ("count = -3", ["i5"]),
        # != and NOT include rows where the field is unset (i2 has no location)
        ('location != "Garden"', ["i1", "i2", "i3", "i5", "i6"]),
        # strings: exact, wildcards at the ends (case-insensitive), ':' contains
        ('name = "garage"', ["i6"]),
        ('name = "Garage"', []),
        ('name = "lobby*"', ["i1", "i5"]),
        ('name = "*YARD"', ["i4", "i7"]),
        ('name = "*ob*"', ["i1", "i5"]),
        ('name != "lobby*"', ["i2", "i3", "i4", "i6", "i7"]),
        ("name:door", []),
        ("name:CAMERA", ["i2"]),
        ("name > 'b' name < 'c'", ["i4", "i7"]),
        # presence: an empty string counts as unset
        ("location:*", ["i1", "i3", "i4", "i5", "i7"]),
        ("NOT location:*", ["i2", "i6"]),
        ("location != *", ["i2", "i6"]),
        # timestamps, with Z or an offset (12:00Z == 14:00+02:00)
        ('created >= "2026-05-01T00:00:00Z"', ["i5", "i6", "i7"]),
        ('created < "2026-05-01T14:00:00+02:00"', ["i1", "i2", "i3", "i4"]),
        ('created <= "2026-05-01T14:00:00+02:00"', ["i1", "i2", "i3", "i4", "i5"]),
        ('created = "2026-05-01T12:00:00.000Z"', ["i5"]),
        # map field
        ("labels.env = prod", ["i1", "i4"]),
        ("labels.env:*", ["i1", "i2", "i4"]),
        ("labels:floor", ["i1"]),
        ("labels.env:PRO", ["i1", "i4"]),
        ("labels.env != prod", ["i2", "i3", "i5", "i6", "i7"]),
        ("NOT labels.env:*", ["i3", "i5", "i6", "i7"]),
        ("labels.env = prod AND status = ERROR", ["i4"]),
        # user text never acts as a LIKE pattern
        ('"50%"', ["i3"]),
        ("name:50%", ["i3"]),
        ('name:"back_yard"', ["i4"]),
        ('name = "back_*"', ["i4"]),
        (r'name:"\\"', []),
        # values are bound parameters, so quotes are just characters
        ("name = \"x' OR '1'='1\"", []),
    ],
)
async def test_comparisons_select_rows(
    sessions: async_sessionmaker[AsyncSession], filter_text: str, expected: list[str]
) -> None:
    assert await ids(sessions, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "fragments"),
    [
        (
            'nme = "x"',
            [
                'unknown field "nme" at position 0',
                "known fields: active, count, created, id, location, name, status, labels.<key>",
            ],
        ),
        ("status = BROKEN", ["must be one of ONLINE, OFFLINE, ERROR", '"BROKEN" at position 9']),
        ("status > ONLINE", ['supports only = and !=, not ">" at position 7']),
        ("count = 1.5", ["expects a whole number", "position 8"]),
        ("count = 99999999999999999999", ["expects a whole number"]),
        ('created > "2026-11-01T00:00:00"', ["has no time zone", "Z or an offset"]),
        ('created > "2026-13-01T00:00:00Z"', ["is not a valid date and time"]),
        ("created > yesterday", ["RFC 3339", '"2026-11-01T00:00:00Z"']),
        ("active < true", ['supports only = and !=, not "<"']),
        ("active = yes", ['expects true or false, got "yes"']),
        ("active:true", ['does not support ":"']),
        ("labels = x", ['"labels" at position 0 is a map', 'labels.<key> = "value"']),
        ("labels. = x", ['missing key after "labels."']),
        ("labels.env > a", ['supports only =, != and :, not ">" at position 11']),
        ("count < *", ['"*" (any value) works only with :, = or !=']),
    ],
)
def test_comparison_errors_say_what_and_where(filter_text: str, fragments: list[str]) -> None:
    assert_filter_error(filter_error(filter_text), fragments)


def test_values_are_bound_parameters() -> None:
    expr = compile_filter('name = "Robert\'); DROP TABLE x;--" lobby', FILTER_SCHEMA)
    assert expr is not None
    for dialect in (SQLITE_DIALECT, PG_DIALECT):
        compiled = expr.compile(dialect=dialect)
        assert "DROP TABLE" not in str(compiled)
        assert "lobby" not in str(compiled)
        assert "Robert'); DROP TABLE x;--" in compiled.params.values()


def test_timestamps_bind_aware_utc_datetimes() -> None:
    expr = compile_filter('created >= "2026-11-01T02:30:00.1234567+02:00"', FILTER_SCHEMA)
    assert expr is not None
    values = [v for v in expr.compile().params.values() if isinstance(v, datetime)]
    assert values == [datetime(2026, 11, 1, 0, 30, 0, 123456, tzinfo=UTC)]
