"""Shared machinery of every List* RPC: AIP-160 filters, AIP-132 order_by, AIP-158 pagination.

Everything compiles to SQLAlchemy Core expressions with bound parameters and behaves the same on
SQLite and PostgreSQL. Every problem with the caller's input is an `InvalidArgument` naming the
request field, the position in the text, and what to write instead.

One job per module: lexer (tokens and the checks on raw text), fields (filterable fields and the
SQL of one comparison), filter (the AIP-160 grammar), order_by, page_token (the one page-token
codec of every List RPC) and paging (one page of a query). A domain declares a `Listing` per
collection and imports from here.
"""

from server.common.listing.fields import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    MapFieldCompiler,
    icontains,
)
from server.common.listing.filter import compile_filter, compile_search
from server.common.listing.order_by import OrderSchema, compile_order_by
from server.common.listing.page_token import (
    decode_page_token,
    decode_position,
    encode_page_token,
    encode_position,
    query_fingerprint,
)
from server.common.listing.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Listing,
    ListRequest,
    Page,
    PagePlan,
    fetch_page,
    plan_page,
    resolve_page_size,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "FieldKind",
    "FieldSpec",
    "FilterSchema",
    "ListRequest",
    "Listing",
    "MapFieldCompiler",
    "OrderSchema",
    "Page",
    "PagePlan",
    "compile_filter",
    "compile_order_by",
    "compile_search",
    "decode_page_token",
    "decode_position",
    "encode_page_token",
    "encode_position",
    "fetch_page",
    "icontains",
    "plan_page",
    "query_fingerprint",
    "resolve_page_size",
]
