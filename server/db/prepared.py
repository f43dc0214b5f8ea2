"""Statements compiled once and run on a DB-API connection (server.db.fast_reads), with the
parameter and result processing SQLAlchemy's Core would apply, so the values are the same."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine.interfaces import Dialect

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Prepared:
    """A statement compiled for the SQLite dialect: its parameters in order (each with the value
    bound in the statement and the type's bind processor) and its result processors."""

    sql: str
    params: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    named: bool = False  # the dialect's parameters are by name (psycopg), not position

    def named_values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`values` by name."""
        return dict(zip((name for name, _, _ in self.params), self.values(params), strict=True))

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The DB-API parameters: the caller's values, else the bound ones, as the types send
        them (e.g. a UTC timestamp as its text form)."""
        return tuple(
            value if process is None else process(value)
            for value, process in (
                (params.get(name, bound), process) for name, bound, process in self.params
            )
        )

    def process(self, fetched: Sequence[Row]) -> list[Row]:
        """The fetched rows with the result processors applied (as Core would)."""
        processors = self.processors
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in fetched
        ]


def prepare(statement: Select[Any], dialect: Dialect) -> Prepared | None:
    """The prepared form, or None for a statement whose SQL depends on its values (an
    expanding IN): Core runs those."""
    compiled = statement.compile(dialect=dialect)
    sql = str(compiled)
    if "POSTCOMPILE" in sql:
        return None
    bound = compiled.params
    binds: dict[str, Callable[[Any], Any] | None] = {}
    for name, process in compiled._bind_processors.items():
        if not callable(process):
            return None  # a tuple type's per-element processors
        binds[name] = process
    names = compiled.positiontup
    return Prepared(
        sql,
        tuple((name, bound.get(name), binds.get(name)) for name in names or bound),
        tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ),
        named=names is None,
    )
