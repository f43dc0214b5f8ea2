"""Generated and malformed requests against every RPC: the server never answers UNKNOWN, INTERNAL
or UNAVAILABLE for a caller's mistake, and a refused mutation changes nothing.

Requests are built by hypothesis from each message's descriptor (so new RPCs and fields are
fuzzed without touching this file), salted with hostile strings, extreme numbers, unknown enum
values, out-of-range timestamps and oversized lists. Raw byte payloads and valid messages of the
wrong type test the decoding path.

The server runs on the session's event loop, so the property tests run in a worker thread with a
blocking gRPC channel: a blocking call on the loop's own thread would deadlock the server.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
import pytest
from camfleet.v1 import (
    api_token_pb2,
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    common_pb2,
    user_pb2,
)
from google.protobuf import (
    duration_pb2,
    field_mask_pb2,
    message_factory,
    text_format,
    timestamp_pb2,
)
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.auth.permissions import RPC_RULES, Access
from tests.conftest import PlatformFactory
from tests.support.platform import Metadata, Platform, bearer, mask
from tests.support.rpcs import RPCS, Rpc, call_rpc

# Statuses that are never the answer to a caller's mistake.
BAD_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.DATA_LOSS,
    }
)
CALL_TIMEOUT = 30.0
# A valid watch (server streaming) stays open until something happens: a refusal comes at once,
# so waiting this long for the first answer is enough, and DEADLINE_EXCEEDED means "accepted".
STREAM_FIRST_ANSWER_TIMEOUT = 0.5


def invoke(
    channel: grpc.Channel, rpc: Rpc, payload: object, metadata: Metadata, *, raw: bool = False
) -> None:
    """Call `rpc` with a message (or raw bytes) the way its streaming kind needs; raises
    grpc.RpcError with the status. Server streams are read to their first answer."""
    serialize = (lambda b: b) if raw else rpc.request.SerializeToString
    deserialize = (lambda b: b) if raw else rpc.response.FromString
    if not rpc.descriptor.server_streaming:
        call = channel.unary_unary(
            rpc.name, request_serializer=serialize, response_deserializer=deserialize
        )
        call(payload, metadata=metadata, timeout=CALL_TIMEOUT)
        return
    stream = channel.unary_stream(
        rpc.name, request_serializer=serialize, response_deserializer=deserialize
    )
    responses = stream(payload, metadata=metadata, timeout=STREAM_FIRST_ANSWER_TIMEOUT)
    try:
        next(responses, None)
    except grpc.RpcError as err:
        if err.code() is not grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    finally:
        responses.cancel()


# Examples per RPC; fewer where most examples cost an argon2 hash or verification.
EXAMPLES_PER_RPC = 40
EXAMPLES_SLOW = {
    "/camfleet.v1.AuthService/Login": 10,
    "/camfleet.v1.AuthService/Logout": 6,
    "/camfleet.v1.UserService/CreateUser": 20,
    "/camfleet.v1.UserService/ChangePassword": 20,
}
EXAMPLES_RAW = 80
# The property tests make thousands of calls: on a loaded two-core machine (CI 2026-12-06) more
# than the default three minutes.
MANY_CALLS = pytest.mark.timeout(600)
# Run these last so the resources in the pools survive for the other RPCs.
DESTRUCTIVE = ("Delete", "Batch", "Revoke")
# Left out of the admin fuzz on the session's shared plane: a generated request that happens to
# be valid would change how the whole plane behaves for every other test on it (UpdateSettings:
# login limits and allowlist, token lifetimes, password policy, new cameras' defaults;
# CreateSilence: a silence with a != matcher mutes every alert, and other tests' notifications).
# They get the same fuzz on a plane of their own (test_platform_wide_rpcs_on_their_own_plane),
# and the undecodable-request test, whose requests are always refused, still covers them here.
PLATFORM_WIDE = frozenset(
    {
        "/camfleet.v1.SettingsService/UpdateSettings",
        "/camfleet.v1.AlertService/CreateSilence",
    }
)
SHARED_PLANE_RPCS = [r for r in RPCS if r.name not in PLATFORM_WIDE]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)
# google.protobuf.Timestamp is valid from 0001-01-01 to 9999-12-31; Duration within ±10000 years.
TS_SECONDS = (-62_135_596_800, 253_402_300_799)
DURATION_SECONDS = (-315_576_000_000, 315_576_000_000)

ONE_MB = "x" * (1 << 20)
_NESTED = "(" * 200 + 'name = "x"' + ")" * 200
HOSTILE_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "   padded   ",
    "'",
    '"',
    "\\",
    "`",
    "%",
    "_",
    "*",
    "-",
    "--",
    "/*",
    "*/",
    ";",
    "' OR 1=1 --",
    '"); DROP TABLE cameras; --',
    "'; DELETE FROM users; --",
    "1; SELECT pg_sleep(10); --",
    "x' UNION SELECT password_hash FROM users --",
    "\x00",
    "a\x00b",
    "\x01\x02\x1f\x7f",
    "\n",
    "name\n",
    "tab\there",
    "\r\n",
    "\x1b[31mred",
    "\u202eevil",
    "\u2028",
    "\u2066x\u2069",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "ünïcødé ✓ 😀",
    "\U0001d54f" * 64,
    "日本語のカメラ",
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "/dev/zero",
    "file:///etc/shadow",
    "${jndi:ldap://127.0.0.1/a}",
    "<script>alert(1)</script>",
    "%s%s%s%n",
    "{{7*7}}",
    "a" * 64,
    "a" * 65,
    "a" * 201,
    "a" * 2001,
    "b" * 20_000,
    _NESTED,
    "(" * 40,
    ")" * 40,
    "NOT " * 40 + 'name = "x"',
    "-" * 50 + "name:x",
    " OR ".join(f'name = "n{i}"' for i in range(100)),
    " ".join(["w"] * 70),
    'name = "',
    "name = ",
    "= =",
    "!",
    "a != ",
    "labels.env:*",
    "labels.:x",
    'create_time > "9999-12-31T23:59:59Z"',
    'create_time < "0001-01-01T00:00:00+23:59"',
    'create_time > "2026-13-45T99:99:99Z"',
    "create_time > 1e999",
    "status = 99",
    "name desc, name",
    "name asc asc",
    ",",
    "create_time desc,",
    "rtsp://",
    "rtsp://127.0.0.1:554/stream",
    "rtsp://user:pw@127.0.0.1/x",
    "javascript:alert(1)",
    "http://[::1",
    "rtmp://127.0.0.1/live/../../x",
    "127.0.0.1/32",
    "::1/128",
    "127.0.0.1/33",
    "not-a-cidr",
    "cameras.read",
    "users.write",
    "unknown.scope",
    "rt_" + "A" * 43,
    "cft_" + "0" * 32 + "_secret",
    "eyJhbGciOiJub25lIn0.e30.",
    "00000000-0000-0000-0000-000000000000",
    "00000000-0000-0000-0000-00000000000G",
    "00000000-0000-0000-0000-000000000000\n",
    "00000000-0000-0000-0000-000000000000 ",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "{00000000-0000-0000-0000-000000000000}",
    "eyJvIjotMSwiZiI6IngifQ",
    "eyJvIjo5OTk5OTk5OTk5OTk5OTk5OTk5OTksImYiOiJ4In0",
    "!!!!",
    ONE_MB,
)


def _int_range(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    return st.one_of(
        st.sampled_from([0, 1, -1 if low < 0 else 2, low, high, low + 1, high - 1]),
        st.integers(low, high),
    )


def _weighted(*branches: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Pick a branch with the given integer weights, then draw from it. (one_of drops repeated
    branches, so it cannot weight; hypothesis also leans to the first branch, so put the
    interesting one first.)"""
    return st.sampled_from([s for weight, s in branches for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


# Hostile text: the list above, and anything hypothesis makes up (it never draws lone
# surrogates, which protobuf cannot encode anyway).
_HOSTILE = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30))
_WORD = st.from_regex(r"[a-z0-9][a-z0-9._@-]{2,20}", fullmatch=True)
_UNSET = st.just(None)

# Values that pass validation, by field name: a request whose other fields are sane gets past
# the first check and exercises the code behind it, where the interesting failures hide.
_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "name": _WORD.map(lambda w: f"fuzz-{w}"),
    "username": _WORD.map(lambda w: f"fz{w}"),
    "display_name": st.text(st.characters(categories=("L", "N", "Zs")), max_size=20),
    "description": st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=40),
    "location": _WORD,
    "password": st.from_regex(r"[A-Za-z0-9!#-]{8,24}", fullmatch=True),
    "scopes": st.sampled_from(["cameras.read", "cameras.write", "users.read", "audit.read"]),
    "allowed_cidrs": st.sampled_from(["127.0.0.1/32", "127.0.0.0/8", "::1/128", "127.0.0.2"]),
    "source_url": st.sampled_from(
        [
            "rtsp://127.0.0.1:554/live",
            "rtmp://127.0.0.1/live/x",
            "https://u:p@127.0.0.1/cam.m3u8",
            "",
        ]
    ),
    "filter": st.sampled_from(
        [
            "",
            'name = "x"',
            "active = true",
            'name:"fuzz"',
            'labels.env = "fuzz"',
            'create_time > "2020-01-01T00:00:00Z"',
            'NOT (status = ONLINE OR name = "a*")',
            "role = ROLE_ADMIN",
            'outcome = denied AND action = "authz.denied"',
            "revoked = false",
        ]
    ),
    "order_by": st.sampled_from(
        ["", "name", "create_time desc", "name desc, create_time", "time", "username"]
    ),
    "search": _WORD,
    "page_token": st.just(""),
    "page_size": st.integers(0, 1000),
}
_PLAUSIBLE["new_password"] = _PLAUSIBLE["current_password"] = _PLAUSIBLE["password"]


@dataclass(frozen=True)
class Pools:
    """Ids of real resources the fuzzer may name, so requests reach past "not found"."""

    user_ids: Sequence[str]
    camera_ids: Sequence[str]
    token_ids: Sequence[str]

    @property
    def all_ids(self) -> list[str]:
        return [*self.user_ids, *self.camera_ids, *self.token_ids]

    def for_field(self, f: FieldDescriptor) -> list[str]:
        """The ids that fit an id field, judged by its name and its message's name."""
        owner = f.containing_type.name if f.containing_type is not None else ""
        if f.name.endswith("user_id") or (f.name == "id" and "User" in owner):
            return list(self.user_ids)
        if "Camera" in owner:
            return list(self.camera_ids)
        if "Token" in owner:
            return list(self.token_ids)
        return self.all_ids


class RequestStrategies:
    """Hypothesis strategies for any protobuf message, derived from its descriptor.

    A message is drawn in one of three shapes: every field sane (unset or plausible), exactly
    one field hostile (to hit each check with everything else valid), or every field a free
    mix. Nested messages recurse up to a depth limit.
    """

    def __init__(self, pools: Pools, max_depth: int = 4) -> None:
        self._max_depth = max_depth
        self._cache: dict[tuple[str, int, bool], st.SearchStrategy[Message]] = {}
        self._pools = pools
        many = [str(uuid.UUID(int=i + 1)) for i in range(1001)]
        known = st.sampled_from(pools.all_ids) if pools.all_ids else st.uuids().map(str)
        self._sane_id = _weighted((3, known), (1, st.uuids().map(str)))
        self._hostile_id = _weighted(
            (1, known),
            (1, st.uuids().map(str).map(str.upper)),
            (1, st.uuids().map(lambda u: f"{u}\n")),
            (3, _HOSTILE),
        )
        cameras = st.sampled_from(pools.camera_ids) if pools.camera_ids else known
        self._sane_ids = st.lists(cameras, min_size=1, max_size=3, unique=True)
        self._hostile_ids = _weighted(
            (3, st.lists(_weighted((1, self._sane_id), (1, self._hostile_id)), max_size=5)),
            (1, st.just(many)),  # one more than a batch may hold
            (1, st.just(many[:1000])),
            (1, st.lists(cameras, min_size=2, max_size=4)),  # repeats
        )

    def message(
        self, desc: Descriptor, depth: int = 0, sane: bool = False
    ) -> st.SearchStrategy[Message]:
        """Random instances of the message `desc` (only valid-looking ones when `sane`)."""
        key = (desc.full_name, depth, sane)
        if key not in self._cache:
            self._cache[key] = self._build(desc, depth, sane)
        return self._cache[key]

    def _build(self, desc: Descriptor, depth: int, sane: bool) -> st.SearchStrategy[Message]:
        special = self._well_known(desc, sane)
        if special is not None:
            return special
        cls = message_factory.GetMessageClass(desc)
        fields = [f for f in desc.fields if depth < self._max_depth or f.message_type is None]
        # FieldMask paths are most interesting when they name fields of the resource being
        # updated: the sibling message fields of this request.
        resource = [
            name
            for f in desc.fields
            if f.message_type is not None and not f.message_type.full_name.startswith("google.")
            for name in f.message_type.fields_by_name
        ]
        good = {
            f.name: _weighted((3, self._value(f, depth, resource, True)), (1, _UNSET))
            for f in fields
        }
        bad = {f.name: self._value(f, depth, resource, False) for f in fields}

        def build(values: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Message]:
            return values.map(lambda v: _fill(cls, v))

        all_good = build(st.fixed_dictionaries(good))
        if sane or not fields:
            return all_good
        one_bad = st.sampled_from([f.name for f in fields]).flatmap(
            lambda name: build(st.fixed_dictionaries({**good, name: bad[name]}))
        )
        mixed = build(
            st.fixed_dictionaries(
                {
                    f.name: _weighted((2, bad[f.name]), (2, good[f.name]), (1, _UNSET))
                    for f in fields
                }
            )
        )
        return st.one_of(all_good, one_bad, mixed)

    def _value(
        self, f: FieldDescriptor, depth: int, resource: Sequence[str], sane: bool
    ) -> st.SearchStrategy[Any]:
        """A value for field `f` (a list for repeated fields, a dict for maps)."""
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            key_f = f.message_type.fields_by_name["key"]
            value_f = f.message_type.fields_by_name["value"]
            if sane and key_f.type == FieldDescriptor.TYPE_STRING:
                key = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,10}", fullmatch=True)
            else:
                key = self._single(key_f, depth, resource, sane)
            return st.dictionaries(
                key, self._single(value_f, depth, resource, sane), max_size=4 if sane else 40
            )
        if f.is_repeated:
            if f.name == "ids":
                return self._sane_ids if sane else self._hostile_ids
            element = self._single(f, depth, resource, sane)
            return (
                st.lists(element, min_size=1, max_size=3, unique_by=repr)
                if sane
                else st.lists(element, max_size=5)
            )
        return self._single(f, depth, resource, sane)

    def _single(
        self, f: FieldDescriptor, depth: int, resource: Sequence[str], sane: bool
    ) -> st.SearchStrategy[Any]:
        t = f.type
        if t == FieldDescriptor.TYPE_MESSAGE:
            assert f.message_type is not None
            if f.message_type.full_name == "google.protobuf.FieldMask":
                return self._field_mask(resource, sane)
            return self.message(f.message_type, depth + 1, sane)
        plausible = _PLAUSIBLE.get(f.name)
        if t == FieldDescriptor.TYPE_STRING:
            if f.name == "id" or f.name.endswith("_id"):
                if not sane:
                    return self._hostile_id
                fitting = self._pools.for_field(f)
                return (
                    _weighted((3, st.sampled_from(fitting)), (1, self._sane_id))
                    if (fitting)
                    else self._sane_id
                )
            if not sane:
                return _HOSTILE
            return plausible if plausible is not None else _WORD
        if t == FieldDescriptor.TYPE_BYTES:
            return st.binary(max_size=64)
        if t == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if t == FieldDescriptor.TYPE_ENUM:
            assert f.enum_type is not None
            numbers = [v.number for v in f.enum_type.values]
            known = st.sampled_from([n for n in numbers if n] or numbers)
            if sane or f.enum_type.is_closed:  # closed (proto2) enums drop unknown numbers
                return known
            return st.one_of(st.sampled_from(numbers), _int_range(INT32))
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return st.floats(
                width=32 if t == FieldDescriptor.TYPE_FLOAT else 64,
                allow_nan=not sane,
                allow_infinity=not sane,
            )
        bounds = {
            FieldDescriptor.TYPE_INT32: INT32,
            FieldDescriptor.TYPE_SINT32: INT32,
            FieldDescriptor.TYPE_SFIXED32: INT32,
            FieldDescriptor.TYPE_INT64: INT64,
            FieldDescriptor.TYPE_SINT64: INT64,
            FieldDescriptor.TYPE_SFIXED64: INT64,
            FieldDescriptor.TYPE_UINT32: UINT32,
            FieldDescriptor.TYPE_FIXED32: UINT32,
            FieldDescriptor.TYPE_UINT64: UINT64,
            FieldDescriptor.TYPE_FIXED64: UINT64,
        }
        if sane:
            return plausible if plausible is not None else st.integers(0, 100)
        return _int_range(bounds[t])

    @staticmethod
    def _field_mask(resource: Sequence[str], sane: bool) -> st.SearchStrategy[Message]:
        valid = st.sampled_from([*resource, "*"]) if resource else st.just("*")
        if sane:
            paths = st.lists(valid, min_size=1, max_size=3, unique=True)
        else:
            odd = st.sampled_from(["id", "a.b", "", " name ", "*", "name,description"])
            paths = st.lists(st.one_of(valid, odd, _HOSTILE), max_size=6)
        return paths.map(lambda p: field_mask_pb2.FieldMask(paths=p))

    @staticmethod
    def _well_known(desc: Descriptor, sane: bool) -> st.SearchStrategy[Message] | None:
        nanos = st.integers(0, 999_999_999)
        if desc.full_name == "google.protobuf.Timestamp":
            soon = st.integers(1_800_000_000, 4_000_000_000)  # plausible future expiries
            if sane:
                return st.builds(timestamp_pb2.Timestamp, seconds=soon, nanos=nanos)
            # Out-of-range seconds and nanos are representable on the wire even though the
            # Timestamp spec forbids them: exactly what a hostile client sends.
            return st.builds(
                timestamp_pb2.Timestamp,
                seconds=st.one_of(_int_range(TS_SECONDS), _int_range(INT64)),
                nanos=st.one_of(nanos, st.sampled_from([-1, 10**9, *INT32])),
            )
        if desc.full_name == "google.protobuf.Duration":
            days = st.integers(1, 3650).map(lambda d: d * 86_400)
            if sane:
                return st.builds(duration_pb2.Duration, seconds=days)
            return st.builds(
                duration_pb2.Duration,
                seconds=st.one_of(_int_range(DURATION_SECONDS), _int_range(INT64)),
                nanos=st.one_of(nanos, st.integers(-999_999_999, 0), st.sampled_from(INT32)),
            )
        return None


def _descriptor(rpc: Rpc) -> Descriptor:
    # The C (upb) descriptor classes and the pure-Python ones are typed apart; they behave alike.
    return cast(Descriptor, rpc.request.DESCRIPTOR)


def _fill(cls: type[Message], values: Mapping[str, Any]) -> Message:
    msg = cls()
    for name, value in values.items():
        if value is None:
            continue  # left unset
        f = cls.DESCRIPTOR.fields_by_name[name]
        target = getattr(msg, name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            for k, v in value.items():
                if isinstance(v, Message):
                    target[k].CopyFrom(v)
                else:
                    target[k] = v
        elif f.is_repeated:
            target.extend(value)
        elif isinstance(value, Message):
            target.CopyFrom(value)
        else:
            setattr(msg, name, value)
    return msg


def describe(request: Message | bytes, limit: int = 600) -> str:
    """A short, printable rendering of a request for failure reports."""
    if isinstance(request, bytes):
        text = repr(request[:limit])
    else:
        text = text_format.MessageToString(request, as_one_line=True, as_utf8=True)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def _status(err: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    call: Any = err  # a grpc.RpcError raised by a call is also a grpc.Call
    return call.code(), call.details() or ""


def _no_server_error(rpc: Rpc, err: grpc.RpcError, sent: str, to: str = "") -> None:
    """Fail when `err`, `rpc`'s answer to what `sent` describes, is a server error."""
    code, details = _status(err)
    if code in BAD_CODES:
        raise AssertionError(
            f"{rpc.name} answered {code.name}{to}: {details[:300]}\n    {sent}"
        ) from None


@dataclass
class Identities:
    """Credentials the fuzzer uses. The shared admin session must survive the run, so RPCs that
    end or alter the caller's own account use throwaway accounts."""

    admin: Metadata
    throwaway_admin: Metadata  # ChangePassword / DeleteUser ("self" when user_id is empty)
    logout_username: str  # a fresh session of this user per Logout example
    logout_password: str


def _metadata_factory(rpc: Rpc, ids: Identities, channel: grpc.Channel) -> Callable[[], Metadata]:
    if rpc.name == "/camfleet.v1.AuthService/Logout":
        login = auth_pb2_grpc.AuthServiceStub(channel).Login

        def fresh_session() -> Metadata:
            resp = login(
                auth_pb2.LoginRequest(username=ids.logout_username, password=ids.logout_password),
                timeout=CALL_TIMEOUT,
            )
            return bearer(resp.tokens.access_token)

        return fresh_session
    if rpc.name in (
        "/camfleet.v1.UserService/ChangePassword",
        "/camfleet.v1.UserService/DeleteUser",
    ):
        return lambda: ids.throwaway_admin
    return lambda: ids.admin


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def _run(prop: Callable[[], None], failures: list[str]) -> None:
    """Run a property; keep its report (not hypothesis' repr of the falsifying example, which
    can hold a megabyte of text) and carry on with the next one."""
    try:
        prop()
    except AssertionError as exc:
        failures.append(str(exc).split("\nFalsifying example")[0])


def _rpc_property(
    rpc: Rpc,
    channel: grpc.Channel,
    strategy: st.SearchStrategy[Message],
    metadata: Callable[[], Metadata],
    examples: int,
) -> Callable[[], None]:
    @_settings(examples)
    @given(request=strategy)
    def never_a_server_error(request: Message) -> None:
        try:
            invoke(channel, rpc, request, metadata())
        except grpc.RpcError as err:
            _no_server_error(rpc, err, f"request: {describe(request)}")

    return never_a_server_error


def fuzz_every_rpc(
    target: str, rpcs: Sequence[Rpc], strategies: RequestStrategies, ids: Identities
) -> list[str]:
    """Run one property per RPC (blocking; call from a worker thread). Returns failure reports."""
    failures: list[str] = []
    ordered = sorted(rpcs, key=lambda r: r.descriptor.name.startswith(DESTRUCTIVE))
    with grpc.insecure_channel(target) as channel:
        for rpc in ordered:
            prop = _rpc_property(
                rpc,
                channel,
                strategies.message(_descriptor(rpc)),
                _metadata_factory(rpc, ids, channel),
                EXAMPLES_SLOW.get(rpc.name, EXAMPLES_PER_RPC),
            )
            _run(prop, failures)
    return failures


async def _identities(platform: Platform) -> Identities:
    admin_user, admin_password = await platform.create_user(common_pb2.ROLE_ADMIN)
    session = await platform.login(admin_user.username, admin_password)
    logout_user, logout_password = await platform.create_user(common_pb2.ROLE_VIEWER)
    return Identities(
        platform.admin, bearer(session.tokens.access_token), logout_user.username, logout_password
    )


async def _pools(platform: Platform) -> Pools:
    victim, _ = await platform.create_user(common_pb2.ROLE_VIEWER)
    cameras = [await platform.new_camera(labels={"env": "fuzz"}) for _ in range(3)]
    token, api_user = await platform.new_api_token(["cameras.read"])
    return Pools([victim.id, api_user.id], [c.id for c in cameras], [token.api_token.id])


# ---------------------------------------------------------------------------------------------
# Property tests


@MANY_CALLS
async def test_generated_requests_never_cause_a_server_error(platform: Platform) -> None:
    """Every RPC but PLATFORM_WIDE, called as admin with requests generated from its descriptor,
    answers a status a caller can act on: never UNKNOWN, INTERNAL or UNAVAILABLE."""
    strategies = RequestStrategies(await _pools(platform))
    ids = await _identities(platform)
    failures = await asyncio.to_thread(
        fuzz_every_rpc, platform.target, SHARED_PLANE_RPCS, strategies, ids
    )
    assert not failures, "server errors for bad requests:\n" + "\n".join(failures)
    # The shared admin session survived the whole run.
    who = await platform.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=platform.admin)
    assert who.user.username == "admin"


async def test_platform_wide_rpcs_on_their_own_plane(make_platform: PlatformFactory) -> None:
    """PLATFORM_WIDE RPCs get the generated and the raw-payload fuzz on a plane no other test
    uses, where a request that happens to be accepted changes nothing anyone else relies on."""
    plane = await make_platform()
    rpcs = [r for r in RPCS if r.name in PLATFORM_WIDE]
    assert sorted(r.name for r in rpcs) == sorted(PLATFORM_WIDE)  # none renamed or gone
    strategies = RequestStrategies(await _pools(plane))
    ids = await _identities(plane)
    failures = await asyncio.to_thread(fuzz_every_rpc, plane.target, rpcs, strategies, ids)
    failures += await asyncio.to_thread(
        fuzz_raw_bytes, plane.target, _raw_payloads(strategies), ids, rpcs
    )
    assert not failures, "server errors for bad requests:\n" + "\n".join(failures)


def _raw_payloads(strategies: RequestStrategies) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and valid messages of some other request type."""
    other = st.sampled_from(RPCS).flatmap(lambda r: strategies.message(_descriptor(r)))
    return st.one_of(st.binary(max_size=256), other.map(lambda m: m.SerializeToString()))


def fuzz_raw_bytes(
    target: str,
    payloads: st.SearchStrategy[bytes],
    ids: Identities,
    rpcs: Sequence[Rpc] = SHARED_PLANE_RPCS,
) -> list[str]:
    """Send raw payloads to each of `rpcs` (blocking; call from a worker thread)."""
    failures: list[str] = []
    with grpc.insecure_channel(target) as channel:
        metadata = {rpc.name: _metadata_factory(rpc, ids, channel) for rpc in rpcs}

        @_settings(EXAMPLES_RAW)
        @given(rpc=st.sampled_from(rpcs), payload=payloads)
        def never_a_server_error(rpc: Rpc, payload: bytes) -> None:
            try:
                invoke(channel, rpc, payload, metadata[rpc.name](), raw=True)
            except grpc.RpcError as err:
                _no_server_error(rpc, err, f"payload: {describe(payload)}", " to raw bytes")

        _run(never_a_server_error, failures)
    return failures


@MANY_CALLS
async def test_raw_and_wrong_type_payloads_never_cause_a_server_error(platform: Platform) -> None:
    """Random bytes and valid messages of another type, sent to every RPC but PLATFORM_WIDE (as
    admin, Logout on a throwaway session): whatever decodes or not, never a server error."""
    strategies = RequestStrategies(await _pools(platform))
    ids = await _identities(platform)
    failures = await asyncio.to_thread(
        fuzz_raw_bytes, platform.target, _raw_payloads(strategies), ids
    )
    assert not failures, "\n".join(failures)
    who = await platform.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=platform.admin)
    assert who.user.username == "admin"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _bad_utf8(desc: Descriptor, depth: int = 0) -> bytes | None:
    """Wire bytes of `desc` whose first reachable string field holds invalid UTF-8."""
    for f in desc.fields:
        tag = _varint(f.number << 3 | 2)
        if f.type == FieldDescriptor.TYPE_STRING:
            return tag + _varint(2) + b"\xff\xfe"
        if f.message_type is not None and depth < 3:
            inner = _bad_utf8(f.message_type, depth + 1)
            if inner is not None:
                return tag + _varint(len(inner)) + inner
    return None


async def test_undecodable_requests_are_invalid_argument(platform: Platform) -> None:
    """A truncated message or a string that is not UTF-8 is INVALID_ARGUMENT naming the message
    type, for every RPC (decoding happens before anything else)."""
    problems = []
    node = bearer((await platform.register_node()).credential)
    for rpc in RPCS:
        # Streamed messages are decoded after the caller is authorized: agent RPCs as a node.
        metadata = node if RPC_RULES[rpc.name].access is Access.NODE else platform.admin
        payloads = {"truncated varint": b"\x08", "truncated length": b"\x0a\x05ab"}
        bad = _bad_utf8(_descriptor(rpc))
        if bad is not None:
            payloads["invalid UTF-8"] = bad
        raw = platform.channel.unary_unary(
            rpc.name, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        for label, payload in payloads.items():
            try:
                await raw(payload, metadata=metadata, timeout=CALL_TIMEOUT)
                problems.append(f"{rpc.short} ({label}): accepted")
            except grpc.aio.AioRpcError as err:
                details = err.details() or ""
                if err.code() is not grpc.StatusCode.INVALID_ARGUMENT or (
                    rpc.request.DESCRIPTOR.name not in details
                ):
                    problems.append(f"{rpc.short} ({label}): {err.code().name} {details[:150]}")
    assert not problems, "\n".join(problems)


def _b64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


# JWT-shaped credentials with odd headers and claims (no valid signature: that needs the key).
_FORGED_JWTS = [
    f"Bearer {_b64(header)}.{_b64(claims)}.{_b64('sig')}"
    for header in (
        "[]",
        '"x"',
        '{"alg":"HS256","kid":"nope"}',
        '{"alg":"HS256","kid":{"a":1}}',
        '{"alg":"none"}',
        '{"alg":"HS256"}',
        "{",
    )
    for claims in ('{"sub":"x","exp":1e400}', "[]")
]


async def test_hostile_authorization_metadata_is_unauthenticated(platform: Platform) -> None:
    """Whatever a caller puts in `authorization`, a bad credential is UNAUTHENTICATED."""
    printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
    hexes = st.text("0123456789abcdef", min_size=30, max_size=34)
    values = st.one_of(
        printable,
        printable.map(lambda s: f"Bearer {s}"),
        st.tuples(hexes, printable).map(lambda t: f"Bearer cft_{t[0]}_{t[1]}"),
        st.sampled_from(
            [
                "Bearer",
                "Bearer ",
                "bearer x",
                "Basic YWRtaW46YWRtaW4=",
                "Bearer cft_",
                "Bearer cft_" + "0" * 32 + "_",
                "Bearer rt_x",
                "Bearer a.b.c",
                "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                "Bearer " + "A" * 5000,
                *_FORGED_JWTS,
            ]
        ),
    )

    def run() -> list[str]:
        failures: list[str] = []
        with grpc.insecure_channel(platform.target) as channel:
            who_am_i = auth_pb2_grpc.AuthServiceStub(channel).WhoAmI

            @_settings(EXAMPLES_RAW)
            @given(value=values)
            def refused(value: str) -> None:
                try:
                    who_am_i(
                        auth_pb2.WhoAmIRequest(),
                        metadata=(("authorization", value),),
                        timeout=CALL_TIMEOUT,
                    )
                except grpc.RpcError as err:
                    code, details = _status(err)
                    if code is not grpc.StatusCode.UNAUTHENTICATED:
                        raise AssertionError(
                            f"authorization {value[:100]!r}: {code.name} {details[:200]}"
                        ) from None
                    return
                raise AssertionError(f"authorization {value[:100]!r} was accepted")

            _run(refused, failures)
        return failures

    failures = await asyncio.to_thread(run)
    for value in _FORGED_JWTS:  # each of these every time, not only when hypothesis picks it
        code, details = await _code(
            platform.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=(("authorization", value),))
        )
        if code is not grpc.StatusCode.UNAUTHENTICATED:
            failures.append(f"authorization {value!r}: {code.name} {details[:200]}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# Hostile input changes nothing


async def _code(awaitable: Any) -> tuple[grpc.StatusCode, str]:
    try:
        await awaitable
    except grpc.aio.AioRpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


async def test_refused_camera_updates_change_nothing(platform: Platform) -> None:
    """Each update with one bad field (next to good ones) is INVALID_ARGUMENT naming the field,
    and the camera reads back exactly as before."""
    before = await platform.new_camera(
        description="before", location="lobby", labels={"env": "prod"}
    )
    fresh = f"renamed-{secrets.token_hex(4)}"
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"name": "x\x00y"}, ["name"], "camera.name"),
        ({"name": "' OR 1=1 --\nx"}, ["name"], "camera.name"),
        ({"name": ONE_MB}, ["name"], "camera.name"),
        ({"name": fresh, "labels": {"Bad Key": "v"}}, ["name", "labels"], "camera.labels"),
        (
            {"name": fresh, "labels": {f"k{i}": "v" for i in range(33)}},
            ["name", "labels"],
            "camera.labels",
        ),
        (
            {"description": "ok", "location": "a" * 201},
            ["description", "location"],
            "camera.location",
        ),
        ({"description": "\u202eevil"}, ["description"], "camera.description"),
        (
            {"ingest_mode": camera_pb2.INGEST_MODE_PULL, "source_url": "javascript:alert(1)"},
            ["ingest_mode", "source_url"],
            "camera.source_url",
        ),
        ({"ingest_mode": camera_pb2.INGEST_MODE_PULL}, ["ingest_mode"], "camera.source_url"),
        ({"ingest_mode": 99}, ["ingest_mode"], "camera.ingest_mode"),
        ({"name": fresh, "stream_key": "mine"}, ["name", "stream_key"], "update_mask"),
        ({"name": fresh}, ["name", "../../etc/passwd"], "update_mask"),
        ({"name": fresh}, [], "update_mask"),
    ]
    problems = []
    for fields, paths, field in cases:
        request = camera_pb2.UpdateCameraRequest(
            camera=camera_pb2.Camera(id=before.id, **fields), update_mask=mask(*paths)
        )
        code, details = await _code(platform.cameras.UpdateCamera(request, metadata=platform.admin))
        if code is not grpc.StatusCode.INVALID_ARGUMENT or field not in details:
            problems.append(f"{sorted(fields)} / {paths}: {code.name} {details[:120]}")
    after = await platform.cameras.GetCamera(
        camera_pb2.GetCameraRequest(id=before.id), metadata=platform.admin
    )
    assert not problems, "\n".join(problems)
    assert after.camera == before
    listed = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(search=fresh), metadata=platform.admin
    )
    assert listed.total_size == 0


async def test_oversized_creates_are_refused_and_leave_no_trace(platform: Platform) -> None:
    """A 1 MB camera name or username is INVALID_ARGUMENT saying the limit; nothing is created."""
    tag = f"huge{secrets.token_hex(5)}"
    code, details = await _code(
        platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=tag + ONE_MB)),
            metadata=platform.admin,
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "camera.name" in details and "at most 200" in details
    code, details = await _code(
        platform.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(camera=camera_pb2.Camera(name=tag, description=ONE_MB)),
            metadata=platform.admin,
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "camera.description" in details
    listed = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(search=tag), metadata=platform.admin
    )
    assert listed.total_size == 0 and not listed.cameras

    code, details = await _code(
        platform.users.CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=tag + "u" * (1 << 20), role=common_pb2.ROLE_VIEWER),
                password="lantern-orchid-4821",
            ),
            metadata=platform.admin,
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "user.username" in details
    users = await platform.users.ListUsers(
        user_pb2.ListUsersRequest(filter=f'username:"{tag}"'), metadata=platform.admin
    )
    assert users.total_size == 0


async def test_sql_fragments_are_stored_and_matched_as_plain_text(platform: Platform) -> None:
    """Names full of SQL are just names: stored verbatim, found by exact filter, and they match
    nothing else; the tables are still there afterwards."""
    tag = secrets.token_hex(5)
    names = [f"x' OR 1=1 -- {tag}", f'"); DROP TABLE cameras; -- {tag}', f"%_{tag}"]
    for name in names:
        camera = await platform.new_camera(name=name, description="'; DELETE FROM users; --")
        got = await platform.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id), metadata=platform.admin
        )
        assert got.camera.name == name
    for name in names:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        listed = await platform.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(filter=f'name = "{quoted}"'), metadata=platform.admin
        )
        assert [c.name for c in listed.cameras] == [name]
    # "%" and "_" are literal in searches, not wildcards: only the camera holding them matches.
    listed = await platform.cameras.ListCameras(
        camera_pb2.ListCamerasRequest(search=f"%_{tag}"), metadata=platform.admin
    )
    assert [c.name for c in listed.cameras] == [f"%_{tag}"]
    users = await platform.users.ListUsers(
        user_pb2.ListUsersRequest(filter='username = "admin"'), metadata=platform.admin
    )
    assert users.total_size == 1


@pytest.mark.parametrize(
    "filter_text",
    [
        "(" * 500 + 'name = "x"' + ")" * 500,
        "NOT " * 100 + 'name = "x"',
        "(" * 100,
        ")" * 10,
        " OR ".join(f'name = "n{i}"' for i in range(200)),
        "x" * 5000,
        'name = "a\x00b"',
    ],
)
async def test_pathological_filters_are_invalid_argument_on_every_list(
    platform: Platform, filter_text: str
) -> None:
    """Deep nesting, unbalanced parentheses, huge expressions and control characters in a
    filter are INVALID_ARGUMENT on every List RPC, with a message about the filter."""
    lists = [r for r in RPCS if "filter" in r.request.DESCRIPTOR.fields_by_name]
    assert len(lists) >= 4
    problems = []
    for rpc in lists:
        request = rpc.request(filter=filter_text)
        if "range" in request.DESCRIPTOR.fields_by_name:
            # Analytics reads need a range too: a valid one, so the filter is what is judged.
            request.range.end_time.GetCurrentTime()
            request.range.start_time.FromSeconds(request.range.end_time.seconds - 3600)
        code, details = await call_rpc(platform.channel, rpc, platform.admin, request)
        if code is not grpc.StatusCode.INVALID_ARGUMENT or "filter" not in details:
            problems.append(f"{rpc.short}: {code.name} {details[:150]}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Regressions: what the fuzzer found, pinned down as plain tests


async def test_login_with_nul_in_the_username_is_a_clean_refusal(platform: Platform) -> None:
    """PostgreSQL cannot compare text holding U+0000: the server must refuse it, not crash."""
    for username in ("a\x00b", "\x00"):
        code, details = await _code(
            platform.auth.Login(
                auth_pb2.LoginRequest(username=username, password="lantern-orchid-4821")
            )
        )
        assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED), (
            f"{username!r}: {code.name} {details}"
        )


@pytest.mark.parametrize("seconds", [315_576_000_000, 2**40, -315_576_000_000])
async def test_api_token_ttl_beyond_the_calendar_is_invalid_argument(
    platform: Platform, seconds: int
) -> None:
    """A ttl no calendar can hold (Duration allows ±10000 years) is INVALID_ARGUMENT naming
    ttl, and no token is created."""
    owner, _ = await platform.create_user(common_pb2.ROLE_API)
    code, details = await _code(
        platform.tokens.CreateApiToken(
            api_token_pb2.CreateApiTokenRequest(
                api_token=api_token_pb2.ApiToken(
                    name="far-future", owner_user_id=owner.id, scopes=["cameras.read"]
                ),
                ttl=duration_pb2.Duration(seconds=seconds),
            ),
            metadata=platform.admin,
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "ttl" in details, f"{code.name} {details}"
    listed = await platform.tokens.ListApiTokens(
        api_token_pb2.ListApiTokensRequest(filter=f'owner_user_id = "{owner.id}"'),
        metadata=platform.admin,
    )
    assert listed.total_size == 0


async def test_a_trailing_newline_does_not_slip_past_validation(platform: Platform) -> None:
    """Patterns anchored with "$" also match before a final newline: usernames, label keys and
    ids with one must be refused like any other bad character."""
    problems = []
    name = f"nl{secrets.token_hex(4)}"
    code, details = await _code(
        platform.users.CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=name + "\n", role=common_pb2.ROLE_VIEWER),
                password="lantern-orchid-4821",
            ),
            metadata=platform.admin,
        )
    )
    if code is not grpc.StatusCode.INVALID_ARGUMENT or "user.username" not in details:
        problems.append(f"CreateUser username {name + chr(10)!r}: {code.name} {details[:100]}")
    camera = await platform.new_camera()
    code, details = await _code(
        platform.cameras.UpdateCamera(
            camera_pb2.UpdateCameraRequest(
                camera=camera_pb2.Camera(id=camera.id, labels={"env\n": "x"}),
                update_mask=mask("labels"),
            ),
            metadata=platform.admin,
        )
    )
    if code is not grpc.StatusCode.INVALID_ARGUMENT or "camera.labels" not in details:
        problems.append(f"UpdateCamera label key 'env\\n': {code.name} {details[:100]}")
    code, details = await _code(
        platform.cameras.GetCamera(
            camera_pb2.GetCameraRequest(id=camera.id + "\n"), metadata=platform.admin
        )
    )
    if code is not grpc.StatusCode.INVALID_ARGUMENT or "UUID" not in details:
        problems.append(f"GetCamera id '<uuid>\\n': {code.name} {details[:100]}")
    assert not problems, "\n".join(problems)
