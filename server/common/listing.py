"""Shared machinery of every List* RPC: AIP-160 filters, AIP-132 order_by, AIP-158 pagination.

Everything compiles to SQLAlchemy Core expressions with bound parameters and behaves the same on
SQLite and PostgreSQL. Every problem with the caller's input is an `InvalidArgument` naming the
request field, the position in the text, and what to write instead.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Select,
    SQLColumnExpression,
    String,
    and_,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.errors import InvalidArgument

T = TypeVar("T")

MAX_FILTER_LENGTH: Final = 2000
MAX_FILTER_DEPTH: Final = 32
MAX_FILTER_TERMS: Final = 64
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
MAX_PAGE_TOKEN_LENGTH: Final = 512

# Offsets beyond this come only from forged tokens; larger ones would overflow BIGINT in the DB.
_MAX_OFFSET: Final = 2**53
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1
_LIKE_ESCAPE: Final = "\\"
_KEYWORDS: Final = frozenset({"AND", "OR", "NOT"})
# Characters that end an unquoted word; "-" and "." stay inside words (lobby-1, labels.env, 1.5).
_WORD_STOP: Final = frozenset(" \t\n()\"'=!<>:")
_WHITESPACE: Final = frozenset(" \t\n")
_INT_RE: Final = re.compile(r"-?[0-9]+")
_TIMESTAMP_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]*")


class FieldKind(enum.Enum):
    """How a filterable field's values are parsed and compared."""

    STRING = "string"
    BOOL = "bool"
    INT = "int"
    TIMESTAMP = "timestamp"
    ENUM = "enum"


@dataclass(frozen=True)
class FieldSpec:
    """One filterable field: its column, its kind, and for ENUM the filter literal -> DB value."""

    # SQLColumnExpression accepts both Core columns and ORM attributes such as CameraRow.name.
    column: SQLColumnExpression[Any]
    kind: FieldKind
    enum_values: Mapping[str, str] = field(default_factory=dict)


# (key, op, value) -> condition; value is None for a presence test (`labels.env:*`, `labels:env`).
MapFieldCompiler = Callable[[str, str, str | None], ColumnElement[bool]]


@dataclass(frozen=True)
class FilterSchema:
    """What a collection lets callers filter on: fields, free-text columns and map fields."""

    fields: Mapping[str, FieldSpec]
    text_columns: Sequence[SQLColumnExpression[Any]] = ()
    map_fields: Mapping[str, MapFieldCompiler] = field(default_factory=dict)


def _check_text(text: str, field_name: str) -> None:
    """Reject over-long input and characters no legitimate query contains."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument.for_field(
            field_name, f"is too long ({len(text)} characters; at most {MAX_FILTER_LENGTH})"
        )
    for pos, ch in enumerate(text):
        code = ord(ch)
        # Surrogates cannot be encoded for the database driver; control characters are noise.
        surrogate = 0xD800 <= code <= 0xDFFF
        if (code < 0x20 and ch not in "\t\n") or code == 0x7F or surrogate:
            what = "an unpaired surrogate" if surrogate else "the control character"
            raise InvalidArgument.for_field(
                field_name, f"contains {what} U+{code:04X} at position {pos}; remove it"
            )


# ---------------------------------------------------------------------------------------------
# Filter lexer


class _Kind(enum.Enum):
    WORD = "word"
    STRING = "string"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    MINUS = "-"
    END = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str  # the value: unescaped content for STRING, source text otherwise
    raw: str  # as written, for error messages
    pos: int


def _tokenize(text: str, field_name: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in "()":
            tokens.append(_Token(_Kind.LPAREN if ch == "(" else _Kind.RPAREN, ch, ch, i))
            i += 1
        elif ch in "\"'":
            i = _lex_string(text, i, tokens, field_name)
        elif ch in "<>":
            op = ch + "=" if text.startswith("=", i + 1) else ch
            tokens.append(_Token(_Kind.OP, op, op, i))
            i += len(op)
        elif ch in "=:":
            tokens.append(_Token(_Kind.OP, ch, ch, i))
            i += 1
        elif ch == "!":
            if not text.startswith("=", i + 1):
                raise InvalidArgument.for_field(
                    field_name,
                    f'unexpected "!" at position {i}; write != for "not equal", '
                    "or NOT / - to negate a condition",
                )
            tokens.append(_Token(_Kind.OP, "!=", "!=", i))
            i += 2
        elif ch == "-" and not (i + 1 < n and text[i + 1].isdigit()):
            # A leading "-" negates (AIP-160 `-name:x`); "-5" stays a negative number.
            tokens.append(_Token(_Kind.MINUS, "-", "-", i))
            i += 1
        else:
            start = i
            while i < n and text[i] not in _WORD_STOP:
                i += 1
            word = text[start:i]
            tokens.append(_Token(_Kind.WORD, word, word, start))
    tokens.append(_Token(_Kind.END, "", "", n))
    return tokens


def _lex_string(text: str, start: int, tokens: list[_Token], field_name: str) -> int:
    """Append one quoted string token and return the index after its closing quote."""
    quote, i = text[start], start + 1
    chars: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            tokens.append(_Token(_Kind.STRING, "".join(chars), text[start : i + 1], start))
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


# ---------------------------------------------------------------------------------------------
# Filter parser and compiler


def _escape_like(value: str) -> str:
    return (
        value.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )


def _ilike(column: SQLColumnExpression[Any], pattern: str) -> ColumnElement[bool]:
    # lower() on both sides in SQL (not str.lower() in Python) so each database folds both sides
    # the same way; LIKE alone is case-insensitive on SQLite but case-sensitive on PostgreSQL.
    return func.lower(column).like(func.lower(literal(pattern, String)), escape=_LIKE_ESCAPE)


def icontains(column: SQLColumnExpression[Any], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring test with `text` taken literally (% and _ escaped)."""
    return _ilike(column, f"%{_escape_like(text)}%")


def _known(column: SQLColumnExpression[Any], cond: ColumnElement[bool]) -> ColumnElement[bool]:
    # Every atom is TRUE or FALSE, never NULL, so NOT and != also match rows where the field is
    # unset instead of silently dropping them (SQL's NOT NULL is NULL).
    return and_(column.is_not(None), cond)


def _compare(column: SQLColumnExpression[Any], op: str, value: Any) -> ColumnElement[bool]:
    if op == "<":
        return _known(column, column < value)
    if op == "<=":
        return _known(column, column <= value)
    if op == ">":
        return _known(column, column > value)
    if op == ">=":
        return _known(column, column >= value)
    equal = _known(column, column == value)
    return not_(equal) if op == "!=" else equal


def _parse_timestamp(value: str) -> datetime | str:
    """An aware UTC datetime, or the reason `value` is not an RFC 3339 timestamp."""
    match = _TIMESTAMP_RE.fullmatch(value)
    if match is None:
        return 'is not an RFC 3339 timestamp; write it quoted, like "2026-11-01T00:00:00Z"'
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    if zulu is None and sign is None:
        return "has no time zone; end it with Z or an offset like +02:00"
    try:
        offset = timedelta(0) if zulu else timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
        micros = int((frac or "0").ljust(6, "0")[:6])
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz
        )
        # UTC because SQLite stores DateTime without its offset: comparing wall times only
        # works if both sides are in UTC, which is how rows are written.
        return stamp.astimezone(UTC)
    except (ValueError, OverflowError):
        return "is not a valid date and time"


class _Parser:
    """Recursive descent over the tokens; OR binds tighter than AND (AIP-160)."""

    def __init__(self, tokens: list[_Token], schema: FilterSchema, field_name: str) -> None:
        self.tokens = tokens
        self.schema = schema
        self.field_name = field_name
        self.index = 0
        self.depth = 0
        self.terms = 0

    def error(self, description: str) -> InvalidArgument:
        return InvalidArgument.for_field(self.field_name, description)

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        tok = self.tokens[self.index]
        if tok.kind is not _Kind.END:
            self.index += 1
        return tok

    @staticmethod
    def is_keyword(tok: _Token, word: str | None = None) -> bool:
        return tok.kind is _Kind.WORD and (
            tok.text in _KEYWORDS if word is None else tok.text == word
        )

    @staticmethod
    def describe(tok: _Token) -> str:
        return (
            "the end of the filter"
            if tok.kind is _Kind.END
            else f'"{tok.raw}" at position {tok.pos}'
        )

    def parse(self) -> ColumnElement[bool]:
        expr = self.and_expr()
        tok = self.peek()
        if tok.kind is _Kind.RPAREN:
            raise self.error(f'unexpected ")" at position {tok.pos}; it has no matching "("')
        return expr

    def and_expr(self) -> ColumnElement[bool]:
        parts = [self.or_expr()]
        while self.peek().kind not in (_Kind.END, _Kind.RPAREN):
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

    def enter(self, tok: _Token) -> None:
        # Bounds recursion (and the SQL's nesting) whatever the caller sends.
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise self.error(
                f"nests more than {MAX_FILTER_DEPTH} levels deep at position {tok.pos}; "
                "remove some parentheses or NOTs"
            )

    def unary(self) -> ColumnElement[bool]:
        tok = self.peek()
        if self.is_keyword(tok, "NOT") or tok.kind is _Kind.MINUS:
            self.advance()
            self.enter(tok)
            inner = self.unary()
            self.depth -= 1
            return not_(inner)
        return self.primary()

    def primary(self) -> ColumnElement[bool]:
        tok = self.peek()
        if tok.kind is _Kind.LPAREN:
            self.advance()
            self.enter(tok)
            if self.peek().kind is _Kind.RPAREN:
                raise self.error(f"empty parentheses at position {tok.pos}; put a condition inside")
            inner = self.and_expr()
            if self.peek().kind is not _Kind.RPAREN:
                raise self.error(f'missing ")" to close the "(" at position {tok.pos}')
            self.advance()
            self.depth -= 1
            return inner
        if tok.kind in (_Kind.WORD, _Kind.STRING) and not self.is_keyword(tok):
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

    def count_term(self, tok: _Token) -> None:
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise self.error(
                f"has more than {MAX_FILTER_TERMS} conditions (at position {tok.pos}); simplify it"
            )

    def term(self) -> ColumnElement[bool]:
        tok = self.advance()
        self.count_term(tok)
        op = self.peek()
        if op.kind is not _Kind.OP:
            return self.search(tok)
        if tok.kind is _Kind.STRING:
            raise self.error(
                f"a quoted string cannot be a field name (position {tok.pos}); write the "
                "field name without quotes"
            )
        self.advance()
        value = self.peek()
        if value.kind not in (_Kind.WORD, _Kind.STRING) or self.is_keyword(value):
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
        return self.comparison(tok, op, value)

    def search(self, tok: _Token) -> ColumnElement[bool]:
        if tok.kind is _Kind.WORD and tok.text in ("and", "or", "not"):
            raise self.error(
                f'"{tok.text}" at position {tok.pos}: write {tok.text.upper()} in capitals '
                f'to combine conditions, or quote it ("{tok.text}") to search for the word'
            )
        if not self.schema.text_columns:
            raise self.error(
                f'"{tok.raw}" at position {tok.pos} has no operator and free-text search '
                f'is not supported here; write a comparison like field = "value"; known '
                f"fields: {self.known_fields()}"
            )
        return _text_match(self.schema.text_columns, tok.text)

    def known_fields(self) -> str:
        names = sorted(self.schema.fields) + [f"{m}.<key>" for m in sorted(self.schema.map_fields)]
        return ", ".join(names) or "(none)"

    def comparison(
        self, name_tok: _Token, op_tok: _Token, value_tok: _Token
    ) -> ColumnElement[bool]:
        name, op, value = name_tok.text, op_tok.text, value_tok.text
        spec = self.schema.fields.get(name)
        if spec is not None:
            return self.field_comparison(name, spec, op_tok, value_tok)
        head, dot, key = name.partition(".")
        compiler = self.schema.map_fields.get(head)
        if compiler is None:
            raise self.error(
                f'unknown field "{name}" at position {name_tok.pos}; known fields: '
                f"{self.known_fields()}"
            )
        if not dot:
            # `labels:env` is AIP-160's "map has key".
            if op != ":" or value == "*":
                raise self.error(
                    f'"{head}" at position {name_tok.pos} is a map: compare one key, like '
                    f'{head}.<key> = "value", or test for a key with {head}:<key>'
                )
            return compiler(value, ":", None)
        if not key:
            raise self.error(
                f'missing key after "{head}." at position {name_tok.pos}; write {head}.<key>'
            )
        if op not in ("=", "!=", ":"):
            raise self.error(
                f'"{head}.{key}" supports only =, != and :, not "{op}" at position {op_tok.pos}'
            )
        if value == "*":
            present = compiler(key, ":", None)
            return not_(present) if op == "!=" else present
        return compiler(key, op, value)

    def field_comparison(
        self, name: str, spec: FieldSpec, op_tok: _Token, value_tok: _Token
    ) -> ColumnElement[bool]:
        col, op, value = spec.column, op_tok.text, value_tok.text
        where = f"at position {value_tok.pos}"
        if value == "*":
            # `field:*` (and `= *`) tests presence; for strings an empty string counts as unset.
            if op not in ("=", "!=", ":"):
                raise self.error(f'"*" (any value) works only with :, = or !=, not "{op}" {where}')
            present = _known(col, col != "") if spec.kind is FieldKind.STRING else col.is_not(None)
            return not_(present) if op == "!=" else present
        if spec.kind is FieldKind.STRING:
            return self.string_comparison(col, op, value)
        if op == ":":
            raise self.error(
                f'field "{name}" does not support ":" at position {op_tok.pos}; use = or '
                f'another comparison ("{name}:*" tests that it is set)'
            )
        if spec.kind in (FieldKind.BOOL, FieldKind.ENUM) and op not in ("=", "!="):
            raise self.error(
                f'field "{name}" supports only = and !=, not "{op}" at position {op_tok.pos}'
            )
        if spec.kind is FieldKind.BOOL:
            if value.lower() not in ("true", "false"):
                raise self.error(f'field "{name}" expects true or false, got "{value}" {where}')
            flag = value.lower() == "true"
            # IS / IS NOT never yield NULL, so an unset flag counts as "not true".
            return col.is_(flag) if op == "=" else col.is_not(flag)
        if spec.kind is FieldKind.INT:
            if not _INT_RE.fullmatch(value) or not _INT_MIN <= int(value) <= _INT_MAX:
                raise self.error(f'field "{name}" expects a whole number, got "{value}" {where}')
            return _compare(col, op, int(value))
        if spec.kind is FieldKind.TIMESTAMP:
            stamp = _parse_timestamp(value)
            if isinstance(stamp, str):
                raise self.error(f'field "{name}": "{value}" {where} {stamp}')
            return _compare(col, op, stamp)
        allowed = {k.lower(): v for k, v in spec.enum_values.items()}
        if value.lower() not in allowed:
            raise self.error(
                f'field "{name}" must be one of {", ".join(spec.enum_values)}; got '
                f'"{value}" {where}'
            )
        return _compare(col, op, allowed[value.lower()])

    @staticmethod
    def string_comparison(
        col: SQLColumnExpression[Any], op: str, value: str
    ) -> ColumnElement[bool]:
        if op == ":":
            return _known(col, icontains(col, value.strip("*")))
        if op in ("=", "!=") and (value.startswith("*") or value.endswith("*")):
            # Wildcards only at the ends (prefix/suffix/contains), matched case-insensitively.
            core = value.removeprefix("*").removesuffix("*")
            lead = "%" if value.startswith("*") else ""
            tail = "%" if value.endswith("*") else ""
            match = _known(col, _ilike(col, f"{lead}{_escape_like(core)}{tail}"))
            return not_(match) if op == "!=" else match
        return _compare(col, op, value)


def _text_match(columns: Sequence[SQLColumnExpression[Any]], word: str) -> ColumnElement[bool]:
    return or_(*(_known(col, icontains(col, word.strip("*"))) for col in columns))


def compile_filter(
    text: str, schema: FilterSchema, *, field_name: str = "filter"
) -> ColumnElement[bool] | None:
    """Compile an AIP-160 filter to a WHERE condition; None when empty. Raises InvalidArgument."""
    _check_text(text, field_name)
    if not text.strip():
        return None
    return _Parser(_tokenize(text, field_name), schema, field_name).parse()


def compile_search(
    text: str, schema: FilterSchema, *, field_name: str = "search"
) -> ColumnElement[bool] | None:
    """Free-text search: every whitespace-separated word must occur in some text column."""
    _check_text(text, field_name)
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
    return and_(*(_text_match(schema.text_columns, word) for word in words))


# ---------------------------------------------------------------------------------------------
# order_by


def _clause(column: SQLColumnExpression[Any]) -> Any:
    unwrap = getattr(column, "__clause_element__", None)
    return unwrap() if callable(unwrap) else column


def _same_column(a: SQLColumnExpression[Any], b: SQLColumnExpression[Any]) -> bool:
    ca, cb = _clause(a), _clause(b)
    return ca is cb or (
        isinstance(ca, ClauseElement) and isinstance(cb, ClauseElement) and ca.compare(cb)
    )


def _parse_order_by(
    text: str, fields: Mapping[str, Any], field_name: str
) -> list[tuple[str, bool]]:
    """[(field, descending)] from `name, create_time desc`."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument.for_field(
            field_name, f"is too long ({len(text)} characters; at most {MAX_FILTER_LENGTH})"
        )
    allowed = f"allowed fields: {', '.join(sorted(fields))}"
    result: list[tuple[str, bool]] = []
    for number, part in enumerate(text.split(","), start=1):
        words = part.split()
        if not words:
            raise InvalidArgument.for_field(
                field_name,
                f"entry {number} is empty; write fields separated by commas, like "
                f'"{next(iter(sorted(fields)), "name")} desc"; {allowed}',
            )
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise InvalidArgument.for_field(
                field_name,
                f'entry {number} "{part.strip()}" is not "<field>" or "<field> desc"; {allowed}',
            )
        name = words[0]
        if name not in fields:
            raise InvalidArgument.for_field(
                field_name, f'unknown field "{name}" in entry {number}; {allowed}'
            )
        if any(name == seen for seen, _ in result):
            raise InvalidArgument.for_field(field_name, f'field "{name}" appears more than once')
        result.append((name, len(words) == 2 and words[1].lower() == "desc"))
    return result


@dataclass(frozen=True)
class OrderSchema:
    """Sortable fields, the default order, and the unique column that makes paging stable."""

    fields: Mapping[str, SQLColumnExpression[Any]]
    default: str
    tiebreaker: SQLColumnExpression[Any]

    def __post_init__(self) -> None:
        # A bad default is a server bug: fail when the schema is built, not on a caller's request.
        if self.default.strip():
            try:
                _parse_order_by(self.default, self.fields, "default")
            except InvalidArgument as exc:
                raise ValueError(f"OrderSchema.{exc.message}") from exc


def _order_terms(text: str, schema: OrderSchema, field_name: str) -> list[tuple[str, bool]]:
    source = text if text.strip() else schema.default
    return _parse_order_by(source, schema.fields, field_name) if source.strip() else []


def _order_clauses(terms: list[tuple[str, bool]], schema: OrderSchema) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for name, desc in terms:
        col = schema.fields[name]
        # Explicit NULL placement (PostgreSQL's default: NULL sorts last ascending) because
        # SQLite's default is the opposite.
        clauses.append(col.desc().nulls_first() if desc else col.asc().nulls_last())
    if not any(_same_column(schema.fields[name], schema.tiebreaker) for name, _ in terms):
        clauses.append(schema.tiebreaker.asc())
    return clauses


def compile_order_by(
    text: str, schema: OrderSchema, *, field_name: str = "order_by"
) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for an AIP-132 `order_by` (default when empty), tiebreaker last."""
    return _order_clauses(_order_terms(text, schema, field_name), schema)


# ---------------------------------------------------------------------------------------------
# Pagination


def resolve_page_size(value: int, *, field_name: str = "page_size") -> int:
    """0 means DEFAULT_PAGE_SIZE; above MAX_PAGE_SIZE is coerced (AIP-158); negative is refused."""
    if value < 0:
        raise InvalidArgument.for_field(
            field_name,
            f"must not be negative (got {value}); send 0 for the default of "
            f"{DEFAULT_PAGE_SIZE}, or up to {MAX_PAGE_SIZE}",
        )
    return min(value, MAX_PAGE_SIZE) if value else DEFAULT_PAGE_SIZE


def query_fingerprint(*parts: str) -> str:
    """Short stable hash of everything that defines a query, so a page token fits only it."""
    # JSON keeps the parts unambiguous (("a,b",) differs from ("a", "b")).
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:16]


def encode_page_token(offset: int, fingerprint: str) -> str:
    """Opaque url-safe token for the page starting at `offset` of the query `fingerprint`."""
    if offset < 0:
        raise ValueError(f"page offset must not be negative, got {offset}")
    payload = json.dumps({"o": offset, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str, *, field_name: str = "page_token") -> int:
    """The offset in a token from encode_page_token; 0 when empty. Raises InvalidArgument."""
    if not token:
        return 0
    garbage = f"is not a token this server issued; start again without {field_name}"
    # Not a security boundary (tokens are unsigned); these checks keep junk away from the DB.
    if len(token) > MAX_PAGE_TOKEN_LENGTH or not _TOKEN_RE.fullmatch(token):
        raise InvalidArgument.for_field(field_name, garbage)
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, RecursionError):  # bad base64, bad UTF-8 and bad JSON are all ValueError
        raise InvalidArgument.for_field(field_name, garbage) from None
    offset = data.get("o") if isinstance(data, dict) else None
    token_fingerprint = data.get("f") if isinstance(data, dict) else None
    if (
        not isinstance(offset, int)
        or isinstance(offset, bool)
        or not isinstance(token_fingerprint, str)
    ):
        raise InvalidArgument.for_field(field_name, garbage)
    if token_fingerprint != fingerprint:
        raise InvalidArgument.for_field(
            field_name,
            "does not belong to this query (filter or order_by changed); start "
            f"again without {field_name}",
        )
    if not 0 <= offset <= _MAX_OFFSET:
        raise InvalidArgument.for_field(field_name, garbage)
    return offset


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List* response."""

    items: list[T]
    next_page_token: str
    total_size: int


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
    # Validate every input before the first query, so a bad request costs no database work.
    size = resolve_page_size(page_size)
    condition = compile_filter(filter_text, filter_schema)
    search_condition = compile_search(search, filter_schema)
    terms = _order_terms(order_by, order_schema, "order_by")
    canonical_order = ",".join(f"{name} {'desc' if desc else 'asc'}" for name, desc in terms)
    fingerprint = query_fingerprint(
        *fingerprint_parts, filter_text.strip(), search.strip(), canonical_order
    )
    offset = decode_page_token(page_token, fingerprint)

    filtered = stmt.order_by(None)
    for extra in (condition, search_condition):
        if extra is not None:
            filtered = filtered.where(extra)
    # One extra row tells whether a next page exists without a second query.
    page_stmt = (
        filtered.order_by(*_order_clauses(terms, order_schema)).offset(offset).limit(size + 1)
    )
    items = list((await session.scalars(page_stmt)).all())
    has_more = len(items) > size
    del items[size:]
    if has_more or (offset > 0 and not items):
        total = await session.scalar(select(func.count()).select_from(filtered.subquery()))
        total_size = int(total or 0)
    else:
        total_size = offset + len(items)  # this page reached the end: the count is known
    next_token = encode_page_token(offset + size, fingerprint) if has_more else ""
    return Page(items=items, next_page_token=next_token, total_size=total_size)


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
