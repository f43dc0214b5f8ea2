"""A running control plane for tests, with typed stubs and helpers to log in as any role."""

from __future__ import annotations

import asyncio
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import grpc
from camfleet.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    api_token_pb2,
    api_token_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    event_pb2,
    event_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    stream_pb2_grpc,
    user_pb2,
    user_pb2_grpc,
)
from google.protobuf import duration_pb2, field_mask_pb2

from harness.databases import TEST_POOL_SIZE
from server.app import ControlPlane, start
from server.config import Settings

ADMIN_PASSWORD = "admin-password-1"
Metadata = tuple[tuple[str, str], ...]


def bearer(token: str) -> Metadata:
    """Call metadata carrying `token`."""
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Platform:
    """One control plane on an ephemeral port and a channel to it."""

    plane: ControlPlane
    settings: Settings
    channel: grpc.aio.Channel
    backend: str
    admin: Metadata = ()
    _role_tokens: dict[int, Metadata] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.plane.port}"

    @property
    def auth(self) -> auth_pb2_grpc.AuthServiceStub:
        return auth_pb2_grpc.AuthServiceStub(self.channel)

    @property
    def users(self) -> user_pb2_grpc.UserServiceStub:
        return user_pb2_grpc.UserServiceStub(self.channel)

    @property
    def tokens(self) -> api_token_pb2_grpc.ApiTokenServiceStub:
        return api_token_pb2_grpc.ApiTokenServiceStub(self.channel)

    @property
    def cameras(self) -> camera_pb2_grpc.CameraServiceStub:
        return camera_pb2_grpc.CameraServiceStub(self.channel)

    @property
    def audit(self) -> audit_pb2_grpc.AuditServiceStub:
        return audit_pb2_grpc.AuditServiceStub(self.channel)

    @property
    def nodes(self) -> node_pb2_grpc.NodeServiceStub:
        return node_pb2_grpc.NodeServiceStub(self.channel)

    @property
    def agents(self) -> agent_pb2_grpc.AgentServiceStub:
        return agent_pb2_grpc.AgentServiceStub(self.channel)

    @property
    def streams(self) -> stream_pb2_grpc.StreamServiceStub:
        return stream_pb2_grpc.StreamServiceStub(self.channel)

    async def join_token(self, max_uses: int = 1) -> str:
        """A fresh join token's secret, created by the admin."""
        resp = await self.nodes.CreateJoinToken(
            node_pb2.CreateJoinTokenRequest(join_token=node_pb2.JoinToken(max_uses=max_uses)),
            metadata=self.admin,
        )
        return resp.secret

    async def register_node(self, name: str = "") -> agent_pb2.RegisterNodeResponse:
        """A new node registered with a fresh join token: its id and `cfn_` credential."""
        return await self.agents.RegisterNode(
            agent_pb2.RegisterNodeRequest(
                join_token=await self.join_token(), name=name or f"node-{secrets.token_hex(4)}"
            )
        )

    async def login(self, username: str, password: str) -> auth_pb2.LoginResponse:
        return await self.auth.Login(auth_pb2.LoginRequest(username=username, password=password))

    async def create_user(
        self, role: common_pb2.Role.ValueType, password: str = "lantern-orchid-4821", name: str = ""
    ) -> tuple[user_pb2.User, str]:
        """A new user with a unique name; returns it and its password."""
        username = name or f"u{secrets.token_hex(5)}"
        resp = await self.users.CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=username, role=role), password=password
            ),
            metadata=self.admin,
        )
        return resp.user, password

    async def as_role(self, role: common_pb2.Role.ValueType) -> Metadata:
        """Metadata of a fresh session of a new user with `role` (cached per role)."""
        if role not in self._role_tokens:
            user, password = await self.create_user(role)
            resp = await self.login(user.username, password)
            self._role_tokens[role] = bearer(resp.tokens.access_token)
        return self._role_tokens[role]

    async def new_api_token(
        self,
        scopes: list[str],
        owner_role: common_pb2.Role.ValueType = common_pb2.ROLE_API,
        ttl: duration_pb2.Duration | None = None,
        **fields: object,
    ) -> tuple[api_token_pb2.CreateApiTokenResponse, user_pb2.User]:
        """A token with `scopes` of a new owner with `owner_role`, created by the admin; and the
        owner."""
        owner, _ = await self.create_user(owner_role)
        resp = await self.tokens.CreateApiToken(
            api_token_pb2.CreateApiTokenRequest(
                api_token=api_token_pb2.ApiToken(
                    name=f"t{secrets.token_hex(5)}",
                    owner_user_id=owner.id,
                    scopes=scopes,
                    **fields,  # type: ignore[arg-type]
                ),
                ttl=ttl,
            ),
            metadata=self.admin,
        )
        return resp, owner

    async def api_token(self, scopes: list[str], **fields: object) -> str:
        """Secret of a new API token of a new ROLE_API user with `scopes`."""
        created, _ = await self.new_api_token(scopes, **fields)  # type: ignore[arg-type]
        return created.secret

    async def new_camera(self, name: str = "", **fields: object) -> camera_pb2.Camera:
        """A camera with a unique name."""
        resp = await self.cameras.CreateCamera(
            camera_pb2.CreateCameraRequest(
                camera=camera_pb2.Camera(name=name or f"cam-{secrets.token_hex(5)}", **fields)  # type: ignore[arg-type]
            ),
            metadata=self.admin,
        )
        return resp.camera

    async def revision(self) -> int:
        """The event log's revision now (what a WatchEvents from here would resume after)."""
        resp = await self.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(page_size=1), metadata=self.admin
        )
        assert resp.revision > 0  # 0 would mean "from now" to WatchEvents
        return resp.revision

    async def audit_logs(self, filter_text: str) -> list[audit_pb2.AuditLog]:
        resp = await self.audit.ListAuditLogs(
            audit_pb2.ListAuditLogsRequest(filter=filter_text, page_size=1000), metadata=self.admin
        )
        return list(resp.audit_logs)

    async def events_until(
        self, metadata: Metadata, after: int, last: Callable[[event_pb2.Event], bool]
    ) -> list[event_pb2.Event]:
        """What a WatchEvents from `after` with `metadata` delivers, up to and including the first
        event `last` accepts (fails after 10 s)."""
        call = event_pb2_grpc.EventServiceStub(self.channel).WatchEvents(
            event_pb2.WatchEventsRequest(after_revision=after), metadata=metadata
        )
        seen: list[event_pb2.Event] = []
        try:
            async with asyncio.timeout(10):
                async for resp in call:
                    seen.append(resp.event)
                    if last(resp.event):
                        break
        finally:
            call.cancel()
        return seen


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def settings_for_tests(data_dir: Path, **overrides: object) -> Settings:
    """Settings for an in-process test server on an ephemeral loopback port."""
    base = Settings(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        admin_password=ADMIN_PASSWORD,
        # Every test connects from 127.0.0.1: a per-address limit this low would make unrelated
        # tests refuse each other. The rate-limit tests start servers with their own limits.
        login_limit_per_address=10_000,
        # Likewise the audit log's flood guard: the permission walk refuses hundreds of calls
        # from 127.0.0.1 on purpose and checks each one was recorded.
        audit_flood_limit=1_000_000,
        # Tests start control planes all the time; nodes must not get a grace after each start.
        node_startup_grace=timedelta(0),
        # Every test publisher is 127.0.0.1, like the login limit above.
        unknown_key_limit=10_000,
        database_pool_size=TEST_POOL_SIZE,
        # A worker's shared planes live the whole run (over 15 minutes): their admin's access
        # token must not expire under the last modules. Expiry is tested with planes of its own.
        access_token_ttl=timedelta(hours=6),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


async def start_platform(settings: Settings, backend: str) -> Platform:
    """Start a control plane and log in as admin."""
    plane = await start(settings)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{plane.port}")
    platform = Platform(plane=plane, settings=settings, channel=channel, backend=backend)
    resp = await platform.login("admin", ADMIN_PASSWORD)
    platform.admin = bearer(resp.tokens.access_token)
    return platform


STOP_WITHIN_S = 60.0


async def stop_platform(platform: Platform) -> None:
    """Stop the control plane; one that does not stop within a minute fails the test with the
    stacks of every task still running (what it waits for), not with pytest-timeout's."""
    try:
        async with asyncio.timeout(STOP_WITHIN_S):
            await platform.channel.close()
            await platform.plane.stop(grace=1.0)
    except TimeoutError:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=12, file=stacks)
        raise AssertionError(
            f"the control plane did not stop within {STOP_WITHIN_S:.0f} s; its tasks:\n"
            + stacks.getvalue()
        ) from None


async def deactivate_pull_cameras(plane: Platform) -> None:
    """Deactivate every active pull camera of `plane` (they stop being placed anywhere)."""
    while True:
        listed = await plane.cameras.ListCameras(
            camera_pb2.ListCamerasRequest(
                filter="ingest_mode = PULL AND active = true", page_size=1000
            ),
            metadata=plane.admin,
        )
        if not listed.cameras:
            return
        await plane.cameras.BatchCameraAction(
            camera_pb2.BatchCameraActionRequest(
                ids=[c.id for c in listed.cameras], action=camera_pb2.CAMERA_ACTION_DEACTIVATE
            ),
            metadata=plane.admin,
        )
