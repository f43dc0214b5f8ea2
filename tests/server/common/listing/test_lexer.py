"""Tests of server.common.listing.lexer: the tokens of a filter and what a caller is told about
text that cannot be tokenized."""

from __future__ import annotations

import pytest

from server.common.listing.lexer import Kind, check_text, tokenize
from server.errors import InvalidArgument
from tests.server.common.listing.items import assert_filter_error, filter_error


def kinds_and_texts(text: str) -> list[tuple[Kind, str]]:
    return [(tok.kind, tok.text) for tok in tokenize(text, "filter")]


def test_tokens_of_a_filter() -> None:
    assert kinds_and_texts('-labels.env:"a \\"b\\"\\n" OR (count>=-5)') == [
        (Kind.MINUS, "-"),
        (Kind.WORD, "labels.env"),
        (Kind.OP, ":"),
        (Kind.STRING, 'a "b"\n'),
        (Kind.WORD, "OR"),
        (Kind.LPAREN, "("),
        (Kind.WORD, "count"),
        (Kind.OP, ">="),
        (Kind.WORD, "-5"),
        (Kind.RPAREN, ")"),
        (Kind.END, ""),
    ]


def test_words_keep_dashes_and_dots_and_tokens_know_where_they_start() -> None:
    tokens = tokenize("name != lobby-1.5 'x'", "filter")
    assert [(tok.text, tok.raw, tok.pos) for tok in tokens] == [
        ("name", "name", 0),
        ("!=", "!=", 5),
        ("lobby-1.5", "lobby-1.5", 8),
        ("x", "'x'", 18),
        ("", "", 21),
    ]


@pytest.mark.parametrize(
    ("filter_text", "fragments"),
    [
        ('name = "abc', ["unterminated string starting at position 7"]),
        ("name = 'abc\\'", ["unterminated string starting at position 7"]),
        ("name ! x", ['unexpected "!" at position 5', "!="]),
        ("x" * 2001, ["too long (2001 characters; at most 2000)"]),
        ("name = \x00", ["control character U+0000 at position 7"]),
        ("name = a\x1bb", ["control character U+001B at position 8"]),
    ],
)
def test_lexer_errors_say_what_and_where(filter_text: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidArgument) as lexed:
        check_text(filter_text, "filter")
        tokenize(filter_text, "filter")
    assert_filter_error(lexed.value, fragments)
    # compile_filter passes the lexer's error on unchanged.
    assert filter_error(filter_text).message == lexed.value.message
