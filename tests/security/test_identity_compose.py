"""Client addresses in the compose topology, as processes (issue 10, finding 2): two control
planes on PostgreSQL + Redis with CAMFLEET_TRUSTED_PROXIES='*' behind one real Envoy, clients
reaching Envoy from different loopback addresses (127.0.0.N, through a forwarder bound to that
source).

With '*' every direct peer is a proxy, and the control planes used to take the leftmost
x-forwarded-for entry, which the client writes: 40 failed logins with 40 spoofed addresses were
never limited, the audit log recorded the fake addresses, and an API token restricted to
10.9.9.0/24 worked with `x-forwarded-for: 10.9.9.9`. Now only the entry Envoy appended counts."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import auth_pb2, auth_pb2_grpc

from harness.databases import REDIS_URL, throwaway_postgres, throwaway_redis_prefix
from tests.support.assertions import audit_since, now_filter, refused
from tests.support.envoy import running_envoy
from tests.support.platform import (
    ADMIN_PASSWORD,
    Metadata,
    Platform,
    bearer,
    settings_for_tests,
    start_platform,
    stop_platform,
)
from tests.support.source_address import channel_from


@dataclass
class Compose:
    planes: list[Platform]
    envoy_port: int


@pytest.fixture
async def compose(tmp_path: Path) -> AsyncIterator[Compose]:
    """compose.yaml's control planes and Envoy, as local processes (the planes in process)."""
    with ExitStack() as stack:
        url = stack.enter_context(throwaway_postgres())
        prefix = stack.enter_context(throwaway_redis_prefix())
        planes: list[Platform] = []
        try:
            for n in (1, 2):
                settings = settings_for_tests(
                    tmp_path / f"plane-{n}",
                    database_url=url,
                    redis_url=REDIS_URL,
                    redis_prefix=prefix,
                    trust_any_proxy=True,  # CAMFLEET_TRUSTED_PROXIES: "*" as in compose.yaml
                    login_limit_per_address=20,  # the defaults, not the tests' relaxed ones
                    # Fixed windows aligned to the clock: one rolling over in the middle of a
                    # burst would reset the counts checked here.
                    login_limit_window=timedelta(hours=1),
                    audit_flood_limit=30,
                )
                planes.append(await start_platform(settings, "postgres"))
            upstreams = [("127.0.0.1", p.plane.port) for p in planes]
            async with running_envoy(upstreams, tmp_path) as port:
                yield Compose(planes, port)
        finally:
            for p in planes:
                await stop_platform(p)


async def status_of(channel: grpc.aio.Channel, username: str, metadata: Metadata) -> str:
    try:
        await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username=username, password="not-the-password"),
            metadata=metadata,
            timeout=30,
        )
    except grpc.aio.AioRpcError as err:
        return err.code().name
    return "OK"


async def test_forty_spoofed_addresses_are_one_client_limited_and_audited_as_it(
    compose: Compose,
) -> None:
    one = compose.planes[0]
    since = now_filter()
    async with channel_from("127.0.0.2", compose.envoy_port) as browser:
        # One account: limited per (account, address), whatever the header says.
        at_admin = [
            await status_of(browser, "admin", (("x-forwarded-for", f"10.66.0.{i}"),))
            for i in range(40)
        ]
    assert at_admin == ["UNAUTHENTICATED"] * 5 + ["RESOURCE_EXHAUSTED"] * 35, at_admin
    async with channel_from("127.0.0.3", compose.envoy_port) as sprayer:
        # Many accounts: limited per address (20), shared by both replicas through Redis.
        spray = [
            await status_of(
                sprayer, f"spray{secrets.token_hex(4)}", (("x-forwarded-for", f"10.67.0.{i}"),)
            )
            for i in range(40)
        ]
    assert spray == ["UNAUTHENTICATED"] * 20 + ["RESOURCE_EXHAUSTED"] * 20, spray

    failed = await audit_since(one, since, "auth.login_failed")
    assert sorted({r.source_address for r in failed}) == ["127.0.0.2", "127.0.0.3"]
    assert len(failed) == 25
    limited = await audit_since(one, since, "auth.rate_limited")
    assert limited and {r.source_address for r in limited} <= {"127.0.0.2", "127.0.0.3"}

    # The owner, elsewhere, is not locked out by any of it.
    async with channel_from("127.0.0.4", compose.envoy_port) as owner:
        reply = await auth_pb2_grpc.AuthServiceStub(owner).Login(
            auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=30
        )
    assert reply.user.username == "admin"


async def test_an_ip_restricted_api_token_is_refused_with_a_forged_forwarded_for(
    compose: Compose,
) -> None:
    one = compose.planes[0]
    made, _ = await one.new_api_token(["cameras.read"], allowed_cidrs=["10.9.9.0/24"])
    since = now_filter()
    async with channel_from("127.0.0.5", compose.envoy_port) as browser:
        stub = auth_pb2_grpc.AuthServiceStub(browser)
        for _ in range(4):  # Envoy spreads these over both replicas
            refusal = await refused(
                stub.WhoAmI(
                    auth_pb2.WhoAmIRequest(),
                    metadata=(*bearer(made.secret), ("x-forwarded-for", "10.9.9.9")),
                    timeout=30,
                ),
                grpc.StatusCode.PERMISSION_DENIED,
            )
            assert "127.0.0.5" in refusal.message, refusal.message
    denied = await audit_since(one, since, "authn.failed")
    assert denied and {r.source_address for r in denied} == {"127.0.0.5"}
