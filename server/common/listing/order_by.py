"""AIP-132 `order_by`: the sortable fields of a collection and the ORDER BY they make.

A unique tiebreaker always ends the ordering so that pages neither repeat nor skip rows, and NULLs
are placed explicitly so that SQLite and PostgreSQL sort alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, ColumnElement, SQLColumnExpression

from server.common.listing.lexer import check_length
from server.errors import InvalidArgument


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
    check_length(text, field_name)
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


def order_terms(text: str, schema: OrderSchema, field_name: str) -> list[tuple[str, bool]]:
    """[(field, descending)] of `text`, or of the schema's default when `text` is empty."""
    source = text if text.strip() else schema.default
    return _parse_order_by(source, schema.fields, field_name) if source.strip() else []


def order_clauses(terms: list[tuple[str, bool]], schema: OrderSchema) -> list[ColumnElement[Any]]:
    """ORDER BY clauses of `terms`, with the tiebreaker last unless it is already there."""
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
    return order_clauses(order_terms(text, schema, field_name), schema)
