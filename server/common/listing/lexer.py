"""The lexer of AIP-160 filters: the text checks every listing input passes, then tokens.

Every problem is an `InvalidArgument` naming the request field and the position in the text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from server.errors import InvalidArgument

MAX_FILTER_LENGTH: Final = 2000
# Characters that end an unquoted word; "-" and "." stay inside words (lobby-1, labels.env, 1.5).
_WORD_STOP: Final = frozenset(" \t\n()\"'=!<>:")
_WHITESPACE: Final = frozenset(" \t\n")


def check_length(text: str, field_name: str) -> None:
    """Reject input longer than any legitimate filter, search or order_by."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument.for_field(
            field_name, f"is too long ({len(text)} characters; at most {MAX_FILTER_LENGTH})"
        )


def check_text(text: str, field_name: str) -> None:
    """Reject over-long input and characters no legitimate query contains."""
    check_length(text, field_name)
    for pos, ch in enumerate(text):
        code = ord(ch)
        # Surrogates cannot be encoded for the database driver; control characters are noise.
        surrogate = 0xD800 <= code <= 0xDFFF
        if (code < 0x20 and ch not in "\t\n") or code == 0x7F or surrogate:
            what = "an unpaired surrogate" if surrogate else "the control character"
            raise InvalidArgument.for_field(
                field_name, f"contains {what} U+{code:04X} at position {pos}; remove it"
            )


class Kind(enum.Enum):
    """What a token is."""

    WORD = "word"
    STRING = "string"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    MINUS = "-"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    """One token of a filter and where it starts."""

    kind: Kind
    text: str  # the value: unescaped content for STRING, source text otherwise
    raw: str  # as written, for error messages
    pos: int


def tokenize(text: str, field_name: str) -> list[Token]:
    """The tokens of `text`, ending with an END token. Raises InvalidArgument."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in "()":
            tokens.append(Token(Kind.LPAREN if ch == "(" else Kind.RPAREN, ch, ch, i))
            i += 1
        elif ch in "\"'":
            i = _lex_string(text, i, tokens, field_name)
        elif ch in "<>":
            op = ch + "=" if text.startswith("=", i + 1) else ch
            tokens.append(Token(Kind.OP, op, op, i))
            i += len(op)
        elif ch in "=:":
            tokens.append(Token(Kind.OP, ch, ch, i))
            i += 1
        elif ch == "!":
            if not text.startswith("=", i + 1):
                raise InvalidArgument.for_field(
                    field_name,
                    f'unexpected "!" at position {i}; write != for "not equal", '
                    "or NOT / - to negate a condition",
                )
            tokens.append(Token(Kind.OP, "!=", "!=", i))
            i += 2
        elif ch == "-" and not (i + 1 < n and text[i + 1].isdigit()):
            # A leading "-" negates (AIP-160 `-name:x`); "-5" stays a negative number.
            tokens.append(Token(Kind.MINUS, "-", "-", i))
            i += 1
        else:
            start = i
            while i < n and text[i] not in _WORD_STOP:
                i += 1
            word = text[start:i]
            tokens.append(Token(Kind.WORD, word, word, start))
    tokens.append(Token(Kind.END, "", "", n))
    return tokens


def _lex_string(text: str, start: int, tokens: list[Token], field_name: str) -> int:
    """Append one quoted string token and return the index after its closing quote."""
    quote, i = text[start], start + 1
    chars: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            tokens.append(Token(Kind.STRING, "".join(chars), text[start : i + 1], start))
            return i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            chars.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            chars.append(ch)
            i += 1
    raise InvalidArgument.for_field(
        field_name, f"unterminated string starting at position {start}; close it with {quote}"
    )
