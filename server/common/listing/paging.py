"""AIP-158 paging of a List RPC: page size, one page of rows and the token of the next.

`Listing` is what a domain declares per collection; `fetch_page` filters, counts, orders and pages
a `select(SomeRow)` with it, validating every input before the first query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.common.listing.fields import FilterSchema
from server.common.listing.filter import compile_filter, compile_search
from server.common.listing.order_by import OrderSchema, order_clauses, order_terms
from server.common.listing.page_token import (
    decode_page_token,
    encode_page_token,
    query_fingerprint,
)
from server.errors import InvalidArgument

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000


def resolve_page_size(value: int, *, field_name: str = "page_size") -> int:
    """0 means DEFAULT_PAGE_SIZE; above MAX_PAGE_SIZE is coerced (AIP-158); negative is refused."""
    if value < 0:
        raise InvalidArgument.for_field(
            field_name,
            f"must not be negative (got {value}); send 0 for the default of "
            f"{DEFAULT_PAGE_SIZE}, or up to {MAX_PAGE_SIZE}",
        )
    return min(value, MAX_PAGE_SIZE) if value else DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List* response."""

    items: list[T]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class PagePlan(Generic[T]):
    """The checked statements of one page: `page_stmt` (one row more than the page, to tell
    whether a next page exists) and `count_stmt` (the total, only needed when the page does not
    reach the end). Run them anywhere (ORM session, Core connection) and `finish` the page."""

    page_stmt: Select[T]
    count_stmt: Select[int]
    size: int
    offset: int
    fingerprint: str

    def needs_count(self, fetched: int) -> bool:
        """Whether the total must be counted, given how many rows `page_stmt` returned."""
        return fetched > self.size or (self.offset > 0 and not fetched)

    def finish(self, rows: Sequence[R], total: int | None) -> Page[R]:
        """The page of `rows` (what `page_stmt` returned); `total` from `count_stmt` when
        `needs_count`."""
        items = list(rows[: self.size])
        has_more = len(rows) > self.size
        # Without a count, this page reached the end: the total is known.
        total_size = int(total or 0) if self.needs_count(len(rows)) else self.offset + len(items)
        next_token = ""
        if has_more:
            next_token = encode_page_token(self.offset + self.size, self.fingerprint)
        return Page(items=items, next_page_token=next_token, total_size=total_size)


def plan_page(
    stmt: Select[T],
    *,
    page_size: int,
    page_token: str,
    filter_text: str,
    order_by: str,
    filter_schema: FilterSchema,
    order_schema: OrderSchema,
    fingerprint_parts: Sequence[str] = (),
    search: str = "",
) -> PagePlan[T]:
    """Filter, order and page `stmt` (a `select(SomeRow)` or of a table's columns); replaces any
    ORDER BY in it. Every input is validated here, so a bad request costs no database work."""
    size = resolve_page_size(page_size)
    condition = compile_filter(filter_text, filter_schema)
    search_condition = compile_search(search, filter_schema)
    terms = order_terms(order_by, order_schema, "order_by")
    canonical_order = ",".join(f"{name} {'desc' if desc else 'asc'}" for name, desc in terms)
    fingerprint = query_fingerprint(
        *fingerprint_parts, filter_text.strip(), search.strip(), canonical_order
    )
    offset = decode_page_token(page_token, fingerprint)

    filtered = stmt.order_by(None)
    for extra in (condition, search_condition):
        if extra is not None:
            filtered = filtered.where(extra)
    return PagePlan(
        filtered.order_by(*order_clauses(terms, order_schema)).offset(offset).limit(size + 1),
        select(func.count()).select_from(filtered.subquery()),
        size,
        offset,
        fingerprint,
    )


async def fetch_page(
    session: AsyncSession,
    stmt: Select[T],
    *,
    page_size: int,
    page_token: str,
    filter_text: str,
    order_by: str,
    filter_schema: FilterSchema,
    order_schema: OrderSchema,
    fingerprint_parts: Sequence[str] = (),
    search: str = "",
) -> Page[T]:
    """Filter, count, order and page `stmt` (a `select(SomeRow)`); replaces any ORDER BY in it."""
    plan = plan_page(
        stmt,
        page_size=page_size,
        page_token=page_token,
        filter_text=filter_text,
        order_by=order_by,
        filter_schema=filter_schema,
        order_schema=order_schema,
        fingerprint_parts=fingerprint_parts,
        search=search,
    )
    items = list((await session.scalars(plan.page_stmt)).all())
    total = await session.scalar(plan.count_stmt) if plan.needs_count(len(items)) else None
    return plan.finish(items, total)


@dataclass(frozen=True)
class ListRequest:
    """The paging, filtering and ordering fields of a List RPC (AIP-132/158/160)."""

    page_size: int = 0
    page_token: str = ""
    filter: str = ""
    order_by: str = ""
    search: str = ""

    @classmethod
    def of(cls, request: object) -> ListRequest:
        """Read them from a List*Request message (`search` only where the message has it)."""
        return cls(
            page_size=int(getattr(request, "page_size", 0)),
            page_token=str(getattr(request, "page_token", "")),
            filter=str(getattr(request, "filter", "")),
            order_by=str(getattr(request, "order_by", "")),
            search=str(getattr(request, "search", "")),
        )


@dataclass(frozen=True)
class Listing:
    """How one resource is listed: what can be filtered, searched and ordered."""

    resource: str
    filter_schema: FilterSchema
    order_schema: OrderSchema

    def plan(self, stmt: Select[T], request: ListRequest) -> PagePlan[T]:
        """The checked statements of `request`'s page of `stmt` (to run on a Core connection)."""
        return plan_page(
            stmt,
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
            order_by=request.order_by,
            filter_schema=self.filter_schema,
            order_schema=self.order_schema,
            fingerprint_parts=(self.resource,),
            search=request.search,
        )

    async def page(
        self, sessions: async_sessionmaker[AsyncSession], stmt: Select[T], request: ListRequest
    ) -> Page[T]:
        """One page of `stmt` (a `select(SomeRow)`) for `request`."""
        async with sessions() as session:
            return await fetch_page(
                session,
                stmt,
                page_size=request.page_size,
                page_token=request.page_token,
                filter_text=request.filter,
                order_by=request.order_by,
                filter_schema=self.filter_schema,
                order_schema=self.order_schema,
                fingerprint_parts=(self.resource,),
                search=request.search,
            )
