"""UserService end to end on both backends: validation, listing, updates with masks, the
last-admin rule, password changes, and their audit records."""

from __future__ import annotations

import asyncio
import secrets

import grpc
import pytest
from camfleet.v1 import api_token_pb2, auth_pb2, common_pb2, user_pb2

from tests.conftest import PlatformFactory
from tests.support.assertions import audit_since, now_filter, refused
from tests.support.platform import Metadata, Platform, bearer, mask

INVALID = grpc.StatusCode.INVALID_ARGUMENT
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


# --- helpers -------------------------------------------------------------------------------


def unique(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(5)}"


async def create(
    platform: Platform,
    username: str,
    role: common_pb2.Role.ValueType = common_pb2.ROLE_VIEWER,
    password: str = "lantern-orchid-4821",
    **fields: object,
) -> user_pb2.User:
    resp = await platform.users.CreateUser(
        user_pb2.CreateUserRequest(
            user=user_pb2.User(username=username, role=role, **fields),  # type: ignore[arg-type]
            password=password,
        ),
        metadata=platform.admin,
    )
    return resp.user


async def get(platform: Platform, user_id: str) -> user_pb2.User:
    return (
        await platform.users.GetUser(user_pb2.GetUserRequest(id=user_id), metadata=platform.admin)
    ).user


async def update(
    platform: Platform, user: user_pb2.User, *paths: str, metadata: Metadata = ()
) -> user_pb2.User:
    resp = await platform.users.UpdateUser(
        user_pb2.UpdateUserRequest(user=user, update_mask=mask(*paths)),
        metadata=metadata or platform.admin,
    )
    return resp.user


async def usernames(platform: Platform, filter_text: str, order_by: str = "") -> list[str]:
    resp = await platform.users.ListUsers(
        user_pb2.ListUsersRequest(filter=filter_text, order_by=order_by, page_size=100),
        metadata=platform.admin,
    )
    assert resp.total_size == len(resp.users)
    return [u.username for u in resp.users]


async def whoami(platform: Platform, metadata: Metadata) -> auth_pb2.WhoAmIResponse:
    return await platform.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=metadata)


async def login_metadata(platform: Platform, username: str, password: str) -> Metadata:
    return bearer((await platform.login(username, password)).tokens.access_token)


async def exists(platform: Platform, username: str) -> bool:
    return bool(await usernames(platform, f'username = "{username}"'))


async def change_password(
    platform: Platform, metadata: Metadata, new: str, current: str = "", user_id: str = ""
) -> None:
    await platform.users.ChangePassword(
        user_pb2.ChangePasswordRequest(user_id=user_id, current_password=current, new_password=new),
        metadata=metadata,
    )


# --- create --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "x" * 65,
        "with space",
        "slash/name",
        "colon:name",
        "ünïcode",
        "quote'name",
        "",
        "newline\n",
        "nul\x00name",
    ],
    ids=[
        "too-short",
        "too-long",
        "space",
        "slash",
        "colon",
        "non-ascii",
        "quote",
        "empty",
        "trailing-newline",
        "nul",
    ],
)
async def test_create_refuses_bad_usernames(platform: Platform, username: str) -> None:
    refusal = await refused(create(platform, username), INVALID)
    assert "user.username" in refusal.fields
    assert "characters of letters, digits" in refusal.fields["user.username"]


async def test_create_accepts_usernames_at_the_edges(platform: Platform) -> None:
    shortest = f"a{secrets.token_hex(1)}"  # 3 characters
    longest = secrets.token_hex(32)  # 64 characters
    every_symbol = unique("a.b_c-d@e")
    for username in (shortest, longest, every_symbol):
        user = await create(platform, username)
        assert user.username == username
        assert user.id and user.HasField("create_time")


async def test_create_requires_a_role(platform: Platform) -> None:
    username = unique()
    refusal = await refused(create(platform, username, role=common_pb2.ROLE_UNSPECIFIED), INVALID)
    assert "ROLE_VIEWER" in refusal.fields["user.role"]
    assert not await exists(platform, username)


async def test_create_requires_a_password_of_twelve_characters(platform: Platform) -> None:
    username = unique()
    refusal = await refused(create(platform, username, password="elevenchars"), INVALID)
    assert "at least 12" in refusal.fields["password"]
    assert not await exists(platform, username)
    user = await create(platform, username, password="quiet-orbit9")
    assert (await platform.login(user.username, "quiet-orbit9")).user.id == user.id


async def test_duplicate_username_differing_in_case_is_refused(platform: Platform) -> None:
    username = unique("Dup")
    await create(platform, username)
    refusal = await refused(create(platform, username.upper()), grpc.StatusCode.ALREADY_EXISTS)
    assert username.upper() in refusal.message
    assert await usernames(platform, username) == [username]


async def test_only_admins_manage_users(platform: Platform) -> None:
    operator = await platform.as_role(common_pb2.ROLE_OPERATOR)
    refusal = await refused(
        platform.users.CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(username=unique(), role=common_pb2.ROLE_ADMIN),
                password="lantern-orchid-4821",
            ),
            metadata=operator,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "users.write" in refusal.message


# --- read ----------------------------------------------------------------------------------


async def test_get_returns_the_user_and_never_a_password(platform: Platform) -> None:
    created = await create(
        platform, unique(), display_name="Front Desk", password="secret-password-1"
    )
    got = await get(platform, created.id)
    assert got == created
    assert got.display_name == "Front Desk"
    assert b"secret-password-1" not in got.SerializeToString()

    missing = await refused(
        platform.users.GetUser(
            user_pb2.GetUserRequest(id="7f0c9e1e-0000-4000-8000-000000000000"),
            metadata=platform.admin,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "does not exist" in missing.message
    await refused(
        platform.users.GetUser(user_pb2.GetUserRequest(id="not-an-id"), metadata=platform.admin),
        INVALID,
    )


async def test_list_filters_searches_and_orders(platform: Platform) -> None:
    tag = unique("q")
    word = unique("w")
    await create(platform, f"{tag}.a", common_pb2.ROLE_VIEWER, display_name=f"Lobby {word}")
    await create(platform, f"{tag}.b", common_pb2.ROLE_OPERATOR)
    await create(platform, f"{tag}.c", common_pb2.ROLE_VIEWER, disabled=True)

    assert await usernames(platform, tag, "username") == [f"{tag}.a", f"{tag}.b", f"{tag}.c"]
    assert await usernames(platform, tag, "username desc") == [f"{tag}.c", f"{tag}.b", f"{tag}.a"]
    assert await usernames(platform, f"{tag} AND role = VIEWER", "username") == [
        f"{tag}.a",
        f"{tag}.c",
    ]
    assert await usernames(platform, f"{tag} AND disabled = false", "username") == [
        f"{tag}.a",
        f"{tag}.b",
    ]
    assert await usernames(platform, f"role = VIEWER AND disabled = false AND {tag}") == [
        f"{tag}.a"
    ]
    # Bare words search the display name too, case-insensitively.
    assert await usernames(platform, word.upper()) == [f"{tag}.a"]

    bad = await refused(
        platform.users.ListUsers(
            user_pb2.ListUsersRequest(filter="password = x"), metadata=platform.admin
        ),
        INVALID,
    )
    assert "filter" in bad.fields


# --- update --------------------------------------------------------------------------------


async def test_update_changes_only_the_masked_fields(platform: Platform) -> None:
    user = await create(platform, unique(), common_pb2.ROLE_VIEWER, display_name="Old")
    wanted = user_pb2.User(
        id=user.id, display_name="New Name", role=common_pb2.ROLE_OPERATOR, disabled=True
    )

    renamed = await update(platform, wanted, "display_name")
    assert (renamed.display_name, renamed.role, renamed.disabled) == (
        "New Name",
        common_pb2.ROLE_VIEWER,
        False,
    )
    assert renamed.update_time.ToDatetime() >= user.update_time.ToDatetime()

    promoted = await update(platform, wanted, "role")
    assert (promoted.role, promoted.disabled) == (common_pb2.ROLE_OPERATOR, False)
    disabled = await update(platform, wanted, "disabled")
    assert disabled.disabled
    assert await get(platform, user.id) == disabled


@pytest.mark.parametrize(
    "paths",
    [("password_hash",), ("username",), ("display_name", "id"), ()],
    ids=["password-hash", "username", "id", "empty"],
)
async def test_update_refuses_fields_it_cannot_change(
    platform: Platform, paths: tuple[str, ...]
) -> None:
    user = await create(platform, unique(), display_name="Keep")
    changed = user_pb2.User(id=user.id, username=unique(), display_name="Changed")
    refusal = await refused(update(platform, changed, *paths), INVALID)
    assert "disabled, display_name, role" in refusal.fields["update_mask"]
    assert await get(platform, user.id) == user


async def test_update_refuses_an_unspecified_role(platform: Platform) -> None:
    user = await create(platform, unique())
    refusal = await refused(
        update(platform, user_pb2.User(id=user.id, role=common_pb2.ROLE_UNSPECIFIED), "role"),
        INVALID,
    )
    assert "user.role" in refusal.fields
    assert await get(platform, user.id) == user


async def test_disabling_a_user_ends_their_sessions_at_once(platform: Platform) -> None:
    user = await create(platform, unique())
    login = await platform.login(user.username, "lantern-orchid-4821")
    metadata = bearer(login.tokens.access_token)
    await whoami(platform, metadata)  # now cached in the server

    await update(platform, user_pb2.User(id=user.id, disabled=True), "disabled")
    refusal = await refused(whoami(platform, metadata), UNAUTHENTICATED)
    assert "disabled" in refusal.message
    await refused(
        platform.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)),
        UNAUTHENTICATED,
    )

    # Enabling again does not revive the old session, but the user can log in anew.
    await update(platform, user_pb2.User(id=user.id, disabled=False), "disabled")
    ended = await refused(whoami(platform, metadata), UNAUTHENTICATED)
    assert ended.reason == "TOKEN_REVOKED"
    await whoami(platform, await login_metadata(platform, user.username, "lantern-orchid-4821"))


async def test_role_change_applies_to_live_sessions(platform: Platform) -> None:
    user = await create(platform, unique(), common_pb2.ROLE_OPERATOR)
    metadata = await login_metadata(platform, user.username, "lantern-orchid-4821")
    assert "cameras.write" in (await whoami(platform, metadata)).permissions
    await update(platform, user_pb2.User(id=user.id, role=common_pb2.ROLE_VIEWER), "role")
    assert "cameras.write" not in (await whoami(platform, metadata)).permissions


# --- delete --------------------------------------------------------------------------------


async def test_delete_removes_the_user(platform: Platform) -> None:
    user = await create(platform, unique())
    await platform.users.DeleteUser(user_pb2.DeleteUserRequest(id=user.id), metadata=platform.admin)
    await refused(
        platform.users.GetUser(user_pb2.GetUserRequest(id=user.id), metadata=platform.admin),
        grpc.StatusCode.NOT_FOUND,
    )
    await refused(platform.login(user.username, "lantern-orchid-4821"), UNAUTHENTICATED)
    await refused(
        platform.users.DeleteUser(user_pb2.DeleteUserRequest(id=user.id), metadata=platform.admin),
        grpc.StatusCode.NOT_FOUND,
    )
    # The name is free again.
    assert (await create(platform, user.username)).id != user.id


async def test_nobody_deletes_their_own_account(platform: Platform) -> None:
    me = await create(platform, unique(), common_pb2.ROLE_ADMIN)
    metadata = await login_metadata(platform, me.username, "lantern-orchid-4821")
    refusal = await refused(
        platform.users.DeleteUser(user_pb2.DeleteUserRequest(id=me.id), metadata=metadata),
        FAILED_PRECONDITION,
    )
    assert "your own account" in refusal.message
    still = await get(platform, me.id)
    assert (still.role, still.disabled) == (common_pb2.ROLE_ADMIN, False)


# --- the last enabled admin ----------------------------------------------------------------


async def users_write_token(p: Platform) -> Metadata:
    """An API token with users.write: a caller that is not an admin user, so it may try to
    delete the only admin."""
    owner = await create(p, unique("bot"), common_pb2.ROLE_API)
    resp = await p.tokens.CreateApiToken(
        api_token_pb2.CreateApiTokenRequest(
            api_token=api_token_pb2.ApiToken(
                name=unique("t"), owner_user_id=owner.id, scopes=["users.read", "users.write"]
            )
        ),
        metadata=p.admin,
    )
    return bearer(resp.secret)


async def test_the_last_enabled_admin_cannot_be_removed(make_platform: PlatformFactory) -> None:
    p = await make_platform()
    admin = (await whoami(p, p.admin)).user
    # A disabled admin does not count: nobody could log in with it.
    spare = await create(p, unique("spare"), common_pb2.ROLE_ADMIN, disabled=True)

    attempts = {
        "demote": update(p, user_pb2.User(id=admin.id, role=common_pb2.ROLE_OPERATOR), "role"),
        "disable": update(p, user_pb2.User(id=admin.id, disabled=True), "disabled"),
        "delete": p.users.DeleteUser(
            user_pb2.DeleteUserRequest(id=admin.id), metadata=await users_write_token(p)
        ),
    }
    for what, attempt in attempts.items():
        refusal = await refused(attempt, FAILED_PRECONDITION)
        assert "last enabled admin" in refusal.message, what
        assert "make another admin first" in refusal.message
        # Nothing changed, and the admin's session still works.
        assert await get(p, admin.id) == admin
        assert (await whoami(p, p.admin)).user.role == common_pb2.ROLE_ADMIN

    # With a second enabled admin, the first may step down.
    await update(p, user_pb2.User(id=spare.id, disabled=False), "disabled")
    demoted = await update(p, user_pb2.User(id=admin.id, role=common_pb2.ROLE_VIEWER), "role")
    assert demoted.role == common_pb2.ROLE_VIEWER
    # ... and now the spare is the last one.
    await refused(
        update(
            p,
            user_pb2.User(id=spare.id, disabled=True),
            "disabled",
            metadata=await login_metadata(p, spare.username, "lantern-orchid-4821"),
        ),
        FAILED_PRECONDITION,
    )


async def test_two_admins_demoted_at_once_leave_one(make_platform: PlatformFactory) -> None:
    p = await make_platform()
    admin = (await whoami(p, p.admin)).user
    other = await create(p, unique("adm"), common_pb2.ROLE_ADMIN)
    observer = await users_write_token(p)  # still able to look after both demotions
    # Each check alone sees another admin; done together they must not both succeed.
    results = await asyncio.gather(
        update(p, user_pb2.User(id=admin.id, role=common_pb2.ROLE_VIEWER), "role"),
        update(p, user_pb2.User(id=other.id, role=common_pb2.ROLE_VIEWER), "role"),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    admins = await p.users.ListUsers(
        user_pb2.ListUsersRequest(filter="role = ADMIN AND disabled = false"), metadata=observer
    )
    assert admins.total_size == 1
    assert [f.code() for f in failures] == [FAILED_PRECONDITION], results


# --- passwords -----------------------------------------------------------------------------


async def test_change_own_password_ends_every_session(platform: Platform) -> None:
    user = await create(platform, unique(), password="old-password-1")
    first = await platform.login(user.username, "old-password-1")
    second = await platform.login(user.username, "old-password-1")
    for login in (first, second):
        await whoami(platform, bearer(login.tokens.access_token))

    await change_password(
        platform, bearer(first.tokens.access_token), "new-password-1", current="old-password-1"
    )

    for login in (first, second):
        await refused(whoami(platform, bearer(login.tokens.access_token)), UNAUTHENTICATED)
        await refused(
            platform.auth.Refresh(
                auth_pb2.RefreshRequest(refresh_token=login.tokens.refresh_token)
            ),
            UNAUTHENTICATED,
        )
    old = await refused(platform.login(user.username, "old-password-1"), UNAUTHENTICATED)
    assert old.reason == "INVALID_CREDENTIALS"
    assert (await platform.login(user.username, "new-password-1")).user.id == user.id


async def test_change_own_password_needs_the_current_one(platform: Platform) -> None:
    user = await create(platform, unique(), password="old-password-1")
    metadata = await login_metadata(platform, user.username, "old-password-1")
    for current in ("wrong-password", ""):
        refusal = await refused(
            change_password(platform, metadata, "new-password-1", current=current), INVALID
        )
        assert "current_password" in refusal.fields
    short = await refused(
        change_password(platform, metadata, "short", current="old-password-1"), INVALID
    )
    assert "new_password" in short.fields
    # Nothing changed: the old password and the session still work.
    await whoami(platform, metadata)
    await platform.login(user.username, "old-password-1")


async def test_only_admins_change_other_users_passwords(platform: Platform) -> None:
    victim = await create(platform, unique(), password="victim-password")
    operator = await platform.as_role(common_pb2.ROLE_OPERATOR)
    refusal = await refused(
        change_password(
            platform, operator, "taken-over-1", current="victim-password", user_id=victim.id
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "users.write" in refusal.message
    await platform.login(victim.username, "victim-password")

    # An admin needs no current password to set someone else's.
    session = await platform.login(victim.username, "victim-password")
    await change_password(platform, platform.admin, "reset-by-admin", user_id=victim.id)
    await refused(whoami(platform, bearer(session.tokens.access_token)), UNAUTHENTICATED)
    assert (await platform.login(victim.username, "reset-by-admin")).user.id == victim.id
    await refused(platform.login(victim.username, "victim-password"), UNAUTHENTICATED)


# --- audit ---------------------------------------------------------------------------------


async def test_user_changes_are_audited_with_the_actor(platform: Platform) -> None:
    since = now_filter()
    user = await create(platform, unique(), password="audit-password-1")
    await update(platform, user_pb2.User(id=user.id, display_name="Audited"), "display_name")
    await change_password(platform, platform.admin, "audit-password-2", user_id=user.id)
    await platform.users.DeleteUser(user_pb2.DeleteUserRequest(id=user.id), metadata=platform.admin)

    target = f'target = "users/{user.id}"'
    for action in ("user.create", "user.update", "user.change_password", "user.delete"):
        rows = await audit_since(platform, since, action, target)
        assert len(rows) == 1, action
        row = rows[0]
        assert (row.actor, row.outcome, row.source_address) == ("admin", "success", "127.0.0.1")
        assert row.actor_id == (await whoami(platform, platform.admin)).user.id
        assert "audit-password" not in str(row)
    update_row = (await audit_since(platform, since, "user.update", target))[0]
    assert update_row.details["display_name"] == "Audited"
    delete_row = (await audit_since(platform, since, "user.delete", target))[0]
    assert delete_row.details["username"] == user.username


async def test_refused_changes_write_no_audit_row(platform: Platform) -> None:
    user = await create(platform, unique())
    since = now_filter()
    await refused(update(platform, user_pb2.User(id=user.id), "username"), INVALID)
    assert await audit_since(platform, since, "user.update", f'target = "users/{user.id}"') == []
