"""Client addresses, login limits and file modes in the `./start` topology (issue 10, findings 2,
4 and 6): the launcher's control plane, node agent and Envoy, with clients reaching Envoy from
different loopback addresses (127.0.0.N, through a forwarder bound to that source).

Envoy reaches the control plane on its proxy Unix socket (0600), the only place whose
x-forwarded-for is believed, and appends the address it saw: two browsers are two addresses,
and nothing a client writes in x-forwarded-for is taken for its address."""

from __future__ import annotations

import os
import pwd
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import (
    api_token_pb2,
    api_token_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    common_pb2,
    user_pb2,
    user_pb2_grpc,
)

from tests.support.assertions import now_filter, refused
from tests.support.local_platform import LocalPlatform, run_local_platform
from tests.support.platform import Metadata, bearer
from tests.support.source_address import channel_from

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
STRONG = "lantern-orchid-4821"


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """./start as it is, but for an hour-long login-limit window: the windows are fixed and
    aligned to the clock, and one that rolled over in the middle of a burst of guesses would
    reset the counts the tests check."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAMFLEET_LOGIN_LIMIT_WINDOW", "3600")
        with run_local_platform(tmp_path_factory.mktemp("identity-start")) as lp:
            yield lp


def envoy_port(lp: LocalPlatform) -> int:
    return int(lp.envoy_target.rsplit(":", 1)[1])


async def admin(lp: LocalPlatform) -> tuple[grpc.aio.Channel, Metadata]:
    """A direct channel to the control plane (the test's own, from 127.0.0.1) and admin's
    credentials on it."""
    channel = grpc.aio.insecure_channel(lp.grpc_target)
    resp = await auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(username="admin", password=lp.admin_password)
    )
    return channel, bearer(resp.tokens.access_token)


async def audit(lp: LocalPlatform, filter_text: str) -> list[audit_pb2.AuditLog]:
    channel, creds = await admin(lp)
    async with channel:
        resp = await audit_pb2_grpc.AuditServiceStub(channel).ListAuditLogs(
            audit_pb2.ListAuditLogsRequest(filter=filter_text, page_size=1000), metadata=creds
        )
    return list(resp.audit_logs)


async def login(
    channel: grpc.aio.Channel, username: str, password: str, metadata: Metadata = ()
) -> auth_pb2.LoginResponse:
    return await auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(username=username, password=password), metadata=metadata, timeout=30
    )


async def status_of(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as err:
        return err.code().name
    return "OK"


async def new_user(lp: LocalPlatform, role: common_pb2.Role.ValueType) -> user_pb2.User:
    channel, creds = await admin(lp)
    async with channel:
        resp = await user_pb2_grpc.UserServiceStub(channel).CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=f"u{secrets.token_hex(5)}", role=role),
                password=STRONG,
            ),
            metadata=creds,
        )
    return resp.user


async def test_spoofed_forwarded_for_through_envoy_is_ignored_and_limited(
    started: LocalPlatform,
) -> None:
    since = now_filter()
    async with channel_from(
        "127.0.0.2", envoy_port(started), started.edge_credentials()
    ) as browser:
        seen = [
            await status_of(
                login(
                    browser,
                    "admin",
                    f"not-it-{i}",
                    (("x-forwarded-for", f"10.77.{i}.{i + 1}"),),
                )
            )
            for i in range(40)
        ]
        # Two headers, the second one fake too: still the address Envoy saw.
        seen.append(
            await status_of(
                login(
                    browser,
                    "admin",
                    "not-it",
                    (("x-forwarded-for", "10.77.0.1"), ("x-forwarded-for", "10.77.0.2")),
                )
            )
        )
    assert seen == ["UNAUTHENTICATED"] * 5 + ["RESOURCE_EXHAUSTED"] * 36, seen
    rows = await audit(started, f'action = "auth.login_failed" AND time >= "{since}"')
    assert [r.source_address for r in rows] == ["127.0.0.2"] * 5
    limited = await audit(started, f'action = "auth.rate_limited" AND time >= "{since}"')
    assert limited and {r.source_address for r in limited} == {"127.0.0.2"}


async def test_one_browsers_bad_logins_do_not_lock_out_another(started: LocalPlatform) -> None:
    port = envoy_port(started)
    async with channel_from("127.0.0.3", port, started.edge_credentials()) as attacker:
        seen = [await status_of(login(attacker, "admin", f"guess-{i}")) for i in range(25)]
        assert seen.count("RESOURCE_EXHAUSTED") == 20, seen
    async with channel_from("127.0.0.4", port, started.edge_credentials()) as owner:
        assert (await login(owner, "admin", started.admin_password)).user.username == "admin"

    viewer = await new_user(started, common_pb2.ROLE_VIEWER)
    async with channel_from("127.0.0.5", port, started.edge_credentials()) as attacker:
        assert [await status_of(login(attacker, viewer.username, "x" * 12)) for _ in range(5)] == [
            "UNAUTHENTICATED"
        ] * 5
    async with channel_from("127.0.0.6", port, started.edge_credentials()) as owner:
        assert (await login(owner, viewer.username, STRONG)).user.id == viewer.id


async def test_an_ip_restricted_api_token_ignores_forwarded_for(started: LocalPlatform) -> None:
    owner = await new_user(started, common_pb2.ROLE_API)
    channel, creds = await admin(started)
    async with channel:
        tokens = api_token_pb2_grpc.ApiTokenServiceStub(channel)
        secrets_by_net = {}
        for net in ("10.9.9.0/24", "127.0.0.7/32"):
            made = await tokens.CreateApiToken(
                api_token_pb2.CreateApiTokenRequest(
                    api_token=api_token_pb2.ApiToken(
                        name=f"t{secrets.token_hex(4)}",
                        owner_user_id=owner.id,
                        scopes=["cameras.read"],
                        allowed_cidrs=[net],
                    )
                ),
                metadata=creds,
            )
            secrets_by_net[net] = made.secret
    spoof = (("x-forwarded-for", "10.9.9.9"),)

    def whoami(ch: grpc.aio.Channel, secret: str) -> object:
        return auth_pb2_grpc.AuthServiceStub(ch).WhoAmI(
            auth_pb2.WhoAmIRequest(), metadata=bearer(secret) + spoof, timeout=30
        )

    async with channel_from(
        "127.0.0.7", envoy_port(started), started.edge_credentials()
    ) as browser:
        refusal = await refused(whoami(browser, secrets_by_net["10.9.9.0/24"]), DENIED)
        assert "127.0.0.7" in refusal.message, refusal.message
        # The address Envoy saw is what counts: the token for it works, spoof or not.
        reply = await whoami(browser, secrets_by_net["127.0.0.7/32"])
        assert reply.api_token_id  # type: ignore[attr-defined]
    # Straight to the control plane's TCP port, x-forwarded-for is not believed at all.
    async with grpc.aio.insecure_channel(started.grpc_target) as direct:
        refusal = await refused(whoami(direct, secrets_by_net["10.9.9.0/24"]), DENIED)
        assert "127.0.0.1" in refusal.message, refusal.message


DENIED = grpc.StatusCode.PERMISSION_DENIED


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_only_the_owner_reads_the_data_directory_and_reaches_the_proxy_socket(
    started: LocalPlatform,
) -> None:
    data = started.data_dir
    try:
        workers_gid: int | None = pwd.getpwnam("www-data").pw_gid if os.geteuid() == 0 else None
    except KeyError:
        workers_gid = None
    if workers_gid is None:
        assert mode(data) == 0o700
    else:  # nginx's unprivileged workers may pass through to DATA_DIR/node: not list, not read
        assert (mode(data), data.stat().st_gid) == (0o710, workers_gid)
    for name in ("camfleet.db", "camfleet.db-wal", "camfleet.db-shm", "admin-password"):
        assert mode(data / name) == 0o600, name
    run = data / "run"
    assert mode(run) == 0o700
    assert mode(data / "logs") == 0o700
    socket = run / "control-plane.sock"
    assert stat.S_ISSOCK(socket.stat().st_mode) and mode(socket) == 0o600
