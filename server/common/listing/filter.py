"""AIP-160 filters and free-text search compiled to a SQLAlchemy WHERE condition.

The parser here owns the grammar (AND, OR, NOT, parentheses, bare words); what each comparison
means is in fields.py. Every problem with the caller's text is an `InvalidArgument` naming the
request field, the position in the text, and what to write instead.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import ColumnElement, and_, not_, or_

from server.common.listing.fields import Comparisons, FilterSchema, text_match
from server.common.listing.lexer import Kind, Token, check_text, tokenize
from server.errors import InvalidArgument

MAX_FILTER_DEPTH: Final = 32
MAX_FILTER_TERMS: Final = 64
_KEYWORDS: Final = frozenset({"AND", "OR", "NOT"})


class _Parser:
    """Recursive descent over the tokens; OR binds tighter than AND (AIP-160)."""

    def __init__(self, tokens: list[Token], schema: FilterSchema, field_name: str) -> None:
        self.tokens = tokens
        self.schema = schema
        self.field_name = field_name
        self.comparisons = Comparisons(schema, field_name)
        self.index = 0
        self.depth = 0
        self.terms = 0

    def error(self, description: str) -> InvalidArgument:
        return self.comparisons.error(description)

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        tok = self.tokens[self.index]
        if tok.kind is not Kind.END:
            self.index += 1
        return tok

    @staticmethod
    def is_keyword(tok: Token, word: str | None = None) -> bool:
        return tok.kind is Kind.WORD and (
            tok.text in _KEYWORDS if word is None else tok.text == word
        )

    @staticmethod
    def describe(tok: Token) -> str:
        return (
            "the end of the filter"
            if tok.kind is Kind.END
            else f'"{tok.raw}" at position {tok.pos}'
        )

    def parse(self) -> ColumnElement[bool]:
        expr = self.and_expr()
        tok = self.peek()
        if tok.kind is Kind.RPAREN:
            raise self.error(f'unexpected ")" at position {tok.pos}; it has no matching "("')
        return expr

    def and_expr(self) -> ColumnElement[bool]:
        parts = [self.or_expr()]
        while self.peek().kind not in (Kind.END, Kind.RPAREN):
            if self.is_keyword(self.peek(), "AND"):
                self.advance()
            parts.append(self.or_expr())  # juxtaposition is AND too
        return parts[0] if len(parts) == 1 else and_(*parts)

    def or_expr(self) -> ColumnElement[bool]:
        parts = [self.unary()]
        while self.is_keyword(self.peek(), "OR"):
            self.advance()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def enter(self, tok: Token) -> None:
        # Bounds recursion (and the SQL's nesting) whatever the caller sends.
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise self.error(
                f"nests more than {MAX_FILTER_DEPTH} levels deep at position {tok.pos}; "
                "remove some parentheses or NOTs"
            )

    def unary(self) -> ColumnElement[bool]:
        tok = self.peek()
        if self.is_keyword(tok, "NOT") or tok.kind is Kind.MINUS:
            self.advance()
            self.enter(tok)
            inner = self.unary()
            self.depth -= 1
            return not_(inner)
        return self.primary()

    def primary(self) -> ColumnElement[bool]:
        tok = self.peek()
        if tok.kind is Kind.LPAREN:
            self.advance()
            self.enter(tok)
            if self.peek().kind is Kind.RPAREN:
                raise self.error(f"empty parentheses at position {tok.pos}; put a condition inside")
            inner = self.and_expr()
            if self.peek().kind is not Kind.RPAREN:
                raise self.error(f'missing ")" to close the "(" at position {tok.pos}')
            self.advance()
            self.depth -= 1
            return inner
        if tok.kind in (Kind.WORD, Kind.STRING) and not self.is_keyword(tok):
            return self.term()
        hint = f"; to search for the word {tok.text}, quote it" if self.is_keyword(tok) else ""
        if self.index == 0:
            raise self.error(
                f'expected a condition (like name = "x") but found {self.describe(tok)}{hint}'
            )
        prev = self.tokens[self.index - 1]
        raise self.error(
            f'expected a condition after "{prev.raw}" at position {prev.pos} but found '
            f"{self.describe(tok)}{hint}"
        )

    def count_term(self, tok: Token) -> None:
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise self.error(
                f"has more than {MAX_FILTER_TERMS} conditions (at position {tok.pos}); simplify it"
            )

    def term(self) -> ColumnElement[bool]:
        tok = self.advance()
        self.count_term(tok)
        op = self.peek()
        if op.kind is not Kind.OP:
            return self.search(tok)
        if tok.kind is Kind.STRING:
            raise self.error(
                f"a quoted string cannot be a field name (position {tok.pos}); write the "
                "field name without quotes"
            )
        self.advance()
        value = self.peek()
        if value.kind not in (Kind.WORD, Kind.STRING) or self.is_keyword(value):
            hint = (
                f' (to compare with the word {value.text}, quote it: "{value.text}")'
                if (self.is_keyword(value))
                else ""
            )
            raise self.error(
                f'expected a value after "{op.text}" at position {op.pos} but found '
                f"{self.describe(value)}{hint}"
            )
        self.advance()
        return self.comparisons.comparison(tok, op, value)

    def search(self, tok: Token) -> ColumnElement[bool]:
        if tok.kind is Kind.WORD and tok.text in ("and", "or", "not"):
            raise self.error(
                f'"{tok.text}" at position {tok.pos}: write {tok.text.upper()} in capitals '
                f'to combine conditions, or quote it ("{tok.text}") to search for the word'
            )
        if not self.schema.text_columns:
            raise self.error(
                f'"{tok.raw}" at position {tok.pos} has no operator and free-text search '
                f'is not supported here; write a comparison like field = "value"; known '
                f"fields: {self.comparisons.known_fields()}"
            )
        return text_match(self.schema.text_columns, tok.text)


def compile_filter(
    text: str, schema: FilterSchema, *, field_name: str = "filter"
) -> ColumnElement[bool] | None:
    """Compile an AIP-160 filter to a WHERE condition; None when empty. Raises InvalidArgument."""
    check_text(text, field_name)
    if not text.strip():
        return None
    return _Parser(tokenize(text, field_name), schema, field_name).parse()


def compile_search(
    text: str, schema: FilterSchema, *, field_name: str = "search"
) -> ColumnElement[bool] | None:
    """Free-text search: every whitespace-separated word must occur in some text column."""
    check_text(text, field_name)
    words = text.split()
    if not words:
        return None
    if not schema.text_columns:
        raise InvalidArgument.for_field(
            field_name, "free-text search is not supported for this collection; use filter"
        )
    if len(words) > MAX_FILTER_TERMS:
        raise InvalidArgument.for_field(
            field_name, f"has more than {MAX_FILTER_TERMS} words; shorten it"
        )
    return and_(*(text_match(schema.text_columns, word) for word in words))
