"""Which cameras an analytics read covers: the filter of GetUptime and GetCoverage (camera_id,
node_id, labels.<name>, AIP-160 as every List RPC), compiled by server/common/listing, and the
page of a read as an offset token bound to its query."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.analytics.ranges import Window
from server.cameras.listing import FILTER as CAMERAS_FILTER
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    compile_filter,
    decode_page_token,
    encode_page_token,
    query_fingerprint,
)
from server.db.models import CameraRow
from server.errors import InvalidArgument, NotFound

FILTER = FilterSchema(
    fields={
        "camera_id": FieldSpec(CameraRow.id, FieldKind.STRING),
        "node_id": FieldSpec(CameraRow.node_id, FieldKind.STRING),
    },
    map_fields={"labels": CAMERAS_FILTER.map_fields["labels"]},
)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# `camera_id = "…"` terms: a camera named that does not exist is NOT_FOUND, not an empty answer.
_NAMED_ID = re.compile(r"""\bcamera_id\s*=\s*"([^"]*)\"""")


def camera_condition(text: str) -> ColumnElement[bool] | None:
    """The WHERE condition on CameraRow of a filter (None: every camera); InvalidArgument."""
    return compile_filter(text, FILTER)


async def require_named_cameras(session: AsyncSession, text: str) -> None:
    """NotFound for a camera the filter names by id that does not exist."""
    named = set(_NAMED_ID.findall(text))
    if not named:
        return
    found = set((await session.scalars(select(CameraRow.id).where(CameraRow.id.in_(named)))).all())
    missing = sorted(named - found)
    if missing:
        raise NotFound(f"camera {missing[0]} does not exist", metadata={"camera_id": missing[0]})


def page_size(value: int) -> int:
    if value < 0:
        raise InvalidArgument.for_field(
            "page_size",
            f"must not be negative (got {value}); send 0 for the default of {DEFAULT_PAGE_SIZE}",
        )
    return min(value, MAX_PAGE_SIZE) if value else DEFAULT_PAGE_SIZE


def fingerprint(read: str, window: Window, parts: Sequence[str]) -> str:
    return query_fingerprint(
        read,
        window.start.isoformat(),
        window.end.isoformat(),
        str(window.bucket.total_seconds()),
        *parts,
    )


def page_offset(token: str, print_: str) -> int:
    return decode_page_token(token, print_)


def next_token(offset: int, size: int, total: int, print_: str) -> str:
    return encode_page_token(offset + size, print_) if offset + size < total else ""
