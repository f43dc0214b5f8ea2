"""Tests of server.common.listing.paging: pages of a query on SQLite and PostgreSQL (every row
once, counts, tokens that fit only their query), page sizes, and validation before any query."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    fetch_page,
    resolve_page_size,
)
from server.errors import InvalidArgument
from tests.server.common.listing.items import FILTER_SCHEMA, ORDER_SCHEMA, Item, list_items


async def test_paging_returns_every_row_once_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[str] = []
    tokens: list[str] = []
    token = ""
    for _ in range(10):
        page = await list_items(sessions, order_by="count", page_size=3, page_token=token)
        assert page.total_size == 7
        seen += [item.id for item in page.items]
        token = page.next_page_token
        tokens.append(token)
        if not token:
            break
    assert seen == ["i5", "i4", "i1", "i6", "i7", "i3", "i2"]
    assert [bool(t) for t in tokens] == [True, True, False]


async def test_paging_with_a_filter_counts_only_matches(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await list_items(sessions, "active = true", page_size=2)
    assert ([i.id for i in first.items], first.total_size) == (["i1", "i2"], 4)
    second = await list_items(
        sessions, " active = true ", page_size=2, page_token=first.next_page_token
    )
    assert ([i.id for i in second.items], second.total_size) == (["i5", "i6"], 4)
    assert second.next_page_token == ""


async def test_exact_multiple_of_page_size_ends_cleanly(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    page = await list_items(sessions, "status = ONLINE", page_size=4)
    assert (len(page.items), page.total_size, page.next_page_token) == (4, 4, "")


@pytest.mark.parametrize(
    "changes",
    [
        {"filter_text": "active = false"},
        {"order_by": "count desc"},
        {"search": "lobby"},
    ],
)
async def test_token_is_rejected_for_a_different_query(
    sessions: async_sessionmaker[AsyncSession], changes: dict[str, Any]
) -> None:
    first = await list_items(sessions, "active = true", page_size=2)
    kwargs: dict[str, Any] = {"filter_text": "active = true", "order_by": "id", **changes}
    with pytest.raises(InvalidArgument) as info:
        await list_items(sessions, page_size=2, page_token=first.next_page_token, **kwargs)
    assert info.value.violations[0].field == "page_token"
    assert "does not belong to this query (filter or order_by changed)" in info.value.message
    assert "start again without page_token" in info.value.message


async def test_equivalent_order_by_keeps_the_token_valid(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await list_items(sessions, order_by="count", page_size=3)
    second = await list_items(
        sessions, order_by="count ASC", page_size=3, page_token=first.next_page_token
    )
    assert [i.id for i in second.items] == ["i6", "i7", "i3"]


class ExplodingSession:
    """Stands in for AsyncSession: any database use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"touched the database ({name}) before validating the request")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filter_text": "nope = 1"},
        {"order_by": "nope"},
        {"page_size": -1},
        {"page_token": "garbage!"},
        {"search": "\x00"},
    ],
)
async def test_fetch_page_validates_before_touching_the_database(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "page_size": 10,
        "page_token": "",
        "filter_text": "",
        "order_by": "",
        "filter_schema": FILTER_SCHEMA,
        "order_schema": ORDER_SCHEMA,
    } | kwargs
    with pytest.raises(InvalidArgument):
        await fetch_page(ExplodingSession(), select(Item), **args)  # type: ignore[arg-type]


def test_page_size_defaults_and_coerces() -> None:
    assert resolve_page_size(0) == DEFAULT_PAGE_SIZE == 50
    assert resolve_page_size(7) == 7
    assert resolve_page_size(5000) == MAX_PAGE_SIZE == 1000
    with pytest.raises(InvalidArgument, match="page_size: must not be negative"):
        resolve_page_size(-1)
