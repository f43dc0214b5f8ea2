"""One vocabulary of permissions: the server's table and the protos name the same ones.

The protos declare each permission with its description (enum camfleet.v1.Permission, options
`permission_name` / `permission_description`); the generated TypeScript enum and the browser UI
read them from there, the server's vocabulary (`server.identity.permissions`) names them. A
permission added on one side only fails here by name.
"""

from __future__ import annotations

from camfleet.v1 import auth_pb2, common_pb2, permission_pb2

from server.identity.permissions import Permission
from tests.support.platform import Platform, bearer


def _proto_names() -> dict[str, str]:
    """Proto enum value name → the permission name its option declares (UNSPECIFIED left out)."""
    names = {}
    for value in permission_pb2.Permission.DESCRIPTOR.values:
        if value.number:
            names[value.name] = value.GetOptions().Extensions[permission_pb2.permission_name]
    return names


def test_the_protos_and_the_server_table_name_the_same_permissions() -> None:
    proto = set(_proto_names().values())
    server = {p.value for p in Permission}
    assert not server - proto, f"in server/identity/permissions.py only: {sorted(server - proto)}"
    only_proto = sorted(proto - server)
    assert not only_proto, f"in protos/camfleet/v1/permission.proto only: {only_proto}"


def test_each_proto_value_is_named_after_the_server_member() -> None:
    """PERMISSION_CAMERAS_READ is cameras.read on both sides, so TypeScript's
    Permission.CAMERAS_READ and Python's Permission.CAMERAS_READ mean the same thing."""
    for enum_name, name in _proto_names().items():
        assert enum_name == f"PERMISSION_{Permission(name).name}", (enum_name, name)


async def test_list_permissions_describes_every_permission_in_one_line(
    platform: Platform,
) -> None:
    """Any signed-in person (a viewer here) reads the whole vocabulary, in table order."""
    user, password = await platform.create_user(common_pb2.ROLE_VIEWER)
    login = await platform.login(user.username, password)
    answer = await platform.auth.ListPermissions(
        auth_pb2.ListPermissionsRequest(), metadata=bearer(login.tokens.access_token)
    )
    assert [p.name for p in answer.permissions] == [p.value for p in Permission]
    for info in answer.permissions:
        assert permission_pb2.Permission.Name(info.permission) == (
            f"PERMISSION_{Permission(info.name).name}"
        )
        assert info.description.strip() and "\n" not in info.description, info.name
    by_name = {p.name: p.description for p in answer.permissions}
    assert by_name["audit.read"] == "Read the audit log."
