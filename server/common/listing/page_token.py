"""Page tokens: the one codec of every List RPC's `page_token` (AIP-158).

A token says where the next page starts (an offset, or the sort key of the last row sent) and
carries a fingerprint of the query it was issued for, as url-safe base64 of JSON. Tokens are not
signed: they are no security boundary, since a forged one can only name another position in a
query the caller may run anyway. The checks keep junk away from the database and tell the caller
what went wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from server.errors import InvalidArgument

MAX_PAGE_TOKEN_LENGTH: Final = 512
# Offsets beyond this come only from forged tokens; larger ones would overflow BIGINT in the DB.
_MAX_OFFSET: Final = 2**53
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
_FINGERPRINT: Final = "f"
_OFFSET: Final = "o"

P = TypeVar("P")


def query_fingerprint(*parts: str) -> str:
    """Short stable hash of everything that defines a query, so a page token fits only it."""
    # JSON keeps the parts unambiguous (("a,b",) differs from ("a", "b")).
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:16]


def _bad_page_token(field_name: str = "page_token") -> InvalidArgument:
    """The error for a token this server did not issue (or that was altered)."""
    return InvalidArgument.for_field(
        field_name, f"is not a token this server issued; start again without {field_name}"
    )


def encode_position(position: Mapping[str, str | int], fingerprint: str) -> str:
    """Opaque url-safe token for the page starting at `position` of the query `fingerprint`."""
    if _FINGERPRINT in position:
        raise ValueError(f"a page position may not use the key {_FINGERPRINT!r}")
    payload = {**position, _FINGERPRINT: fingerprint}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(
    token: str,
    fingerprint: str,
    read: Callable[[Mapping[str, Any]], P | None],
    *,
    field_name: str = "page_token",
    query: str = "filter or order_by",
) -> P | None:
    """The position in a token from encode_position, None when the token is empty.

    `read` makes the position from the token's fields, or None when they are not one. Raises
    InvalidArgument for a token this server did not issue, and, naming `query` (what defines
    the query), for a token of another query.
    """
    if not token:
        return None
    if len(token) > MAX_PAGE_TOKEN_LENGTH or not _TOKEN_RE.fullmatch(token):
        raise _bad_page_token(field_name)
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, RecursionError):  # bad base64, bad UTF-8 and bad JSON are all ValueError
        raise _bad_page_token(field_name) from None
    if not isinstance(data, dict) or not isinstance(data.get(_FINGERPRINT), str):
        raise _bad_page_token(field_name)
    given = data.pop(_FINGERPRINT)
    position = read(data)
    if position is None:
        raise _bad_page_token(field_name)
    if given != fingerprint:
        raise InvalidArgument.for_field(
            field_name,
            f"does not belong to this query ({query} changed); start again without {field_name}",
        )
    return position


def encode_page_token(offset: int, fingerprint: str) -> str:
    """Token for the page starting at row `offset` of the query `fingerprint`."""
    if offset < 0:
        raise ValueError(f"page offset must not be negative, got {offset}")
    return encode_position({_OFFSET: offset}, fingerprint)


def decode_page_token(token: str, fingerprint: str, *, field_name: str = "page_token") -> int:
    """The offset in a token from encode_page_token; 0 when empty. Raises InvalidArgument."""
    offset = decode_position(token, fingerprint, _read_offset, field_name=field_name)
    return 0 if offset is None else offset


def _read_offset(position: Mapping[str, Any]) -> int | None:
    offset = position.get(_OFFSET)
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= _MAX_OFFSET:
        return None
    return offset
