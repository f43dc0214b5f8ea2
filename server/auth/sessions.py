"""Login, refresh-token rotation with reuse detection, and logout.

A login starts a session: a family of refresh tokens, each usable once. Refresh marks the
presented token used and issues the next one in the family. Presenting a used token again means
it was copied: the whole family is revoked, so the thief and the owner both have to log in again
(the approach of OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import AuditLog, add_audit
from server.auth.access_tokens import SigningKeys
from server.auth.cache import AuthCache, session_key
from server.auth.login_limits import LoginLimits
from server.auth.passwords import MAX_PASSWORD_LENGTH, verify_password
from server.config import Settings
from server.db.models import RefreshTokenRow, UserRow, new_id, utcnow
from server.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from server.identity.permissions import Role
from server.identity.principal import Principal, current_call
from server.kv.ratelimit import RateLimiter
from server.settings.model import Settings as SettingsReader
from server.settings.security import login_allowed, with_security

REFRESH_PREFIX = "rt_"


@dataclass(frozen=True)
class TokenPair:
    """What a successful login or refresh hands out."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    """Domain logic of AuthService."""

    def __init__(  # noqa: PLR0917 -- server/app.py wires the collaborators positionally
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: SigningKeys,
        limiter: RateLimiter,
        audit: AuditLog,
        cache: AuthCache,
        settings: Settings,
        live: SettingsReader | None = None,
    ) -> None:
        self._sessions = sessions
        # The stored security settings, read on every login and refresh so a change applies to
        # the next one; without them, the flags in `settings`.
        self._live = live
        self._keys = keys
        self._limiter = limiter
        self._audit = audit
        self._cache = cache
        self._settings = settings
        self._limits = LoginLimits(limiter, audit, settings, sessions)

    async def login(self, username: str, password: str) -> tuple[TokenPair, UserRow]:
        """Check the password and open a session. Failed attempts count towards the login
        limits (server/auth/login_limits.py)."""
        if not username:
            raise InvalidArgument.for_field("username", "is required")
        if not password:
            raise InvalidArgument.for_field("password", "is required")
        if "\x00" in username:  # no username holds one, and PostgreSQL cannot compare it
            raise InvalidArgument.for_field("username", "must not contain NUL characters")
        if len(username) > 64 or len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidArgument.for_field(
                "username" if len(username) > 64 else "password", "is too long"
            )
        config = await self._config()
        address = current_call().source_address
        await self._check_address(username, address)
        attempt = await self._limits.begin(username, address, config)

        async with self._sessions() as session:
            user = await session.scalar(
                select(UserRow).where(UserRow.username_key == username.lower())
            )
        if not await verify_password(user.password_hash if user else None, password):
            # The reserved attempt stays counted: it was a failure.
            await self._audit.security_event(
                "auth.login_failed",
                f"users/{user.id}" if user else "",
                outcome="failure",
                actor=username,
                details={"username": username},
            )
            raise Unauthenticated(
                "username or password is incorrect", reason="ERROR_REASON_INVALID_CREDENTIALS"
            )
        assert user is not None
        # The right password is not a guess: take the attempt back.
        await self._limits.succeeded(attempt)
        if user.disabled:
            await self._audit.security_event(
                "auth.login_failed",
                f"users/{user.id}",
                outcome="failure",
                actor=username,
                details={"reason": "account disabled"},
            )
            raise Unauthenticated(
                "this account is disabled; ask an admin", reason="ERROR_REASON_ACCOUNT_DISABLED"
            )
        if user.role == Role.API.value:
            await self._audit.security_event(
                "auth.login_failed",
                f"users/{user.id}",
                actor=username,
                details={"reason": "API account used a password"},
            )
            raise PermissionDenied("API accounts cannot log in with a password; use an API token")
        async with self._sessions.begin() as session:
            user = await session.merge(user)
            user.last_login_at = utcnow()
            pair = await self._open(session, user.id, new_id(), config)
            add_audit(session, "auth.login", f"users/{user.id}", actor=user.username)
        return pair, user

    async def refresh(self, refresh_token: str) -> tuple[TokenPair, UserRow]:
        """Rotate: the presented token is spent and a new pair is issued in the same session."""
        if not refresh_token:
            raise InvalidArgument.for_field("refresh_token", "is required")
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 200:
            raise Unauthenticated("refresh token is not valid; log in again")
        now = utcnow()
        config = await self._config()
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(RefreshTokenRow).where(RefreshTokenRow.token_hash == _hash(refresh_token))
            )
            if row is None:
                raise Unauthenticated("refresh token is not valid; log in again")
            if row.revoked_at is not None:
                raise Unauthenticated(
                    "this session has ended; log in again", reason="ERROR_REASON_TOKEN_REVOKED"
                )
            if row.expires_at <= now:
                raise Unauthenticated(
                    "refresh token has expired; log in again", reason="ERROR_REASON_TOKEN_EXPIRED"
                )
            # Spend the token atomically: of two concurrent refreshes only one can win.
            spent = await session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.id == row.id, RefreshTokenRow.used_at.is_(None))
                .values(used_at=now)
            )
            reused = not getattr(spent, "rowcount", 0)
            user = await session.get(UserRow, row.user_id)
            if not reused and user is not None and not user.disabled:
                pair = await self._open(session, user.id, row.family_id, config)
                return pair, user
        if reused:
            await self._revoke_family(row.family_id)
            await self._audit.security_event(
                "auth.refresh_token_reused",
                f"users/{row.user_id}",
                details={"session": row.family_id, "action": "session revoked"},
            )
            raise Unauthenticated(
                "refresh token was already used: the session is revoked for safety; log in again",
                reason="ERROR_REASON_REFRESH_TOKEN_REUSED",
            )
        raise Unauthenticated(
            "this account is disabled; ask an admin", reason="ERROR_REASON_ACCOUNT_DISABLED"
        )

    async def logout(self, principal: Principal, refresh_token: str, all_sessions: bool) -> int:
        """End the given session, the caller's current one, or all of the caller's sessions."""
        ended_session = principal.session_id
        async with self._sessions.begin() as session:
            if all_sessions:
                where = [RefreshTokenRow.user_id == principal.user_id]
            elif refresh_token:
                row = await session.scalar(
                    select(RefreshTokenRow).where(
                        RefreshTokenRow.token_hash == _hash(refresh_token)
                    )
                )
                if row is None or row.user_id != principal.user_id:
                    raise InvalidArgument.for_field(
                        "refresh_token", "is not a session of the calling user"
                    )
                where = [RefreshTokenRow.family_id == row.family_id]
                ended_session = row.family_id
            elif principal.session_id:
                where = [RefreshTokenRow.family_id == principal.session_id]
            else:
                raise FailedPrecondition(
                    "an API token has no session to end; revoke the token instead"
                )
            live = [*where, RefreshTokenRow.revoked_at.is_(None)]
            # Spent tokens are revoked too (so reuse detection stays quiet), but only unspent
            # ones "stop working" in the sense the caller is told about.
            count = await session.scalar(
                select(func.count())
                .select_from(RefreshTokenRow)
                .where(*live, RefreshTokenRow.used_at.is_(None))
            )
            await session.execute(update(RefreshTokenRow).where(*live).values(revoked_at=utcnow()))
            add_audit(
                session,
                "auth.logout",
                f"users/{principal.user_id}",
                details={"all_sessions": str(all_sessions)},
            )
        if all_sessions:
            self._cache.forget_user(principal.user_id)
        else:
            # The session that ended, which need not be the caller's: its access tokens must
            # stop working now, not when the principal cache expires.
            self._cache.forget(session_key(ended_session))
        return int(count or 0)

    async def _config(self) -> Settings:
        """The login rules in force: the flags, with the stored security settings over them."""
        if self._live is None:
            return self._settings
        return with_security(self._settings, (await self._live.current()).security)

    async def _check_address(self, username: str, address: str) -> None:
        """Refuse a password login from outside the security settings' address allowlist."""
        if self._live is None:
            return
        if login_allowed(address, (await self._live.current()).security.login_allowlist):
            return
        await self._audit.security_event(
            "auth.login_failed",
            actor=username,
            details={"username": username, "reason": "address not in the login allowlist"},
        )
        raise PermissionDenied(
            f"logins are not allowed from your address ({address or 'unknown'}); an admin can "
            "add it to the login allowlist of the security settings"
        )

    async def _open(
        self, session: AsyncSession, user_id: str, family_id: str, s: Settings
    ) -> TokenPair:
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        refresh_expires = utcnow() + s.refresh_token_ttl
        session.add(
            RefreshTokenRow(
                family_id=family_id,
                user_id=user_id,
                token_hash=_hash(refresh),
                expires_at=refresh_expires,
                source_address=current_call().source_address,
            )
        )
        access, access_expires = await self._keys.issue(user_id, family_id, s.access_token_ttl)
        return TokenPair(access, access_expires, refresh, refresh_expires)

    async def _revoke_family(self, family_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        self._cache.forget(session_key(family_id))
