"""The few API calls ./start makes as admin (scripts/local_platform.py): log in, make the
local node's join token, wait for the node to be READY. Over gRPC like any client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc
from camfleet.v1 import auth_pb2, auth_pb2_grpc, node_pb2, node_pb2_grpc

Metadata = tuple[tuple[str, str], ...]


class AdminError(Exception):
    """admin could not do what ./start needed; the message says why and what to do."""


class WrongPassword(AdminError):
    """The password is not (or no longer) admin's."""


async def login(channel: grpc.aio.Channel, password: str) -> Metadata:
    """Bearer metadata for `admin`; WrongPassword when the password is not admin's."""
    try:
        resp = await auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="admin", password=password), timeout=30
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise AdminError(f"cannot log in as admin: {exc.code().name} {exc.details()}") from None
        raise WrongPassword(
            f"cannot log in as admin ({exc.details()}); set CAMFLEET_ADMIN_PASSWORD to "
            "admin's current password"
        ) from None
    return (("authorization", f"Bearer {resp.tokens.access_token}"),)


async def wait_node_ready(
    channel: grpc.aio.Channel,
    auth: Metadata,
    name: str,
    within_s: float,
    check_alive: Callable[[], None],
) -> None:
    """Until the node `name` is READY (its nginx takes publishes); AdminError after `within_s`.
    `check_alive` raises when a process it depends on died (no point waiting then)."""
    nodes = node_pb2_grpc.NodeServiceStub(channel)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        check_alive()
        resp = await nodes.ListNodes(node_pb2.ListNodesRequest(), metadata=auth, timeout=10)
        if any(n.name == name and n.state == node_pb2.NODE_STATE_READY for n in resp.nodes):
            return
        await asyncio.sleep(0.2)
    raise AdminError(f"node {name!r} was not READY within {within_s:.0f}s")


async def create_join_token(channel: grpc.aio.Channel, auth: Metadata) -> str:
    """A single-use join token for the local node agent."""
    made = await node_pb2_grpc.NodeServiceStub(channel).CreateJoinToken(
        node_pb2.CreateJoinTokenRequest(
            join_token=node_pb2.JoinToken(description="./start's local node", max_uses=1)
        ),
        metadata=auth,
        timeout=10,
    )
    return str(made.secret)
