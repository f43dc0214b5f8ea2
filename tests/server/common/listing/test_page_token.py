"""Tests of server.common.listing.page_token, the one page-token codec of every List RPC: tokens
round-trip, fit only their query, and anything else is an InvalidArgument that says to start
again."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.common.listing import (
    decode_page_token,
    decode_position,
    encode_page_token,
    encode_position,
    query_fingerprint,
)
from server.errors import InvalidArgument
from tests.server.common.listing.items import FUZZ_SETTINGS


def test_page_token_round_trip_and_fingerprint() -> None:
    fp = query_fingerprint("cameras", "status = ONLINE", "name")
    assert fp == query_fingerprint("cameras", "status = ONLINE", "name")
    assert fp != query_fingerprint("cameras", "status = ONLINE", "name desc")
    assert query_fingerprint("a,b") != query_fingerprint("a", "b")
    token = encode_page_token(150, fp)
    assert token.replace("-", "").replace("_", "").isalnum()
    assert decode_page_token(token, fp) == 150
    assert decode_page_token("", fp) == 0
    with pytest.raises(InvalidArgument, match="does not belong to this query"):
        decode_page_token(token, query_fingerprint("other"))


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        "abc",
        "a" * 513,
        _b64([1, 2]),
        _b64({"o": -1, "f": "fp"}),
        _b64({"o": 2**60, "f": "fp"}),
        _b64({"o": True, "f": "fp"}),
        _b64({"o": "1", "f": "fp"}),
        _b64({"o": 1}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_garbage_page_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        decode_page_token(token, "fp")
    assert info.value.message == (
        "page_token: is not a token this server issued; start again without page_token"
    )


def test_positions_round_trip_for_keyset_paging() -> None:
    fp = query_fingerprint("recordings", "camera-1")
    at = datetime(2026, 11, 1, 0, 30, 0, 123456, tzinfo=UTC).isoformat()
    token = encode_position({"t": at, "i": "r-7"}, fp)
    assert token.replace("-", "").replace("_", "").isalnum()
    assert decode_position(token, fp, dict) == {"t": at, "i": "r-7"}
    assert decode_position("", fp, dict) is None
    # An offset token is a position too: one codec for both kinds of paging.
    assert decode_position(encode_page_token(3, fp), fp, dict) == {"o": 3}


def test_a_position_that_does_not_read_is_not_a_token_of_this_server() -> None:
    """Junk fields count before the fingerprint: a forged token is not "another query"."""
    token = encode_position({"t": "yesterday"}, "other query")
    with pytest.raises(InvalidArgument) as info:
        decode_position(token, "fp", lambda position: None)
    assert info.value.message == (
        "page_token: is not a token this server issued; start again without page_token"
    )


def test_a_position_may_not_shadow_the_fingerprint() -> None:
    with pytest.raises(ValueError, match="may not use the key 'f'"):
        encode_position({"f": "forged"}, "fp")


def test_a_token_of_another_query_names_what_defines_the_query() -> None:
    token = encode_position({"i": "r-7"}, query_fingerprint("recordings", "camera-1"))
    with pytest.raises(InvalidArgument) as info:
        decode_position(
            token,
            query_fingerprint("recordings", "camera-2"),
            dict,
            query="camera_id or start_time",
        )
    assert info.value.violations[0].field == "page_token"
    assert info.value.message == (
        "page_token: does not belong to this query (camera_id or start_time changed); "
        "start again without page_token"
    )


@FUZZ_SETTINGS
@given(st.text(max_size=200))
def test_fuzz_page_tokens(value: str) -> None:
    with contextlib.suppress(InvalidArgument):
        decode_page_token(value, "fp")
