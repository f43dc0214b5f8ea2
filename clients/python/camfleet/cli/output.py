"""What commands print: a table by default, or `-o json|yaml|wide`.

Contract for command modules:

    COLUMNS = [Column("NAME", lambda c: c.name), Column("NODE", lambda c: c.node_id, wide=True)]
    out = state.printer(ctx)
    out.items(resp.cameras, COLUMNS)      # a list: a table, or a JSON/YAML list of objects
    out.item(resp.camera, COLUMNS)        # one: a two-column table, or a JSON/YAML object
    out.done("Deleted camera lobby.", {"deleted": [camera_id]})   # an action's outcome
    out.note("Showing 50 of 120 cameras; pass --limit.")          # stderr, never in the data

JSON and YAML come from the protobuf messages (field names as in the .proto, enums as their
names, every field present), so they are stable for scripts; tables are for people (short enum
names, times in UTC) and may change. `wide` adds the columns marked wide=True.
Helpers `enum_name`, `when`, `labels`, `size` format values for columns.
"""

from __future__ import annotations

import enum
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

# Command modules import Column and the helpers at start-up, `camfleet --help` included: rich's
# console and tables, YAML and protobuf's JSON are imported by what prints, when there is
# something to print.
if TYPE_CHECKING:
    from google.protobuf.message import Message
    from google.protobuf.timestamp_pb2 import Timestamp
    from rich.table import Table


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    WIDE = "wide"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], object]
    wide: bool = False


def to_dict(message: Message) -> dict[str, Any]:
    """A message as plain data: .proto field names, enum names, every field present."""
    from google.protobuf import json_format

    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )


def _snake_upper(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper() + "_"


def enum_name(message: Message, field_name: str) -> str:
    """A message's enum field as a short name: CAMERA_STATUS_ONLINE -> ONLINE, '-' when
    unspecified."""
    enum_type = message.DESCRIPTOR.fields_by_name[field_name].enum_type
    number = getattr(message, field_name)
    if enum_type is None:
        return str(number)
    value = enum_type.values_by_number.get(number)
    if value is None:
        return str(number)
    if value.number == 0:
        return "-"
    return value.name.removeprefix(_snake_upper(enum_type.name))


def when(ts: Timestamp | None) -> str:
    """A timestamp as 2026-12-06 03:04:05 (UTC), or '-' when unset."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return "-"
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")


def labels(mapping: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(mapping.items())) or "-"


def size(n: int) -> str:
    """Bytes in binary units: 1.5 GiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _table(*, headers: bool) -> Table:
    """An empty rich table: a list's (a header underlined, no border) or one item's (none)."""
    from rich import box
    from rich.table import Table

    if headers:
        return Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    return Table(box=None, show_header=False, pad_edge=False)


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Printer:
    """Prints data to stdout in the chosen format, notes to stderr."""

    def __init__(self, fmt: OutputFormat) -> None:
        from rich.console import Console

        self.format = fmt
        tty = sys.stdout.isatty()
        # Piped output is not wrapped at 80 columns: a pipe has no width.
        self.console = Console(width=None if tty else 250, soft_wrap=not tty, highlight=False)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def structured(self) -> bool:
        return self.format in (OutputFormat.JSON, OutputFormat.YAML)

    def data(self, value: object) -> None:
        """Plain data (dicts, lists) as JSON or YAML."""
        if self.format == OutputFormat.YAML:
            import yaml

            sys.stdout.write(yaml.safe_dump(value, sort_keys=False, allow_unicode=True))
        else:
            sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def _emit(self, renderable: object) -> None:
        """Print a table without the padding that would trail each line."""
        with self.console.capture() as captured:
            self.console.print(renderable)
        text = "\n".join(line.rstrip() for line in captured.get().splitlines())
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def _columns(self, columns: Sequence[Column]) -> list[Column]:
        wide = self.format == OutputFormat.WIDE
        return [c for c in columns if wide or not c.wide]

    def items(self, messages: Iterable[Message], columns: Sequence[Column]) -> None:
        rows = list(messages)
        if self.structured:
            self.data([to_dict(m) for m in rows])
            return
        table = _table(headers=True)
        chosen = self._columns(columns)
        for column in chosen:
            table.add_column(column.header, overflow="fold")
        for message in rows:
            table.add_row(*(_cell(c.value(message)) for c in chosen))
        if rows:
            self._emit(table)
        else:
            self.note("Nothing found.")

    def item(self, message: Message, columns: Sequence[Column]) -> None:
        if self.structured:
            self.data(to_dict(message))
            return
        table = _table(headers=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for column in self._columns(columns):
            table.add_row(column.header, _cell(column.value(message)))
        self._emit(table)

    def done(self, text: str, data: object = None) -> None:
        """An action's outcome: a sentence for people, `data` for -o json|yaml."""
        if self.structured:
            self.data(data if data is not None else {})
        else:
            self.console.print(text, markup=False)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """A table of plain values (for data that is not a protobuf message)."""
        table = _table(headers=True)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        self._emit(table)

    def note(self, text: str) -> None:
        """A remark for people (stderr), never part of the data."""
        self.err.print(text, markup=False)
