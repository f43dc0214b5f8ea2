"""Tests of server.common.listing: filters, order_by and paging, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    create_engine,
    exists,
    select,
    text,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from server.common.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    FieldKind,
    FieldSpec,
    FilterSchema,
    OrderSchema,
    Page,
    compile_filter,
    compile_order_by,
    compile_search,
    decode_page_token,
    encode_page_token,
    fetch_page,
    icontains,
    query_fingerprint,
    resolve_page_size,
)
from server.errors import InvalidArgument

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Dialects for compiling SQL without connecting anywhere.
SQLITE_DIALECT = create_engine("sqlite://").dialect
PG_DIALECT = create_engine(PG_ADMIN_URL).dialect


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


# ---------------------------------------------------------------------------------------------
# Database fixtures: every query test runs on SQLite and on PostgreSQL.


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session, session.begin():
        # Items first: PostgreSQL enforces the labels' foreign key.
        session.add_all(seed_items())
        await session.flush()
        session.add_all(seed_labels())


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("listing") / "listing.sqlite"
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        await _seed(engine)
        yield async_sessionmaker(engine, expire_on_commit=False)
        await engine.dispose()
        return

    db_name = f"camfleet_listing_{secrets.token_hex(6)}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    except (OSError, OperationalError) as exc:
        await admin.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 not reachable: {exc}")
    engine = create_async_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}")
    try:
        await _seed(engine)
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        await admin.dispose()


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


# ---------------------------------------------------------------------------------------------
# Which rows a filter returns


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("", ALL_IDS),
        ("   ", ALL_IDS),
        # enums: short or full name, any case; != keeps the others
        ("status = ONLINE", ["i1", "i3", "i6", "i7"]),
        ("status = camera_status_online", ["i1", "i3", "i6", "i7"]),
        ("status != ONLINE", ["i2", "i4", "i5"]),
        # bools and ints
        ("active = true", ["i1", "i2", "i5", "i6"]),
        ("active = FALSE", ["i3", "i4", "i7"]),
        ("active != true", ["i3", "i4", "i7"]),
        ("count > 10", ["i2", "i3", "i7"]),
        ("count <= 0", ["i4", "i5"]),
        ("count = -3", ["i5"]),
        ("count>=50 count<500", ["i3"]),
        # AIP-160: OR binds tighter than AND, and juxtaposition is AND
        ("status = ONLINE AND active = true OR count = 500", ["i1", "i6"]),
        ("status = ONLINE active = true OR count = 500", ["i1", "i6"]),
        ("(status = ONLINE AND active = true) OR count = 500", ["i1", "i2", "i6"]),
        ("count = 5 OR count = 7 OR count = 12", ["i1", "i6", "i7"]),
        # NOT and -, including rows where the field is unset (i2 has no location)
        ("NOT status = ONLINE", ["i2", "i4", "i5"]),
        ("-active = true", ["i3", "i4", "i7"]),
        ("NOT location = Garden", ["i1", "i2", "i3", "i5", "i6"]),
        ('location != "Garden"', ["i1", "i2", "i3", "i5", "i6"]),
        ("NOT (status = ONLINE OR status = OFFLINE)", ["i4"]),
        ("NOT NOT active = true", ["i1", "i2", "i5", "i6"]),
        # strings: exact, wildcards at the ends (case-insensitive), ':' contains
        ('name = "garage"', ["i6"]),
        ('name = "Garage"', []),
        ('name = "lobby*"', ["i1", "i5"]),
        ('name = "*YARD"', ["i4", "i7"]),
        ('name = "*ob*"', ["i1", "i5"]),
        ('name != "lobby*"', ["i2", "i3", "i4", "i6", "i7"]),
        ("name:door", []),
        ("name:CAMERA", ["i2"]),
        ("name > 'b' name < 'c'", ["i4", "i7"]),
        # presence: an empty string counts as unset
        ("location:*", ["i1", "i3", "i4", "i5", "i7"]),
        ("NOT location:*", ["i2", "i6"]),
        ("location != *", ["i2", "i6"]),
        # timestamps, with Z or an offset (12:00Z == 14:00+02:00)
        ('created >= "2026-05-01T00:00:00Z"', ["i5", "i6", "i7"]),
        ('created < "2026-05-01T14:00:00+02:00"', ["i1", "i2", "i3", "i4"]),
        ('created <= "2026-05-01T14:00:00+02:00"', ["i1", "i2", "i3", "i4", "i5"]),
        ('created = "2026-05-01T12:00:00.000Z"', ["i5"]),
        # map field
        ("labels.env = prod", ["i1", "i4"]),
        ("labels.env:*", ["i1", "i2", "i4"]),
        ("labels:floor", ["i1"]),
        ("labels.env:PRO", ["i1", "i4"]),
        ("labels.env != prod", ["i2", "i3", "i5", "i6", "i7"]),
        ("NOT labels.env:*", ["i3", "i5", "i6", "i7"]),
        ("labels.env = prod AND status = ERROR", ["i4"]),
        # free text over name and location
        ("lobby", ["i1", "i5"]),
        ("garden OR garage", ["i4", "i6", "i7"]),
        ("lobby status = OFFLINE", ["i5"]),
        ('"lobby 2"', ["i5"]),
        # user text never acts as a LIKE pattern
        ('"50%"', ["i3"]),
        ("name:50%", ["i3"]),
        ('name:"back_yard"', ["i4"]),
        ('name = "back_*"', ["i4"]),
        (r'name:"\\"', []),
        # values are bound parameters, so quotes are just characters
        ("name = \"x' OR '1'='1\"", []),
    ],
)
async def test_filter_selects_rows(
    sessions: async_sessionmaker[AsyncSession], filter_text: str, expected: list[str]
) -> None:
    assert await ids(sessions, filter_text) == expected


async def test_search_field_matches_every_word(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    page = await list_items(sessions, search="  LOBBY  2 ")
    assert [item.id for item in page.items] == ["i5"]
    page = await list_items(sessions, "active = true", search="lobby")
    assert [item.id for item in page.items] == ["i1", "i5"]


# ---------------------------------------------------------------------------------------------
# What a caller is told about a bad filter


def filter_error(filter_text: str, schema: FilterSchema = FILTER_SCHEMA) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        compile_filter(filter_text, schema)
    return info.value


@pytest.mark.parametrize(
    ("filter_text", "fragments"),
    [
        (
            'nme = "x"',
            [
                'unknown field "nme" at position 0',
                "known fields: active, count, created, id, location, name, status, labels.<key>",
            ],
        ),
        ("name = ", ['expected a value after "=" at position 5', "the end of the filter"]),
        ("name = AND", ['expected a value after "=" at position 5', 'quote it: "AND"']),
        ('name = "abc', ["unterminated string starting at position 7"]),
        ("name = 'abc\\'", ["unterminated string starting at position 7"]),
        ("status = BROKEN", ["must be one of ONLINE, OFFLINE, ERROR", '"BROKEN" at position 9']),
        ("status > ONLINE", ['supports only = and !=, not ">" at position 7']),
        ("count = 1.5", ["expects a whole number", "position 8"]),
        ("count = 99999999999999999999", ["expects a whole number"]),
        ('created > "2026-11-01T00:00:00"', ["has no time zone", "Z or an offset"]),
        ('created > "2026-13-01T00:00:00Z"', ["is not a valid date and time"]),
        ("created > yesterday", ["RFC 3339", '"2026-11-01T00:00:00Z"']),
        ("active < true", ['supports only = and !=, not "<"']),
        ("active = yes", ['expects true or false, got "yes"']),
        ("active:true", ['does not support ":"']),
        ("(name = x", ['missing ")" to close the "(" at position 0']),
        ("name = x)", ['unexpected ")" at position 8']),
        ("()", ["empty parentheses at position 0"]),
        ("lobby AND", ['expected a condition after "AND" at position 6', "the end of the filter"]),
        ("OR lobby", ['found "OR" at position 0', "to search for the word OR, quote it"]),
        ("name = x and active = true", ['"and" at position 9', "write AND in capitals"]),
        ("name ! x", ['unexpected "!" at position 5', "!="]),
        ('"name" = x', ["quoted string cannot be a field name (position 0)"]),
        ("labels = x", ['"labels" at position 0 is a map', 'labels.<key> = "value"']),
        ("labels. = x", ['missing key after "labels."']),
        ("labels.env > a", ['supports only =, != and :, not ">" at position 11']),
        ("count < *", ['"*" (any value) works only with :, = or !=']),
        ("(" * 33 + "name = x" + ")" * 33, ["nests more than 32 levels deep at position 32"]),
        ("NOT " * 33 + "name = x", ["nests more than 32 levels deep"]),
        (" ".join(["name = x"] * 65), ["more than 64 conditions"]),
        ("x" * 2001, ["too long (2001 characters; at most 2000)"]),
        ("name = \x00", ["control character U+0000 at position 7"]),
        ("name = a\x1bb", ["control character U+001B at position 8"]),
    ],
)
def test_filter_errors_say_what_and_where(filter_text: str, fragments: list[str]) -> None:
    error = filter_error(filter_text)
    assert error.message.startswith("filter: ")
    assert [v.field for v in error.violations] == ["filter"]
    for fragment in fragments:
        assert fragment in error.message


def test_bare_words_need_text_columns() -> None:
    error = filter_error("lobby", NO_TEXT_SCHEMA)
    assert '"lobby" at position 0 has no operator' in error.message
    assert "free-text search is not supported here" in error.message
    assert "known fields: name" in error.message


def test_error_names_the_request_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_filter("nope = 1", FILTER_SCHEMA, field_name="query.filter")
    assert info.value.violations[0].field == "query.filter"
    assert info.value.message.startswith("query.filter: unknown field")


def test_whitespace_and_limits_are_accepted_at_the_edge() -> None:
    assert compile_filter("\tname = x\n", FILTER_SCHEMA) is not None
    assert compile_filter("(" * 32 + "name = x" + ")" * 32, FILTER_SCHEMA) is not None
    assert compile_filter(" ".join(["name = x"] * 64), FILTER_SCHEMA) is not None
    assert compile_filter("", FILTER_SCHEMA) is None
    assert compile_search(" \t", FILTER_SCHEMA) is None


def test_values_are_bound_parameters() -> None:
    expr = compile_filter('name = "Robert\'); DROP TABLE x;--" lobby', FILTER_SCHEMA)
    assert expr is not None
    for dialect in (SQLITE_DIALECT, PG_DIALECT):
        compiled = expr.compile(dialect=dialect)
        assert "DROP TABLE" not in str(compiled)
        assert "lobby" not in str(compiled)
        assert "Robert'); DROP TABLE x;--" in compiled.params.values()


def test_timestamps_bind_aware_utc_datetimes() -> None:
    expr = compile_filter('created >= "2026-11-01T02:30:00.1234567+02:00"', FILTER_SCHEMA)
    assert expr is not None
    values = [v for v in expr.compile().params.values() if isinstance(v, datetime)]
    assert values == [datetime(2026, 11, 1, 0, 30, 0, 123456, tzinfo=UTC)]


# ---------------------------------------------------------------------------------------------
# order_by


async def test_order_by_sorts_and_breaks_ties(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    page = await list_items(sessions, order_by="count desc")
    assert [i.id for i in page.items] == ["i2", "i3", "i7", "i6", "i1", "i4", "i5"]
    # Ties (the two "Garden"s) by id; NULL last ascending and first descending on both databases.
    page = await list_items(sessions, order_by=" location ASC ")
    assert [i.id for i in page.items] == ["i6", "i4", "i7", "i1", "i3", "i5", "i2"]
    page = await list_items(sessions, order_by="location desc, count")
    assert [i.id for i in page.items] == ["i2", "i5", "i3", "i1", "i4", "i7", "i6"]
    page = await list_items(sessions, order_by="")  # default: name
    assert [i.name for i in page.items][:3] == ["50% off sign", "Camera 500", "Lobby 2"]


def test_order_by_appends_tiebreaker_once() -> None:
    assert len(compile_order_by("name", ORDER_SCHEMA)) == 2
    assert len(compile_order_by("count, name desc", ORDER_SCHEMA)) == 3
    assert len(compile_order_by("id desc", ORDER_SCHEMA)) == 1
    sql = ", ".join(str(c) for c in compile_order_by("", ORDER_SCHEMA))
    assert sql == "listing_items.name ASC NULLS LAST, listing_items.id ASC"


@pytest.mark.parametrize(
    ("order_by", "fragment"),
    [
        ("nope", 'unknown field "nope" in entry 1'),
        ("name, name desc", 'field "name" appears more than once'),
        ("name sideways", 'entry 1 "name sideways" is not "<field>" or "<field> desc"'),
        ("name desc asc", "is not"),
        ("name,,count", "entry 2 is empty"),
        ("name,", "entry 2 is empty"),
        ("Name", 'unknown field "Name"'),
    ],
)
def test_order_by_errors(order_by: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_order_by(order_by, ORDER_SCHEMA)
    assert info.value.violations[0].field == "order_by"
    assert fragment in info.value.message
    if "appears more than once" not in fragment:
        assert "allowed fields: count, created, id, location, name" in info.value.message


def test_order_schema_rejects_a_bad_default() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        OrderSchema(fields={"name": Item.name}, default="nme", tiebreaker=Item.id)


# ---------------------------------------------------------------------------------------------
# Paging


async def test_paging_returns_every_row_once_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[str] = []
    tokens: list[str] = []
    token = ""
    for _ in range(10):
        page = await list_items(sessions, order_by="count", page_size=3, page_token=token)
        assert page.total_size == 7
        seen += [item.id for item in page.items]
        token = page.next_page_token
        tokens.append(token)
        if not token:
            break
    assert seen == ["i5", "i4", "i1", "i6", "i7", "i3", "i2"]
    assert [bool(t) for t in tokens] == [True, True, False]


async def test_paging_with_a_filter_counts_only_matches(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await list_items(sessions, "active = true", page_size=2)
    assert ([i.id for i in first.items], first.total_size) == (["i1", "i2"], 4)
    second = await list_items(
        sessions, " active = true ", page_size=2, page_token=first.next_page_token
    )
    assert ([i.id for i in second.items], second.total_size) == (["i5", "i6"], 4)
    assert second.next_page_token == ""


async def test_exact_multiple_of_page_size_ends_cleanly(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    page = await list_items(sessions, "status = ONLINE", page_size=4)
    assert (len(page.items), page.total_size, page.next_page_token) == (4, 4, "")


@pytest.mark.parametrize(
    "changes",
    [
        {"filter_text": "active = false"},
        {"order_by": "count desc"},
        {"search": "lobby"},
    ],
)
async def test_token_is_rejected_for_a_different_query(
    sessions: async_sessionmaker[AsyncSession], changes: dict[str, Any]
) -> None:
    first = await list_items(sessions, "active = true", page_size=2)
    kwargs: dict[str, Any] = {"filter_text": "active = true", "order_by": "id", **changes}
    with pytest.raises(InvalidArgument) as info:
        await list_items(sessions, page_size=2, page_token=first.next_page_token, **kwargs)
    assert info.value.violations[0].field == "page_token"
    assert "does not belong to this query (filter or order_by changed)" in info.value.message
    assert "start again without page_token" in info.value.message


async def test_equivalent_order_by_keeps_the_token_valid(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await list_items(sessions, order_by="count", page_size=3)
    second = await list_items(
        sessions, order_by="count ASC", page_size=3, page_token=first.next_page_token
    )
    assert [i.id for i in second.items] == ["i6", "i7", "i3"]


class ExplodingSession:
    """Stands in for AsyncSession: any database use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"touched the database ({name}) before validating the request")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filter_text": "nope = 1"},
        {"order_by": "nope"},
        {"page_size": -1},
        {"page_token": "garbage!"},
        {"search": "\x00"},
    ],
)
async def test_fetch_page_validates_before_touching_the_database(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "page_size": 10,
        "page_token": "",
        "filter_text": "",
        "order_by": "",
        "filter_schema": FILTER_SCHEMA,
        "order_schema": ORDER_SCHEMA,
    } | kwargs
    with pytest.raises(InvalidArgument):
        await fetch_page(ExplodingSession(), select(Item), **args)  # type: ignore[arg-type]


def test_page_size_defaults_and_coerces() -> None:
    assert resolve_page_size(0) == DEFAULT_PAGE_SIZE == 50
    assert resolve_page_size(7) == 7
    assert resolve_page_size(5000) == MAX_PAGE_SIZE == 1000
    with pytest.raises(InvalidArgument, match="page_size: must not be negative"):
        resolve_page_size(-1)


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


# ---------------------------------------------------------------------------------------------
# Fuzzing: any input is either a valid query or an InvalidArgument, never a crash.


@pytest.fixture(scope="module")
def sync_sqlite() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add_all(seed_items())
        session.flush()
        session.add_all(seed_labels())
    yield engine
    engine.dispose()


def _check_compiles_and_runs(filter_text: str, engine: Engine) -> None:
    try:
        expr = compile_filter(filter_text, FILTER_SCHEMA)
    except InvalidArgument as exc:
        assert exc.violations and exc.violations[0].field == "filter"
        return
    if expr is None:
        return
    expr.compile(dialect=PG_DIALECT)
    with engine.connect() as conn:
        conn.execute(select(Item.id).where(expr)).all()


FUZZ_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ_SETTINGS
@given(st.text(max_size=300))
def test_fuzz_any_text(sync_sqlite: Engine, filter_text: str) -> None:
    _check_compiles_and_runs(filter_text, sync_sqlite)


_quoted = st.text(max_size=12).map(lambda s: json.dumps(s, ensure_ascii=False))
# fmt: off
_FUZZ_WORDS = [
    "name", "location", "status", "active", "count", "created", "labels", "labels.env",
    "labels.", "nme", "id", "AND", "OR", "NOT", "-", "(", ")", "=", "!=", "<", "<=", ">",
    ">=", ":", "*", "!", "true", "FALSE", "ONLINE", "camera_status_online", "lobby*",
    "*yard", "50%", "1.5", "-3", "99999999999999999999", "and", '"', "'", "\\",
    '"2026-05-01T12:00:00Z"', '"2026-05-01T14:00:00+02:00"', '"2026-05-01T12:00:00"',
    '"0001-01-01T00:00:00+01:00"', '"9999-12-31T23:59:59-01:00"', "\x00", "\t", "\n",
]
# fmt: on
_fuzz_token = st.one_of(
    st.sampled_from(_FUZZ_WORDS),
    _quoted,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet="abcXYZ_%*.-019", min_size=1, max_size=8),
)


@FUZZ_SETTINGS
@given(st.lists(st.tuples(_fuzz_token, st.sampled_from(["", " ", "  "])), max_size=40))
def test_fuzz_grammar_like(sync_sqlite: Engine, parts: list[tuple[str, str]]) -> None:
    _check_compiles_and_runs("".join(token + gap for token, gap in parts), sync_sqlite)


@FUZZ_SETTINGS
@given(st.text(max_size=200))
def test_fuzz_order_by_and_tokens(value: str) -> None:
    for call in (
        lambda: compile_order_by(value, ORDER_SCHEMA),
        lambda: decode_page_token(value, "fp"),
        lambda: compile_search(value, FILTER_SCHEMA),
    ):
        with contextlib.suppress(InvalidArgument):
            call()
