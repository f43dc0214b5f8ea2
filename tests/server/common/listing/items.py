"""A small collection to list in the listing tests: its table, its filter and order schemas, its
rows, and `list_items`, which pages it the way a List RPC does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    ForeignKey,
    Integer,
    String,
    create_engine,
    exists,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    OrderSchema,
    Page,
    compile_filter,
    fetch_page,
    icontains,
)
from server.errors import InvalidArgument

# Dialects for compiling SQL without connecting anywhere.
SQLITE_DIALECT = create_engine("sqlite://").dialect
PG_DIALECT = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres").dialect


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "listing_items"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean)
    count: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ItemLabel(Base):
    __tablename__ = "listing_item_labels"

    item_id: Mapped[str] = mapped_column(
        ForeignKey("listing_items.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(String(63))


def labels_filter(key: str, op: str, value: str | None) -> ColumnElement[bool]:
    """labels.<key> as an EXISTS over the child table, the way services are meant to do it."""
    match = select(ItemLabel.item_id).where(ItemLabel.item_id == Item.id, ItemLabel.key == key)
    if value is None:
        return exists(match)
    if op == ":":
        return exists(match.where(icontains(ItemLabel.value, value)))
    same = exists(match.where(ItemLabel.value == value))
    return ~same if op == "!=" else same


STATUS = {
    "ONLINE": "online",
    "OFFLINE": "offline",
    "ERROR": "error",
    "CAMERA_STATUS_ONLINE": "online",
}
FILTER_SCHEMA = FilterSchema(
    fields={
        "id": FieldSpec(Item.id, FieldKind.STRING),
        "name": FieldSpec(Item.name, FieldKind.STRING),
        "location": FieldSpec(Item.location, FieldKind.STRING),
        "status": FieldSpec(Item.status, FieldKind.ENUM, STATUS),
        "active": FieldSpec(Item.active, FieldKind.BOOL),
        "count": FieldSpec(Item.count, FieldKind.INT),
        "created": FieldSpec(Item.created, FieldKind.TIMESTAMP),
    },
    text_columns=(Item.name, Item.location),
    map_fields={"labels": labels_filter},
)
NO_TEXT_SCHEMA = FilterSchema(fields={"name": FieldSpec(Item.name, FieldKind.STRING)})
ORDER_SCHEMA = OrderSchema(
    fields={
        "id": Item.id,
        "name": Item.name,
        "location": Item.location,
        "count": Item.count,
        "created": Item.created,
    },
    default="name",
    tiebreaker=Item.id,
)


def ts(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value).astimezone(UTC)


# (id, name, location, status, active, count, created)
ROWS: list[tuple[str, str, str | None, str, bool, int, str]] = [
    ("i1", "lobby-cam", "Lobby", "online", True, 5, "2026-01-01T00:00:00Z"),
    ("i2", "Camera 500", None, "offline", True, 500, "2026-02-01T00:00:00Z"),
    ("i3", "50% off sign", "Shop", "online", False, 50, "2026-03-01T00:00:00Z"),
    ("i4", "back_yard", "Garden", "error", False, 0, "2026-04-01T00:00:00Z"),
    ("i5", "Lobby 2", "lobby", "offline", True, -3, "2026-05-01T12:00:00Z"),
    ("i6", "garage", "", "online", True, 7, "2026-06-01T00:00:00Z"),
    ("i7", "back-yard", "Garden", "online", False, 12, "2026-07-01T00:00:00Z"),
]
LABELS = {"i1": {"env": "prod", "floor": "1"}, "i2": {"env": "dev"}, "i4": {"env": "prod"}}
ALL_IDS = [row[0] for row in ROWS]


def seed_items() -> list[Item]:
    return [
        Item(id=i, name=n, location=loc, status=st_, active=a, count=c, created=ts(cr))
        for i, n, loc, st_, a, c, cr in ROWS
    ]


def seed_labels() -> list[ItemLabel]:
    return [
        ItemLabel(item_id=item_id, key=key, value=value)
        for item_id, labels in LABELS.items()
        for key, value in labels.items()
    ]


async def list_items(
    sessions: async_sessionmaker[AsyncSession],
    filter_text: str = "",
    order_by: str = "id",
    *,
    page_size: int = 100,
    page_token: str = "",
    search: str = "",
) -> Page[Item]:
    async with sessions() as session:
        return await fetch_page(
            session,
            select(Item),
            page_size=page_size,
            page_token=page_token,
            filter_text=filter_text,
            order_by=order_by,
            filter_schema=FILTER_SCHEMA,
            order_schema=ORDER_SCHEMA,
            fingerprint_parts=("items",),
            search=search,
        )


async def ids(sessions: async_sessionmaker[AsyncSession], filter_text: str) -> list[str]:
    return [item.id for item in (await list_items(sessions, filter_text)).items]


def filter_error(filter_text: str, schema: FilterSchema = FILTER_SCHEMA) -> InvalidArgument:
    """What compile_filter tells a caller about `filter_text` (which must be refused)."""
    with pytest.raises(InvalidArgument) as info:
        compile_filter(filter_text, schema)
    return info.value


def assert_filter_error(error: InvalidArgument, fragments: list[str]) -> None:
    """The error names the request field `filter` and says each of `fragments`."""
    assert error.message.startswith("filter: ")
    assert [v.field for v in error.violations] == ["filter"]
    for fragment in fragments:
        assert fragment in error.message


# Hypothesis settings of the fuzz tests: any input is a valid query or an InvalidArgument.
FUZZ_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
