"""What a collection lets callers filter on, and what one `field op value` means in SQL.

The filter parser (filter.py) finds the comparisons; this module turns each into a SQLAlchemy
Core condition with bound parameters that behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from sqlalchemy import ColumnElement, SQLColumnExpression, String, and_, func, literal, not_, or_

from server.common.listing.lexer import Token
from server.errors import InvalidArgument

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1
_LIKE_ESCAPE: Final = "\\"
_INT_RE: Final = re.compile(r"-?[0-9]+")
_TIMESTAMP_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)


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


def text_match(columns: Sequence[SQLColumnExpression[Any]], word: str) -> ColumnElement[bool]:
    """Free text: `word` (taken literally, `*` at its ends dropped) occurs in some column."""
    return or_(*(_known(col, icontains(col, word.strip("*"))) for col in columns))


class Comparisons:
    """The conditions of one filter's comparisons; errors name the request field."""

    def __init__(self, schema: FilterSchema, field_name: str) -> None:
        self.schema = schema
        self.field_name = field_name

    def error(self, description: str) -> InvalidArgument:
        """The InvalidArgument for a problem in this filter."""
        return InvalidArgument.for_field(self.field_name, description)

    def known_fields(self) -> str:
        """The fields a caller may name, for error messages."""
        names = sorted(self.schema.fields) + [f"{m}.<key>" for m in sorted(self.schema.map_fields)]
        return ", ".join(names) or "(none)"

    def comparison(self, name_tok: Token, op_tok: Token, value_tok: Token) -> ColumnElement[bool]:
        """The condition of `name op value`, on a field or a map field's key."""
        name, op, value = name_tok.text, op_tok.text, value_tok.text
        spec = self.schema.fields.get(name)
        if spec is not None:
            return self._field_comparison(name, spec, op_tok, value_tok)
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

    def _field_comparison(
        self, name: str, spec: FieldSpec, op_tok: Token, value_tok: Token
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
            return self._string_comparison(col, op, value)
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
    def _string_comparison(
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
