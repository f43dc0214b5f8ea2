"""Turn the `authorization: Bearer …` credential of a call into a Principal, or refuse it."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import AuditLog
from server.auth.access_tokens import SigningKeys
from server.auth.cache import AuthCache, session_key, token_key
from server.auth.token_addresses import TokenAddresses
from server.db.models import ApiTokenRow, RefreshTokenRow, UserRow, utcnow
from server.errors import PermissionDenied, Unauthenticated
from server.identity.credentials import (
    NODE_CREDENTIAL_PREFIX,
    TOKEN_PREFIX,
    hash_secret,
    split_token,
)
from server.identity.permissions import ROLE_PERMISSIONS, Role, parse_scopes
from server.identity.principal import Principal

# last_used_* is written at most this often per token: a hot token must not become a write per
# call (a change of address is always written and audited).
_LAST_USED_EVERY = timedelta(seconds=60)


class NodeCredentials(Protocol):
    """How a node credential becomes a node (the node registry; injected, so that auth does not
    depend on the nodes domain, which depends on it)."""

    async def authenticate_cached(self, credential: str) -> tuple[str, str]:
        """(node id, node name) of a valid credential; raises Unauthenticated otherwise."""
        ...


class Authenticator:
    """Resolves access JWTs and API tokens, with a short cache in front of the database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: SigningKeys,
        cache: AuthCache,
        audit: AuditLog,
        nodes: NodeCredentials,
    ) -> None:
        self._sessions = sessions
        self._nodes = nodes
        self._keys = keys
        self._cache = cache
        self._audit = audit
        self._background: set[asyncio.Task[None]] = set()
        # Every address each API token is used from (the token_new_address alert rule).
        self.token_addresses = TokenAddresses(sessions)
        # token id -> (address, time) of the last recorded use, to throttle last-used writes.
        self._last_seen: dict[str, tuple[str, datetime | None]] = {}

    async def authenticate(self, authorization: str, source_address: str) -> Principal:
        """The caller behind an `authorization` metadata value."""
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if not authorization:
            raise Unauthenticated(
                "this call needs a credential: send metadata 'authorization: Bearer <token>' "
                "(get one from AuthService.Login or an API token)"
            )
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("authorization metadata must read 'Bearer <token>'")
        if credential.startswith(TOKEN_PREFIX):
            return await self._api_token(credential, source_address)
        if credential.startswith(NODE_CREDENTIAL_PREFIX):
            node_id, name = await self._nodes.authenticate_cached(credential)
            return Principal(
                user_id="",
                username=f"node:{name}",
                role=Role.API,
                permissions=frozenset(),
                auth_method="node",
                node_id=node_id,
            )
        return await self._access_token(credential)

    async def _access_token(self, token: str) -> Principal:
        claims = await self._keys.verify(token)
        key = session_key(claims.session_id)
        entry = self._cache.get(key)
        if entry is not None and entry.principal.user_id == claims.user_id:
            return entry.principal
        async with self._sessions() as session:
            user = await session.get(UserRow, claims.user_id)
            live = await session.scalar(
                select(RefreshTokenRow.id)
                .where(
                    RefreshTokenRow.family_id == claims.session_id,
                    RefreshTokenRow.user_id == claims.user_id,
                    RefreshTokenRow.revoked_at.is_(None),
                )
                .limit(1)
            )
        if user is None:
            raise Unauthenticated("the account of this token no longer exists")
        if user.disabled:
            raise Unauthenticated(
                "this account is disabled", reason="ERROR_REASON_ACCOUNT_DISABLED"
            )
        if live is None:
            raise Unauthenticated(
                "this session has ended; log in again", reason="ERROR_REASON_TOKEN_REVOKED"
            )
        role = Role(user.role)
        principal = Principal(
            user_id=user.id,
            username=user.username,
            role=role,
            permissions=ROLE_PERMISSIONS[role],
            auth_method="password",
            session_id=claims.session_id,
        )
        self._cache.put(key, principal)
        return principal

    async def _api_token(self, token: str, source_address: str) -> Principal:
        parts = split_token(token)
        if parts is None:
            raise Unauthenticated("API token is malformed")
        token_id, secret = parts
        presented_hash = hash_secret(secret)
        entry = self._cache.get(token_key(token_id))
        if entry is None:
            principal, expires_at, cidrs, stored_hash = await self._load_token(token_id)
            self._cache.put(
                token_key(token_id),
                principal,
                token_expires_at=expires_at,
                allowed_cidrs=cidrs,
                secret_hash=stored_hash,
            )
        else:
            principal, expires_at = entry.principal, entry.token_expires_at
            cidrs, stored_hash = entry.allowed_cidrs, entry.secret_hash
        if not hmac.compare_digest(presented_hash, stored_hash):
            raise Unauthenticated("API token is not valid")
        if expires_at is not None and expires_at <= time.time():
            raise Unauthenticated(
                "API token has expired; create a new one", reason="ERROR_REASON_TOKEN_EXPIRED"
            )
        if cidrs and not _address_in(source_address, cidrs):
            await self._audit.security_event(
                "api_token.address_refused",
                f"api_tokens/{token_id}",
                principal=principal,
                details={"address": source_address},
            )
            raise PermissionDenied(
                f"this API token may not be used from {source_address or 'this address'}",
                reason="ERROR_REASON_IP_NOT_ALLOWED",
            )
        self._note_use(token_id, source_address, principal)
        return principal

    async def _load_token(
        self, token_id: str
    ) -> tuple[Principal, float | None, tuple[str, ...], str]:
        async with self._sessions() as session:
            row = await session.get(ApiTokenRow, token_id)
            owner = await session.get(UserRow, row.owner_user_id) if row else None
        if row is None or owner is None:
            raise Unauthenticated("API token is not valid")
        if row.revoked_at is not None:
            raise Unauthenticated("API token has been revoked", reason="ERROR_REASON_TOKEN_REVOKED")
        if owner.disabled:
            raise Unauthenticated(
                "the account of this API token is disabled", reason="ERROR_REASON_ACCOUNT_DISABLED"
            )
        role = Role(owner.role)
        scopes, _ = parse_scopes(list(row.scopes))
        principal = Principal(
            user_id=owner.id,
            username=owner.username,
            role=role,
            permissions=scopes & ROLE_PERMISSIONS[role],
            auth_method="api_token",
            api_token_id=row.id,
        )
        expires = row.expires_at.timestamp() if row.expires_at else None
        self._last_seen[row.id] = (row.last_used_address, row.last_used_at)
        return principal, expires, tuple(row.allowed_cidrs), row.secret_hash

    def _note_use(self, token_id: str, address: str, principal: Principal) -> None:
        self.token_addresses.note(token_id, address)
        last_address, last_at = self._last_seen.get(token_id, ("", None))
        now = utcnow()
        new_address = address != last_address
        stale = last_at is None or now - last_at > _LAST_USED_EVERY
        if not (new_address or stale):
            return
        self._last_seen[token_id] = (address, now)
        audit = new_address and bool(last_address)
        task = asyncio.create_task(self._record_use(token_id, address, principal, audit))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _record_use(
        self, token_id: str, address: str, principal: Principal, audit: bool
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.id == token_id)
                .values(last_used_at=utcnow(), last_used_address=address)
            )
        if audit:
            await self._audit.security_event(
                "api_token.new_address",
                f"api_tokens/{token_id}",
                outcome="success",
                principal=principal,
                details={"address": address},
            )

    async def close(self) -> None:
        """Wait for pending last-used writes (graceful shutdown)."""
        await self.token_addresses.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


def _address_in(address: str, cidrs: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(c) for c in cidrs)
