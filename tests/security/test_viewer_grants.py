"""Which events revoke a principal's signed URLs (server/nodes/grants.py), through the real API
and database: a user disabled or deleted, their password changed, all their sessions ended, an
API token revoked do; ending one session, renaming a user or enabling one do not. Each
revocation is also in the Assignment the control plane sends a node (tests/security/
test_viewer.py shows the node refusing the URLs)."""

from __future__ import annotations

from datetime import timedelta

from camfleet.v1 import api_token_pb2, auth_pb2, common_pb2, user_pb2
from google.protobuf import field_mask_pb2

from server.db.engine import session_factory
from server.nodes.agent_wire import assignment_to_proto
from server.nodes.assignments import AssignmentBuilder
from server.nodes.grants import RevokedGrants
from tests.support.platform import Platform, bearer


async def revoked(platform: Platform) -> set[str]:
    grants = RevokedGrants(session_factory(platform.plane.engine), timedelta(hours=1))
    return {g.principal for g in await grants.read()}


async def update(platform: Platform, user_id: str, **fields: object) -> None:
    await platform.users.UpdateUser(
        user_pb2.UpdateUserRequest(
            user=user_pb2.User(id=user_id, **fields),  # type: ignore[arg-type]
            update_mask=field_mask_pb2.FieldMask(paths=list(fields)),
        ),
        metadata=platform.admin,
    )


async def test_what_revokes_a_users_urls(platform: Platform) -> None:
    renamed, _ = await platform.create_user(common_pb2.ROLE_VIEWER)
    await update(platform, renamed.id, display_name="Someone Else")
    disabled, _ = await platform.create_user(common_pb2.ROLE_VIEWER)
    await update(platform, disabled.id, disabled=True)
    deleted, _ = await platform.create_user(common_pb2.ROLE_VIEWER)
    await platform.users.DeleteUser(
        user_pb2.DeleteUserRequest(id=deleted.id), metadata=platform.admin
    )
    reset, _ = await platform.create_user(common_pb2.ROLE_VIEWER)
    await platform.users.ChangePassword(
        user_pb2.ChangePasswordRequest(user_id=reset.id, new_password="quartz-meadow-7713"),
        metadata=platform.admin,
    )
    one, password = await platform.create_user(common_pb2.ROLE_OPERATOR)
    session = bearer((await platform.login(one.username, password)).tokens.access_token)
    await platform.auth.Logout(auth_pb2.LogoutRequest(), metadata=session)
    every, password = await platform.create_user(common_pb2.ROLE_OPERATOR)
    session = bearer((await platform.login(every.username, password)).tokens.access_token)
    await platform.auth.Logout(auth_pb2.LogoutRequest(all_sessions=True), metadata=session)

    found = await revoked(platform)
    assert {disabled.id, deleted.id, reset.id, every.id} <= found
    assert not {renamed.id, one.id} & found


async def test_a_revoked_api_token_is_revoked_and_sent_to_nodes(platform: Platform) -> None:
    owner, _ = await platform.create_user(common_pb2.ROLE_API)
    created = await platform.tokens.CreateApiToken(
        api_token_pb2.CreateApiTokenRequest(
            api_token=api_token_pb2.ApiToken(
                name="t", owner_user_id=owner.id, scopes=["recordings.read"]
            )
        ),
        metadata=platform.admin,
    )
    token_id = created.api_token.id
    assert token_id not in await revoked(platform)
    await platform.tokens.RevokeApiToken(
        api_token_pb2.RevokeApiTokenRequest(id=token_id), metadata=platform.admin
    )
    assert token_id in await revoked(platform)
    # What a node is sent: its assignment names the principal with its not-before time.
    node = (await platform.register_node()).node_id
    sessions = session_factory(platform.plane.engine)
    builder = AssignmentBuilder(sessions, grants=RevokedGrants(sessions, timedelta(hours=1)))
    assignment = await builder.current(node)
    assert assignment is not None
    wire = assignment_to_proto(assignment)
    sent = {g.principal: g.not_before.seconds for g in wire.revoked_grants}
    assert token_id in sent and sent[token_id] > 0
