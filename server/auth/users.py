"""User accounts: create, read, update, delete, passwords, and the first admin."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
from server.auth.cache import AuthCache
from server.auth.passwords import hash_password, verify_password
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import clean_text, require_id, resolve_update_mask
from server.db.first_start import serialize_first_start
from server.db.models import RefreshTokenRow, UserRow, utcnow
from server.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from server.identity.password_policy import PasswordCheck, PasswordPolicy
from server.identity.permissions import Permission, Role
from server.identity.principal import Principal

# Matched with fullmatch: "$" would also accept a name ending in a newline.
USERNAME_RE = re.compile(r"[A-Za-z0-9._@-]{3,64}")
UPDATABLE_FIELDS = frozenset({"display_name", "role", "disabled"})

FILTER = FilterSchema(
    fields={
        "username": FieldSpec(UserRow.username, FieldKind.STRING),
        "display_name": FieldSpec(UserRow.display_name, FieldKind.STRING),
        "role": FieldSpec(UserRow.role, FieldKind.ENUM, {r.name: r.value for r in Role}),
        "disabled": FieldSpec(UserRow.disabled, FieldKind.BOOL),
        "create_time": FieldSpec(UserRow.created_at, FieldKind.TIMESTAMP),
        "last_login_time": FieldSpec(UserRow.last_login_at, FieldKind.TIMESTAMP),
    },
    text_columns=(UserRow.username, UserRow.display_name),
)
ORDER = OrderSchema(
    fields={
        "username": UserRow.username_key,
        "display_name": UserRow.display_name,
        "role": UserRow.role,
        "create_time": UserRow.created_at,
        "last_login_time": UserRow.last_login_at,
    },
    default="username",
    tiebreaker=UserRow.id,
)
USERS = Listing("users", FILTER, ORDER)


@dataclass(frozen=True)
class NewUser:
    """What CreateUser asks for."""

    username: str
    display_name: str
    role: Role | None
    disabled: bool
    password: str


def check_username(username: str, field: str = "user.username") -> str:
    """A valid username or InvalidArgument saying what is allowed."""
    if not USERNAME_RE.fullmatch(username):
        raise InvalidArgument.for_field(
            # The en dash matches the proto's documentation of the rule.
            field,
            "must be 3–64 characters of letters, digits, '.', '_', '-' or '@'",  # noqa: RUF001
        )
    return username


class UserService:
    """Domain logic for accounts."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: AuthCache,
        policy: PasswordCheck | None = None,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._policy = policy or PasswordPolicy()

    async def ensure_admin(self, password: str) -> str | None:
        """On an empty user table create `admin`; returns the generated password if one was made."""
        async with self._sessions.begin() as session:
            # Alone among replicas starting together: the second one finds the first's admin.
            await serialize_first_start(session)
            if await session.scalar(select(func.count()).select_from(UserRow)):
                return None
            generated = None
            if not password:
                password = generated = secrets.token_urlsafe(12)
            session.add(
                UserRow(
                    username="admin",
                    username_key="admin",
                    display_name="Administrator",
                    role=Role.ADMIN.value,
                    password_hash=await hash_password(password),
                )
            )
            add_audit(
                session,
                "user.create",
                "users/admin",
                actor="system",
                details={"reason": "first start"},
            )
        return generated

    async def create(self, new: NewUser) -> UserRow:
        """Create an account; the username must be free (case-insensitively)."""
        username = check_username(new.username)
        display_name = clean_text(new.display_name, "user.display_name", max_len=200)
        if new.role is None:
            raise InvalidArgument.for_field(
                "user.role", "is required (ROLE_ADMIN, ROLE_OPERATOR, ROLE_VIEWER or ROLE_API)"
            )
        await self._policy.check(new.password, "password", (username, display_name))
        row = UserRow(
            username=username,
            username_key=username.lower(),
            display_name=display_name,
            role=new.role.value,
            disabled=new.disabled,
            password_hash=await hash_password(new.password),
        )
        try:
            async with self._sessions.begin() as session:
                taken = await session.scalar(
                    select(UserRow.id).where(UserRow.username_key == row.username_key)
                )
                if taken:
                    raise AlreadyExists(f"username {username!r} is taken")
                session.add(row)
                await session.flush()
                add_audit(
                    session,
                    "user.create",
                    f"users/{row.id}",
                    details={"username": username, "role": row.role},
                )
        except IntegrityError:  # a concurrent create won the race
            raise AlreadyExists(f"username {username!r} is taken") from None
        return row

    async def get(self, user_id: str) -> UserRow:
        """One user, or NotFound."""
        require_id(user_id)
        async with self._sessions() as session:
            row = await session.get(UserRow, user_id)
        if row is None:
            raise NotFound(f"user {user_id} does not exist")
        return row

    async def list(self, request: ListRequest) -> Page[UserRow]:
        """A page of users."""
        return await USERS.page(self._sessions, select(UserRow), request)

    async def update(
        self, actor: Principal, user_id: str, mask: Sequence[str], values: Mapping[str, object]
    ) -> UserRow:
        """Change display_name, role or disabled; the last enabled admin cannot be demoted or
        disabled, so nobody locks everyone out."""
        require_id(user_id, "user.id")
        fields = resolve_update_mask(mask, UPDATABLE_FIELDS)
        changes: dict[str, object] = {}
        if "display_name" in fields:
            changes["display_name"] = clean_text(
                str(values["display_name"]), "user.display_name", max_len=200
            )
        if "role" in fields:
            role = values["role"]
            if not isinstance(role, Role):
                raise InvalidArgument.for_field(
                    "user.role", "must be ROLE_ADMIN, ROLE_OPERATOR, ROLE_VIEWER or ROLE_API"
                )
            changes["role"] = role.value
        if "disabled" in fields:
            changes["disabled"] = bool(values["disabled"])
        async with self._sessions.begin() as session:
            if "role" in changes or "disabled" in changes:
                await _lock_enabled_admins(session)
            row = await session.get(UserRow, user_id, with_for_update=True)
            if row is None:
                raise NotFound(f"user {user_id} does not exist")
            loses_admin = (
                row.role == Role.ADMIN.value
                and not row.disabled
                and (
                    changes.get("role", row.role) != Role.ADMIN.value
                    or changes.get("disabled") is True
                )
            )
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            if loses_admin:
                await _keep_one_admin(session, "demote or disable")
            if changes.get("disabled") is True:
                await revoke_sessions(session, row.id)
            add_audit(
                session,
                "user.update",
                f"users/{row.id}",
                details={k: str(v) for k, v in changes.items()},
            )
        self._cache.forget_user(user_id)
        return row

    async def delete(self, actor: Principal, user_id: str) -> None:
        """Delete an account (its sessions and API tokens go with it)."""
        require_id(user_id)
        if user_id == actor.user_id:
            raise FailedPrecondition("you cannot delete your own account; ask another admin")
        async with self._sessions.begin() as session:
            await _lock_enabled_admins(session)
            row = await session.get(UserRow, user_id, with_for_update=True)
            if row is None:
                raise NotFound(f"user {user_id} does not exist")
            await session.delete(row)
            if row.role == Role.ADMIN.value and not row.disabled:
                await _keep_one_admin(session, "delete")
            add_audit(
                session, "user.delete", f"users/{user_id}", details={"username": row.username}
            )
        self._cache.forget_user(user_id)

    async def change_password(
        self, actor: Principal, user_id: str, current: str, new_password: str
    ) -> None:
        """Own password with the current one; someone else's needs users.write. Ends every
        session of that user."""
        target = user_id or actor.user_id
        require_id(target, "user_id")
        own = target == actor.user_id
        if not own and not actor.can(Permission.USERS_WRITE):
            raise PermissionDenied("changing another user's password needs users.write")
        async with self._sessions() as session:
            found = await session.get(UserRow, target)
        if found is None:
            raise NotFound(f"user {target} does not exist")
        # Judged outside the write transaction: it takes CPU time, and SQLite has one writer.
        await self._policy.check(new_password, "new_password", (found.username, found.display_name))
        async with self._sessions.begin() as session:
            row = await session.get(UserRow, target, with_for_update=True)
            if row is None:
                raise NotFound(f"user {target} does not exist")
            if own and not await verify_password(row.password_hash, current):
                raise InvalidArgument.for_field("current_password", "is not your current password")
            row.password_hash = await hash_password(new_password)
            row.updated_at = utcnow()
            await revoke_sessions(session, row.id)
            add_audit(session, "user.change_password", f"users/{row.id}")
        self._cache.forget_user(target)


# The last-admin rule is a check across rows: two admins demoting each other at the same time
# would each see the other one and both succeed (write skew), leaving nobody able to manage the
# system. So a change that can take admin rights away first locks every enabled admin row, in
# id order (PostgreSQL; the same order everywhere cannot deadlock), and counts the admins left
# after writing its own change (SQLite serializes writers, so the later writer sees the first).


async def _lock_enabled_admins(session: AsyncSession) -> None:
    await session.execute(
        select(UserRow.id)
        .where(UserRow.role == Role.ADMIN.value, UserRow.disabled.is_(False))
        .order_by(UserRow.id)
        .with_for_update()
    )


async def _keep_one_admin(session: AsyncSession, verb: str) -> None:
    """Refuse (rolling the change back) when the pending change leaves no enabled admin."""
    await session.flush()
    left = await session.scalar(
        select(func.count())
        .select_from(UserRow)
        .where(UserRow.role == Role.ADMIN.value, UserRow.disabled.is_(False))
    )
    if not left:
        raise FailedPrecondition(f"cannot {verb} the last enabled admin; make another admin first")


async def revoke_sessions(session: AsyncSession, user_id: str) -> int:
    """End every session (refresh-token family) of `user_id`; returns how many tokens stopped."""
    result = await session.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.user_id == user_id, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
