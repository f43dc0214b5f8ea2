"""The permission table against the running server: every RPC x every role and API-token scope.

The table in `server.auth.permissions` is the single source of truth for authorization. These
tests derive the list of RPCs from the generated descriptors (so a new RPC without a rule fails
here by name), call every RPC with a minimal request as every kind of caller, and check that the
server's answer (refused or let through) is exactly what the table says. A refusal must also
name the missing permission and be written to the audit log.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
import pytest
from camfleet.v1 import api_token_pb2, common_pb2, node_pb2, user_pb2
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from server.auth.permissions import RPC_RULES, Access, Rule
from server.identity.permissions import ALL_PERMISSIONS, ROLE_PERMISSIONS, Permission, Role
from tests.support.platform import Metadata, Platform, bearer
from tests.support.rpcs import RPCS, Rpc, call_rpc

# Statuses that mean "the guard refused the call"; anything else proves it got past the guard.
_REFUSALS = {
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.PERMISSION_DENIED: "denied",
}
# How long a refusal of a streaming call may take on a loaded machine.
_SLOW_REFUSAL_S = 30.0
# A server that answers these for a minimal request is broken, whatever the table says.
_BROKEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE}

LOGOUT = "/camfleet.v1.AuthService/Logout"

_PROTO_ROLES = {
    Role.ADMIN: common_pb2.ROLE_ADMIN,
    Role.OPERATOR: common_pb2.ROLE_OPERATOR,
    Role.VIEWER: common_pb2.ROLE_VIEWER,
}


@dataclass(frozen=True)
class Caller:
    """Someone calling the API: a label for the report, metadata, and what the table grants."""

    label: str
    metadata: Metadata
    permissions: frozenset[Permission] | None  # None: no credential at all
    audit_actor: str = ""  # ListAuditLogs filter term that selects this caller's records
    node: bool = False  # a node agent's credential


def expected(rule: Rule, caller: Caller) -> str:
    """What the table says must happen: "allowed", "denied" or "unauthenticated"."""
    if rule.access is Access.PUBLIC:
        return "allowed"
    if caller.permissions is None:
        return "unauthenticated"
    # Node credentials open the agent API only, and only node credentials open it.
    if (rule.access is Access.NODE) != caller.node:
        return "denied"
    if rule.access in (Access.AUTHENTICATED, Access.NODE):
        return "allowed"
    assert rule.permission is not None
    return "allowed" if rule.permission in caller.permissions else "denied"


def outcome(code: grpc.StatusCode) -> str:
    """How the server treated the call, in the terms of `expected`."""
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return "unimplemented"  # the method is not even served: it proves nothing
    return _REFUSALS.get(code, "allowed")


@dataclass(frozen=True)
class Mismatch:
    """One (RPC, caller) pair where the server disagrees with the table."""

    rpc: str
    caller: str
    expected: str
    got: str
    code: str
    message: str


async def _check(
    platform: Platform, rpc: Rpc, caller: Caller, metadata: Metadata, limit: asyncio.Semaphore
) -> Mismatch | None:
    rule = RPC_RULES[rpc.name]
    want = expected(rule, caller)
    async with limit:
        code, message = await call_rpc(platform.channel, rpc, metadata)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED and want != "allowed":
        # A stream still open at its short deadline got past the guard, or the guard's answer
        # was slow under load: a refusal comes back before a long deadline, an open stream not.
        async with limit:
            code, message = await call_rpc(
                platform.channel, rpc, metadata, stream_timeout=_SLOW_REFUSAL_S
            )
    got = outcome(code)
    problem = ""
    if want != got:
        problem = got
    elif code in _BROKEN:
        problem = f"{got}, but {code.name}"
    elif (
        got == "denied"
        and rule.permission
        and not caller.node
        and (rule.permission.value not in message)
    ):
        problem = f"denied without naming {rule.permission.value}"
    if not problem:
        return None
    return Mismatch(rpc.short, caller.label, want, problem, code.name, message[:120])


async def walk(
    platform: Platform,
    rpcs: Sequence[Rpc],
    callers: Iterable[Caller],
    logout_sessions: dict[str, Metadata] | None = None,
) -> list[Mismatch]:
    """Call every RPC as every caller; return every disagreement with the table.

    `logout_sessions` maps a caller label to a separate session used only for Logout: an empty
    LogoutRequest ends the calling session, which must not be the one the walk goes on with.
    Calls run concurrently (bounded) because no call of the walk depends on another.
    """
    limit = asyncio.Semaphore(8)
    checks = [
        _check(
            platform,
            rpc,
            caller,
            (logout_sessions or {}).get(caller.label, caller.metadata)
            if rpc.name == LOGOUT
            else caller.metadata,
            limit,
        )
        for caller in callers
        for rpc in rpcs
    ]
    return [m for m in await asyncio.gather(*checks) if m is not None]


def table(mismatches: Sequence[Mismatch]) -> str:
    """A compact, aligned report of every mismatch."""
    head = ("RPC", "caller", "table says", "server did", "status", "message")
    rows = [head] + [(m.rpc, m.caller, m.expected, m.got, m.code, m.message) for m in mismatches]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    return f"{len(mismatches)} mismatch(es) with the permission table:\n" + "\n".join(lines)


async def _user_session(platform: Platform, role: int) -> tuple[user_pb2.User, Metadata, Metadata]:
    """A new user of `role` with two independent sessions (the second one is for Logout)."""
    user, password = await platform.create_user(role)
    first = await platform.login(user.username, password)
    second = await platform.login(user.username, password)
    return user, bearer(first.tokens.access_token), bearer(second.tokens.access_token)


async def _token_callers(
    platform: Platform, wanted: Sequence[tuple[str, frozenset[Permission]]]
) -> list[Caller]:
    """One API token per (label, scopes), all owned by one new ROLE_API user (creating a user
    per token would spend most of the test hashing passwords)."""
    owner, _ = await platform.create_user(common_pb2.ROLE_API)
    callers = []
    for label, scopes in wanted:
        resp = await platform.tokens.CreateApiToken(
            api_token_pb2.CreateApiTokenRequest(
                api_token=api_token_pb2.ApiToken(
                    name=f"t{secrets.token_hex(4)}",
                    owner_user_id=owner.id,
                    scopes=sorted(p.value for p in scopes),
                )
            ),
            metadata=platform.admin,
        )
        callers.append(
            Caller(
                label,
                bearer(resp.secret),
                scopes & ROLE_PERMISSIONS[Role.API],
                f'actor = "{owner.username} (token:{resp.api_token.id})"',
            )
        )
    return callers


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------
# The table covers the API exactly


def test_every_camfleet_rpc_has_a_rule() -> None:
    """A new RPC without an entry in RPC_RULES fails here with its name (the server would refuse
    it to everyone, fail closed)."""
    services = {r.descriptor.containing_service.name for r in RPCS}
    assert services >= {
        "AuthService",
        "UserService",
        "ApiTokenService",
        "CameraService",
        "AuditService",
        "NodeService",
        "AgentService",
        "StreamService",
    }, f"the descriptor walk found only {services}"
    missing = [r.name for r in RPCS if r.name not in RPC_RULES]
    assert not missing, "RPCs without a rule in RPC_RULES (server/auth/permissions.py):\n" + (
        "\n".join(missing)
    )
    for rpc in RPCS:  # a rule that needs a permission must name one, and vice versa
        rule = RPC_RULES[rpc.name]
        assert (rule.access is Access.PERMISSION) == (rule.permission is not None), rpc.name
        assert rule.access is not Access.NODE or rpc.short.startswith("AgentService/"), rpc.name


async def test_rule_table_names_only_methods_the_server_serves(platform: Platform) -> None:
    """Every entry of RPC_RULES is a method that exists and that this server serves, and every
    method it serves (its own, health, reflection) has an entry."""
    stub = reflection_pb2_grpc.ServerReflectionStub(platform.channel)
    call = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    services = {s.name async for r in call for s in r.list_services_response.service}
    assert "camfleet.v1.CameraService" in services, services
    pool = descriptor_pool.Default()
    served = {
        f"/{name}/{m.name}" for name in services for m in pool.FindServiceByName(name).methods
    }
    assert {r.name for r in RPCS} <= served, "camfleet.v1 services the server does not serve"
    stale = sorted(set(RPC_RULES) - served)
    assert not stale, "RPC_RULES entries for methods that do not exist here:\n" + "\n".join(stale)
    unguarded = sorted(served - set(RPC_RULES))
    assert not unguarded, "served methods without a rule:\n" + "\n".join(unguarded)


async def test_health_and_reflection_need_no_credential(platform: Platform) -> None:
    """Load balancers and grpcurl reach health and reflection without a token."""
    check = platform.channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    resp = await check(health_pb2.HealthCheckRequest(service="camfleet.v1.CameraService"))
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


# ---------------------------------------------------------------------------------------------
# Every RPC x every role


async def test_every_rpc_as_every_role_matches_the_table(platform: Platform) -> None:
    """Admin, operator, viewer, an API token with every scope, a node agent's credential and no
    credential at all: each
    RPC is refused or let through exactly as RPC_RULES and ROLE_PERMISSIONS say; every refusal
    names the missing permission and is in the audit log."""
    started = datetime.now(UTC)
    callers: list[Caller] = []
    logout_sessions: dict[str, Metadata] = {}
    for role, proto_role in _PROTO_ROLES.items():
        user, main, spare = await _user_session(platform, proto_role)
        callers.append(Caller(role.value, main, ROLE_PERMISSIONS[role], f'actor_id = "{user.id}"'))
        logout_sessions[role.value] = spare
    callers += await _token_callers(platform, [("api (all scopes)", ALL_PERMISSIONS)])
    callers.append(Caller("no credential", (), None))
    node = await platform.register_node()
    name = (
        await platform.nodes.GetNode(
            node_pb2.GetNodeRequest(id=node.node_id), metadata=platform.admin
        )
    ).node.name
    callers.append(
        Caller("node agent", bearer(node.credential), frozenset(), f'actor = "node:{name}"', True)
    )

    mismatches = await walk(platform, RPCS, callers, logout_sessions)
    assert not mismatches, table(mismatches)

    # Each refusal of a signed-in caller is an audit record naming the caller and the method.
    for caller in callers:
        if caller.permissions is None:
            continue
        denied = {r.name for r in RPCS if expected(RPC_RULES[r.name], caller) == "denied"}
        rows = await platform.audit_logs(f'action = "authz.denied" AND {caller.audit_actor}')
        assert {row.method for row in rows} == denied, caller.label
        assert all(row.outcome == "denied" and row.source_address == "127.0.0.1" for row in rows)
    # Calls without a credential are audited as failed authentication, per method.
    rows = await platform.audit_logs(f'action = "authn.failed" AND time >= "{_rfc3339(started)}"')
    needs_credential = {r.name for r in RPCS if RPC_RULES[r.name].access is not Access.PUBLIC}
    assert needs_credential <= {row.method for row in rows}


async def test_a_refusal_tells_the_caller_what_is_missing_and_is_audited(
    platform: Platform,
) -> None:
    """A viewer listing users: PERMISSION_DENIED naming users.read, and one audit record."""
    user, metadata, _ = await _user_session(platform, common_pb2.ROLE_VIEWER)
    rpc = next(r for r in RPCS if r.short == "UserService/ListUsers")
    code, message = await call_rpc(platform.channel, rpc, metadata)
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert "users.read" in message and "ListUsers" in message and user.username in message
    rows = await platform.audit_logs(f'action = "authz.denied" AND actor_id = "{user.id}"')
    assert len(rows) == 1
    row = rows[0]
    assert (row.outcome, row.method, row.actor) == ("denied", rpc.name, user.username)
    assert "users.read" in row.details["reason"]


async def test_another_users_password_needs_users_write(platform: Platform) -> None:
    """ChangePassword is open to every signed-in caller for their own password; someone else's
    needs users.write (checked in the domain, since it depends on user_id), and a refusal
    changes nothing."""
    operator, metadata, _ = await _user_session(platform, common_pb2.ROLE_OPERATOR)
    victim, password = await platform.create_user(common_pb2.ROLE_VIEWER)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.users.ChangePassword(
            user_pb2.ChangePasswordRequest(user_id=victim.id, new_password="taken-over-123"),
            metadata=metadata,
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "users.write" in (err.value.details() or "")
    assert (await platform.login(victim.username, password)).user.id == victim.id
    assert operator.id != victim.id


# ---------------------------------------------------------------------------------------------
# API tokens: scopes narrow the API role


async def test_api_token_scopes_grant_exactly_their_permissions(platform: Platform) -> None:
    """For every permission P: a token holding only P may call every RPC that needs P (and the
    ones that need no permission), and a token holding everything but P is refused exactly the
    RPCs that need P, with a message naming P."""
    callers = await _token_callers(
        platform,
        [
            wanted
            for p in sorted(ALL_PERMISSIONS)
            for wanted in (
                (f"token {{{p.value}}}", frozenset({p})),
                (f"token all-but {p.value}", ALL_PERMISSIONS - {p}),
            )
        ],
    )
    mismatches = await walk(platform, RPCS, callers)
    assert not mismatches, table(mismatches)

    # Spot-check the audit trail of one narrowed token: refused exactly where P was needed.
    narrowed = callers[1]
    missing = next(iter(ALL_PERMISSIONS - (narrowed.permissions or frozenset())))
    rows = await platform.audit_logs(f'action = "authz.denied" AND {narrowed.audit_actor}')
    assert {row.method for row in rows} == {
        r.name
        for r in RPCS
        if RPC_RULES[r.name].permission is missing or RPC_RULES[r.name].access is Access.NODE
    }
    assert all("(token:" in row.actor for row in rows)


async def test_token_scopes_cannot_exceed_the_owners_role(platform: Platform) -> None:
    """A viewer's token cannot carry users.write: the ceiling is the owner's role."""
    viewer, _ = await platform.create_user(common_pb2.ROLE_VIEWER)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.tokens.CreateApiToken(
            api_token_pb2.CreateApiTokenRequest(
                api_token=api_token_pb2.ApiToken(
                    name=f"t{secrets.token_hex(4)}",
                    owner_user_id=viewer.id,
                    scopes=[Permission.USERS_WRITE.value],
                )
            ),
            metadata=platform.admin,
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "users.write" in (err.value.details() or "")
    listed = await platform.tokens.ListApiTokens(
        api_token_pb2.ListApiTokensRequest(filter=f'owner_user_id = "{viewer.id}"'),
        metadata=platform.admin,
    )
    assert listed.total_size == 0
