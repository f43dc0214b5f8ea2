"""camfleet.v1.AuthService over SessionService."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import auth_pb2, auth_pb2_grpc, permission_pb2

from server.auth.sessions import SessionService, TokenPair
from server.auth.user_servicer import user_to_proto
from server.auth.users import UserService
from server.common.wire import timestamp
from server.identity.permissions import Permission
from server.identity.principal import current_principal


def _pair(pair: TokenPair) -> auth_pb2.TokenPair:
    return auth_pb2.TokenPair(
        access_token=pair.access_token,
        access_token_expire_time=timestamp(pair.access_expires_at),
        refresh_token=pair.refresh_token,
        refresh_token_expire_time=timestamp(pair.refresh_expires_at),
        token_type="Bearer",
    )


def permission_infos() -> dict[str, permission_pb2.PermissionInfo]:
    """Each permission's name → its description, from the options on camfleet.v1.Permission."""
    infos: dict[str, permission_pb2.PermissionInfo] = {}
    for value in permission_pb2.Permission.DESCRIPTOR.values:
        # Typed loosely in the generated stubs: extension values are plain strings here.
        options: Any = value.GetOptions().Extensions
        name: str = options[permission_pb2.permission_name]
        if name:  # PERMISSION_UNSPECIFIED has none
            infos[name] = permission_pb2.PermissionInfo(
                permission=value.name,
                name=name,
                description=options[permission_pb2.permission_description],
            )
    return infos


# The server's table (Permission) decides what is listed; the protos say what each one means.
_PERMISSIONS = permission_infos()


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Login, Refresh, Logout, WhoAmI, ListPermissions."""

    def __init__(self, sessions: SessionService, users: UserService) -> None:
        self._sessions = sessions
        self._users = users

    async def Login(self, request: auth_pb2.LoginRequest, context: Any) -> auth_pb2.LoginResponse:
        pair, user = await self._sessions.login(request.username, request.password)
        return auth_pb2.LoginResponse(tokens=_pair(pair), user=user_to_proto(user))

    async def Refresh(
        self, request: auth_pb2.RefreshRequest, context: Any
    ) -> auth_pb2.RefreshResponse:
        pair, user = await self._sessions.refresh(request.refresh_token)
        return auth_pb2.RefreshResponse(tokens=_pair(pair), user=user_to_proto(user))

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: Any
    ) -> auth_pb2.LogoutResponse:
        count = await self._sessions.logout(
            current_principal(), request.refresh_token, request.all_sessions
        )
        return auth_pb2.LogoutResponse(revoked_count=count)

    async def WhoAmI(
        self, request: auth_pb2.WhoAmIRequest, context: Any
    ) -> auth_pb2.WhoAmIResponse:
        principal = current_principal()
        user = await self._users.get(principal.user_id)
        return auth_pb2.WhoAmIResponse(
            user=user_to_proto(user),
            permissions=sorted(p.value for p in principal.permissions),
            auth_method=principal.auth_method,
            api_token_id=principal.api_token_id,
        )

    async def ListPermissions(
        self, request: auth_pb2.ListPermissionsRequest, context: Any
    ) -> auth_pb2.ListPermissionsResponse:
        return auth_pb2.ListPermissionsResponse(
            permissions=[_PERMISSIONS[p.value] for p in Permission]
        )
