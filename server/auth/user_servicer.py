"""camfleet.v1.UserService over UserService."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import user_pb2, user_pb2_grpc

from server.auth.convert import role_from_proto, role_to_proto
from server.auth.users import NewUser, UserService
from server.common.listing import ListRequest
from server.common.wire import timestamp
from server.db.models import UserRow
from server.identity.principal import current_principal


def user_to_proto(row: UserRow) -> user_pb2.User:
    """The API view of an account (never its password hash)."""
    return user_pb2.User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=role_to_proto(row.role),
        disabled=row.disabled,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
        last_login_time=timestamp(row.last_login_at),
    )


class UserServicer(user_pb2_grpc.UserServiceServicer):
    """Account management."""

    def __init__(self, users: UserService) -> None:
        self._users = users

    async def CreateUser(
        self, request: user_pb2.CreateUserRequest, context: Any
    ) -> user_pb2.CreateUserResponse:
        u = request.user
        row = await self._users.create(
            NewUser(
                u.username, u.display_name, role_from_proto(u.role), u.disabled, request.password
            )
        )
        return user_pb2.CreateUserResponse(user=user_to_proto(row))

    async def GetUser(
        self, request: user_pb2.GetUserRequest, context: Any
    ) -> user_pb2.GetUserResponse:
        return user_pb2.GetUserResponse(user=user_to_proto(await self._users.get(request.id)))

    async def ListUsers(
        self, request: user_pb2.ListUsersRequest, context: Any
    ) -> user_pb2.ListUsersResponse:
        page = await self._users.list(ListRequest.of(request))
        return user_pb2.ListUsersResponse(
            users=[user_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def UpdateUser(
        self, request: user_pb2.UpdateUserRequest, context: Any
    ) -> user_pb2.UpdateUserResponse:
        u = request.user
        row = await self._users.update(
            current_principal(),
            u.id,
            list(request.update_mask.paths),
            {
                "display_name": u.display_name,
                "role": role_from_proto(u.role),
                "disabled": u.disabled,
            },
        )
        return user_pb2.UpdateUserResponse(user=user_to_proto(row))

    async def DeleteUser(
        self, request: user_pb2.DeleteUserRequest, context: Any
    ) -> user_pb2.DeleteUserResponse:
        await self._users.delete(current_principal(), request.id)
        return user_pb2.DeleteUserResponse()

    async def ChangePassword(
        self, request: user_pb2.ChangePasswordRequest, context: Any
    ) -> user_pb2.ChangePasswordResponse:
        await self._users.change_password(
            current_principal(), request.user_id, request.current_password, request.new_password
        )
        return user_pb2.ChangePasswordResponse()
