"""Tests of server.common.listing.order_by: the ORDER BY of an AIP-132 `order_by`, on SQLite and
PostgreSQL, and what a caller is told about a bad one."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import OrderSchema, compile_order_by
from server.errors import InvalidArgument
from tests.server.common.listing.items import FUZZ_SETTINGS, ORDER_SCHEMA, Item, list_items


async def test_order_by_sorts_and_breaks_ties(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    page = await list_items(sessions, order_by="count desc")
    assert [i.id for i in page.items] == ["i2", "i3", "i7", "i6", "i1", "i4", "i5"]
    # Ties (the two "Garden"s) by id; NULL last ascending and first descending on both databases.
    page = await list_items(sessions, order_by=" location ASC ")
    assert [i.id for i in page.items] == ["i6", "i4", "i7", "i1", "i3", "i5", "i2"]
    page = await list_items(sessions, order_by="location desc, count")
    assert [i.id for i in page.items] == ["i2", "i5", "i3", "i1", "i4", "i7", "i6"]
    page = await list_items(sessions, order_by="")  # default: name
    assert [i.name for i in page.items][:3] == ["50% off sign", "Camera 500", "Lobby 2"]


def test_order_by_appends_tiebreaker_once() -> None:
    assert len(compile_order_by("name", ORDER_SCHEMA)) == 2
    assert len(compile_order_by("count, name desc", ORDER_SCHEMA)) == 3
    assert len(compile_order_by("id desc", ORDER_SCHEMA)) == 1
    sql = ", ".join(str(c) for c in compile_order_by("", ORDER_SCHEMA))
    assert sql == "listing_items.name ASC NULLS LAST, listing_items.id ASC"


@pytest.mark.parametrize(
    ("order_by", "fragment"),
    [
        ("nope", 'unknown field "nope" in entry 1'),
        ("name, name desc", 'field "name" appears more than once'),
        ("name sideways", 'entry 1 "name sideways" is not "<field>" or "<field> desc"'),
        ("name desc asc", "is not"),
        ("name,,count", "entry 2 is empty"),
        ("name,", "entry 2 is empty"),
        ("Name", 'unknown field "Name"'),
    ],
)
def test_order_by_errors(order_by: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_order_by(order_by, ORDER_SCHEMA)
    assert info.value.violations[0].field == "order_by"
    assert fragment in info.value.message
    if "appears more than once" not in fragment:
        assert "allowed fields: count, created, id, location, name" in info.value.message


def test_order_schema_rejects_a_bad_default() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        OrderSchema(fields={"name": Item.name}, default="nme", tiebreaker=Item.id)


def test_order_by_is_limited_in_length() -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_order_by("name," * 400 + "name", ORDER_SCHEMA)
    assert info.value.message == "order_by: is too long (2004 characters; at most 2000)"


@FUZZ_SETTINGS
@given(st.text(max_size=200))
def test_fuzz_order_by(value: str) -> None:
    with contextlib.suppress(InvalidArgument):
        compile_order_by(value, ORDER_SCHEMA)
