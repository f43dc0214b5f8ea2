"""Tests of server.common.listing.filter: the AIP-160 grammar (AND, OR, NOT, parentheses, free
text) and search, on SQLite and PostgreSQL, what a caller is told about a malformed filter, and
fuzzing: any input is either a valid query or an InvalidArgument, never a crash."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import compile_filter, compile_search
from server.errors import InvalidArgument
from tests.server.common.listing.items import (
    ALL_IDS,
    FILTER_SCHEMA,
    FUZZ_SETTINGS,
    NO_TEXT_SCHEMA,
    PG_DIALECT,
    Item,
    assert_filter_error,
    filter_error,
    ids,
    list_items,
)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("", ALL_IDS),
        ("   ", ALL_IDS),
        ("count>=50 count<500", ["i3"]),
        # AIP-160: OR binds tighter than AND, and juxtaposition is AND
        ("status = ONLINE AND active = true OR count = 500", ["i1", "i6"]),
        ("status = ONLINE active = true OR count = 500", ["i1", "i6"]),
        ("(status = ONLINE AND active = true) OR count = 500", ["i1", "i2", "i6"]),
        ("count = 5 OR count = 7 OR count = 12", ["i1", "i6", "i7"]),
        # NOT and -, including rows where the field is unset (i2 has no location)
        ("NOT status = ONLINE", ["i2", "i4", "i5"]),
        ("-active = true", ["i3", "i4", "i7"]),
        ("NOT location = Garden", ["i1", "i2", "i3", "i5", "i6"]),
        ("NOT (status = ONLINE OR status = OFFLINE)", ["i4"]),
        ("NOT NOT active = true", ["i1", "i2", "i5", "i6"]),
        # free text over name and location
        ("lobby", ["i1", "i5"]),
        ("garden OR garage", ["i4", "i6", "i7"]),
        ("lobby status = OFFLINE", ["i5"]),
        ('"lobby 2"', ["i5"]),
    ],
)
async def test_filter_selects_rows(
    sessions: async_sessionmaker[AsyncSession], filter_text: str, expected: list[str]
) -> None:
    assert await ids(sessions, filter_text) == expected


async def test_search_field_matches_every_word(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    page = await list_items(sessions, search="  LOBBY  2 ")
    assert [item.id for item in page.items] == ["i5"]
    page = await list_items(sessions, "active = true", search="lobby")
    assert [item.id for item in page.items] == ["i1", "i5"]


@pytest.mark.parametrize(
    ("filter_text", "fragments"),
    [
        ("name = ", ['expected a value after "=" at position 5', "the end of the filter"]),
        ("name = AND", ['expected a value after "=" at position 5', 'quote it: "AND"']),
        ("(name = x", ['missing ")" to close the "(" at position 0']),
        ("name = x)", ['unexpected ")" at position 8']),
        ("()", ["empty parentheses at position 0"]),
        ("lobby AND", ['expected a condition after "AND" at position 6', "the end of the filter"]),
        ("OR lobby", ['found "OR" at position 0', "to search for the word OR, quote it"]),
        ("name = x and active = true", ['"and" at position 9', "write AND in capitals"]),
        ('"name" = x', ["quoted string cannot be a field name (position 0)"]),
        ("(" * 33 + "name = x" + ")" * 33, ["nests more than 32 levels deep at position 32"]),
        ("NOT " * 33 + "name = x", ["nests more than 32 levels deep"]),
        (" ".join(["name = x"] * 65), ["more than 64 conditions"]),
    ],
)
def test_filter_errors_say_what_and_where(filter_text: str, fragments: list[str]) -> None:
    assert_filter_error(filter_error(filter_text), fragments)


def test_bare_words_need_text_columns() -> None:
    error = filter_error("lobby", NO_TEXT_SCHEMA)
    assert '"lobby" at position 0 has no operator' in error.message
    assert "free-text search is not supported here" in error.message
    assert "known fields: name" in error.message


def test_error_names_the_request_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_filter("nope = 1", FILTER_SCHEMA, field_name="query.filter")
    assert info.value.violations[0].field == "query.filter"
    assert info.value.message.startswith("query.filter: unknown field")


def test_whitespace_and_limits_are_accepted_at_the_edge() -> None:
    assert compile_filter("\tname = x\n", FILTER_SCHEMA) is not None
    assert compile_filter("(" * 32 + "name = x" + ")" * 32, FILTER_SCHEMA) is not None
    assert compile_filter(" ".join(["name = x"] * 64), FILTER_SCHEMA) is not None
    assert compile_filter("", FILTER_SCHEMA) is None
    assert compile_search(" \t", FILTER_SCHEMA) is None


# ---------------------------------------------------------------------------------------------
# Fuzzing


def check_compiles_and_runs(filter_text: str, engine: Engine) -> None:
    try:
        expr = compile_filter(filter_text, FILTER_SCHEMA)
    except InvalidArgument as exc:
        assert exc.violations and exc.violations[0].field == "filter"
        return
    if expr is None:
        return
    expr.compile(dialect=PG_DIALECT)
    with engine.connect() as conn:
        conn.execute(select(Item.id).where(expr)).all()


@FUZZ_SETTINGS
@given(st.text(max_size=300))
def test_fuzz_any_text(sync_sqlite: Engine, filter_text: str) -> None:
    check_compiles_and_runs(filter_text, sync_sqlite)


_quoted = st.text(max_size=12).map(lambda s: json.dumps(s, ensure_ascii=False))
# fmt: off
_FUZZ_WORDS = [
    "name", "location", "status", "active", "count", "created", "labels", "labels.env",
    "labels.", "nme", "id", "AND", "OR", "NOT", "-", "(", ")", "=", "!=", "<", "<=", ">",
    ">=", ":", "*", "!", "true", "FALSE", "ONLINE", "camera_status_online", "lobby*",
    "*yard", "50%", "1.5", "-3", "99999999999999999999", "and", '"', "'", "\\",
    '"2026-05-01T12:00:00Z"', '"2026-05-01T14:00:00+02:00"', '"2026-05-01T12:00:00"',
    '"0001-01-01T00:00:00+01:00"', '"9999-12-31T23:59:59-01:00"', "\x00", "\t", "\n",
]
# fmt: on
_fuzz_token = st.one_of(
    st.sampled_from(_FUZZ_WORDS),
    _quoted,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet="abcXYZ_%*.-019", min_size=1, max_size=8),
)


@FUZZ_SETTINGS
@given(st.lists(st.tuples(_fuzz_token, st.sampled_from(["", " ", "  "])), max_size=40))
def test_fuzz_grammar_like(sync_sqlite: Engine, parts: list[tuple[str, str]]) -> None:
    check_compiles_and_runs("".join(token + gap for token, gap in parts), sync_sqlite)


@FUZZ_SETTINGS
@given(st.text(max_size=200))
def test_fuzz_search(value: str) -> None:
    with contextlib.suppress(InvalidArgument):
        compile_search(value, FILTER_SCHEMA)
