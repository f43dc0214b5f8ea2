"""Access tokens: HS256 JWTs with a `kid`, signed by keys kept in the database.

Every replica loads the same keys. A token naming a `kid` this process has not seen makes it
reload the key table (at most once a second), so a key created by another replica is picked up.
Only HS256 is accepted: `alg: none` and algorithm confusion are refused by construction.
"""

from __future__ import annotations

import math
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.first_start import serialize_first_start
from server.db.models import SigningKeyRow, utcnow
from server.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "camfleet"
_RELOAD_INTERVAL_S = 1.0
_VERIFIED_CACHE_SIZE = 20_000
# Clock difference between replicas that a token's times may show.
LEEWAY = timedelta(seconds=60)


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says."""

    user_id: str
    session_id: str
    token_id: str
    expires_at: datetime


@dataclass(frozen=True)
class _Key:
    kid: str
    secret: bytes
    retired: bool


class SigningKeys:
    """The set of signing keys, with the newest unretired one used to sign."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_lifetime: timedelta | Callable[[], timedelta] = timedelta(minutes=15),
    ) -> None:
        self._sessions = sessions
        # The access-token life in force (security settings, else CAMFLEET_ACCESS_TOKEN_TTL): no
        # token this server issues lives longer, so a longer-lived one was not issued by it,
        # whatever its signature (a stolen key signs anything). A callable reads it per check.
        self._max_lifetime = max_lifetime
        self._keys: dict[str, _Key] = {}
        self._active: _Key | None = None
        self._last_reload = 0.0
        # Verified tokens until they expire: a browser sends the same token on every call, and
        # the signature check is the costliest part of authenticating one (~70 µs). Revocation
        # is not decided here but by the session lookup that follows, so caching is safe.
        self._verified: dict[str, AccessClaims] = {}

    async def load(self) -> None:
        """Read the key table; create the first key when there is none."""
        async with self._sessions.begin() as session:
            rows = (await session.scalars(select(SigningKeyRow))).all()
            if not any(r.retired_at is None for r in rows):
                # Replicas starting together on an empty database: the first creates the key,
                # the others read it here (not two keys, each replica signing with its own).
                await serialize_first_start(session)
                rows = (await session.scalars(select(SigningKeyRow))).all()
            if not any(r.retired_at is None for r in rows):
                row = SigningKeyRow(kid=secrets.token_hex(8), secret=secrets.token_hex(32))
                session.add(row)
                rows = [*rows, row]
        self._apply(list(rows))

    async def rotate(self) -> str:
        """Create a new signing key and retire the others for signing; returns the new kid."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.retired_at.is_(None))
                .values(retired_at=utcnow())
            )
            row = SigningKeyRow(kid=secrets.token_hex(8), secret=secrets.token_hex(32))
            session.add(row)
        await self.load()
        return row.kid

    def _apply(self, rows: list[SigningKeyRow]) -> None:
        self._keys = {
            r.kid: _Key(r.kid, bytes.fromhex(r.secret), r.retired_at is not None) for r in rows
        }
        live = sorted((r for r in rows if r.retired_at is None), key=lambda r: r.created_at)
        self._active = self._keys[live[-1].kid] if live else None
        self._last_reload = time.monotonic()

    async def _follow_rotation(self) -> None:
        """Reload when the database's newest live key is not the one this process signs with.

        `rotate-signing-key` runs in another process (or replica): without this check a running
        server would go on signing with the retired key until restarted. One indexed read of a
        tiny table per issued token is cheap next to a login or a refresh.
        """
        async with self._sessions() as session:
            newest = await session.scalar(
                select(SigningKeyRow.kid)
                .where(SigningKeyRow.retired_at.is_(None))
                .order_by(SigningKeyRow.created_at.desc())
                .limit(1)
            )
            if newest is None or (self._active is not None and newest == self._active.kid):
                return
            # Read only: the caller may be inside a write transaction (refresh), which a write
            # here would wait on under SQLite.
            rows = (await session.scalars(select(SigningKeyRow))).all()
        self._apply(list(rows))

    async def issue(self, user_id: str, session_id: str, ttl: timedelta) -> tuple[str, datetime]:
        """A token for `user_id` in session `session_id` signed with the newest live key, and
        its expiry."""
        await self._follow_rotation()
        if self._active is None:
            raise RuntimeError("signing keys not loaded")
        now = utcnow()
        # JWT times are whole seconds: round the expiry up and report exactly what the token
        # says, so a client refreshing at the reported time never holds an already-dead token.
        expires = datetime.fromtimestamp(math.ceil((now + ttl).timestamp()), tz=now.tzinfo)
        claims = {
            "iss": ISSUER,
            "sub": user_id,
            "sid": session_id,
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "typ": "access",
        }
        token = jwt.encode(
            claims, self._active.secret, algorithm=ALGORITHM, headers={"kid": self._active.kid}
        )
        return token, expires

    async def verify(self, token: str) -> AccessClaims:
        """Claims of a valid token; Unauthenticated (with the reason) for anything else."""
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at > utcnow():
                return cached
            del self._verified[token]
        claims = await self._verify_signature(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()  # bounded; refills with the tokens in use
        self._verified[token] = claims
        return claims

    def _check_lifetime(self, claims: dict[str, object]) -> None:
        """Refuse a token that claims a longer life than this server gives (CAMFLEET_ACCESS_
        TOKEN_TTL), an issue time in the future, or an expiry beyond what a token issued now
        could have."""
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int | float) or not isinstance(exp, int | float):
            raise Unauthenticated("access token has no valid issue or expiry time; log in again")
        now = utcnow().timestamp()
        lifetime = self._max_lifetime() if callable(self._max_lifetime) else self._max_lifetime
        cap = (lifetime + LEEWAY).total_seconds()
        if exp - iat > cap or exp - now > cap:
            raise Unauthenticated(
                "access token claims a longer life than this server issues "
                f"({int(lifetime.total_seconds())} s); log in again"
            )
        if iat - now > LEEWAY.total_seconds():
            raise Unauthenticated("access token is issued in the future; log in again")

    async def _verify_signature(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("access token is malformed; log in again") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthenticated("access token is not signed by this server; log in again")
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._last_reload > _RELOAD_INTERVAL_S:
            await self.load()
            key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("access token is not signed by this server; log in again")
        try:
            claims = jwt.decode(
                token,
                key.secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "jti", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                "access token has expired; refresh it or log in again",
                reason="ERROR_REASON_TOKEN_EXPIRED",
            ) from None
        except jwt.PyJWTError:
            raise Unauthenticated("access token is invalid; log in again") from None
        if claims.get("typ") != "access":
            raise Unauthenticated("this token is not an access token")
        self._check_lifetime(claims)
        sub, sid = claims["sub"], claims["sid"]
        if not isinstance(sub, str) or not isinstance(sid, str):
            raise Unauthenticated("access token is invalid; log in again")
        return AccessClaims(
            user_id=sub,
            session_id=sid,
            token_id=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo),
        )
