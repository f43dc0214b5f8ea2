"""API tokens: create (secret shown once), list, revoke.

A token reads `cft_<id>_<secret>`. The id lets the server find the row without scanning; only a
SHA-256 of the 256-bit random secret is stored (a slow hash buys nothing for a secret that long,
and it would cost every API call tens of milliseconds).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
from server.auth.cache import AuthCache, token_key
from server.common.listing import (
    FieldKind,
    FieldSpec,
    FilterSchema,
    Listing,
    ListRequest,
    OrderSchema,
    Page,
)
from server.common.validation import clean_text, require_id
from server.db.models import ApiTokenRow, UserRow, new_id, utcnow
from server.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from server.identity.credentials import TOKEN_PREFIX, issue
from server.identity.permissions import ROLE_PERMISSIONS, Role, parse_scopes
from server.identity.principal import Principal

MAX_SCOPES = 64
MAX_CIDRS = 64

FILTER = FilterSchema(
    fields={
        "name": FieldSpec(ApiTokenRow.name, FieldKind.STRING),
        "owner_user_id": FieldSpec(ApiTokenRow.owner_user_id, FieldKind.STRING),
        "revoked": FieldSpec(ApiTokenRow.revoked_at.is_not(None), FieldKind.BOOL),
        "create_time": FieldSpec(ApiTokenRow.created_at, FieldKind.TIMESTAMP),
        "expire_time": FieldSpec(ApiTokenRow.expires_at, FieldKind.TIMESTAMP),
    },
    text_columns=(ApiTokenRow.name,),
)
ORDER = OrderSchema(
    fields={
        "name": ApiTokenRow.name,
        "create_time": ApiTokenRow.created_at,
        "expire_time": ApiTokenRow.expires_at,
        "last_used_time": ApiTokenRow.last_used_at,
    },
    default="create_time desc",
    tiebreaker=ApiTokenRow.id,
)
API_TOKENS = Listing("api_tokens", FILTER, ORDER)


@dataclass(frozen=True)
class NewApiToken:
    """What CreateApiToken asks for."""

    name: str
    owner_user_id: str
    scopes: list[str]
    allowed_cidrs: list[str]
    expires_at: datetime | None
    ttl: timedelta | None


def display_prefix(token_id: str) -> str:
    """What lists show to recognise a token without revealing it."""
    return f"{TOKEN_PREFIX}{token_id.replace('-', '')[:8]}…"


def _check_cidrs(values: list[str]) -> list[str]:
    if len(values) > MAX_CIDRS:
        raise InvalidArgument.for_field("api_token.allowed_cidrs", f"at most {MAX_CIDRS} entries")
    out = []
    for i, value in enumerate(values):
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise InvalidArgument.for_field(
                f"api_token.allowed_cidrs[{i}]",
                f"{value[:64]!r} is not a network such as 127.0.0.1/32 or ::1/128",
            ) from None
    return out


class ApiTokenService:
    """Domain logic of ApiTokenService."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: AuthCache) -> None:
        self._sessions = sessions
        self._cache = cache

    async def create(self, actor: Principal, new: NewApiToken) -> tuple[ApiTokenRow, str]:
        """Create a token; returns it with the full secret string (shown to the caller once)."""
        name = clean_text(new.name, "api_token.name", max_len=200, required=True)
        owner_id = new.owner_user_id or actor.user_id
        require_id(owner_id, "api_token.owner_user_id")
        if len(new.scopes) > MAX_SCOPES:
            raise InvalidArgument.for_field("api_token.scopes", f"at most {MAX_SCOPES} scopes")
        scopes, unknown = parse_scopes(new.scopes)
        if unknown:
            known = ", ".join(sorted(p.value for p in ROLE_PERMISSIONS[Role.ADMIN]))
            raise InvalidArgument.for_field(
                "api_token.scopes", f"unknown scope {unknown[0][:64]!r}; known scopes: {known}"
            )
        if not scopes:
            raise InvalidArgument.for_field("api_token.scopes", "at least one scope is required")
        cidrs = _check_cidrs(new.allowed_cidrs)
        now = utcnow()
        expires = new.expires_at
        if new.ttl is not None:
            if new.ttl <= timedelta(0):
                raise InvalidArgument.for_field("ttl", "must be positive")
            try:
                expires = now + new.ttl
            except OverflowError:  # a Duration may span 10000 years; a datetime may not
                raise InvalidArgument.for_field(
                    "ttl", "ends after the year 9999; use a shorter lifetime"
                ) from None
        if expires is not None and expires <= now:
            raise InvalidArgument.for_field("api_token.expire_time", "must be in the future")
        token_id = new_id()
        token, secret_hash = issue(TOKEN_PREFIX, token_id)
        async with self._sessions.begin() as session:
            owner = await session.get(UserRow, owner_id)
            if owner is None:
                raise NotFound(f"user {owner_id} does not exist")
            if owner.disabled:
                raise FailedPrecondition(f"user {owner.username} is disabled")
            beyond = scopes - ROLE_PERMISSIONS[Role(owner.role)]
            if beyond:
                raise PermissionDenied(
                    f"user {owner.username} (role {owner.role}) cannot hold scope "
                    f"{sorted(beyond)[0].value}; a token cannot exceed its owner's role"
                )
            row = ApiTokenRow(
                id=token_id,
                name=name,
                owner_user_id=owner_id,
                secret_hash=secret_hash,
                scopes=sorted(p.value for p in scopes),
                allowed_cidrs=cidrs,
                expires_at=expires,
                created_by=actor.user_id,
            )
            session.add(row)
            add_audit(
                session,
                "api_token.create",
                f"api_tokens/{token_id}",
                details={"name": name, "owner": owner.username, "scopes": ",".join(row.scopes)},
            )
        return row, token

    async def get(self, token_id: str) -> ApiTokenRow:
        """One token (never its secret)."""
        require_id(token_id)
        async with self._sessions() as session:
            row = await session.get(ApiTokenRow, token_id)
        if row is None:
            raise NotFound(f"API token {token_id} does not exist")
        return row

    async def list(self, request: ListRequest) -> Page[ApiTokenRow]:
        """A page of tokens."""
        return await API_TOKENS.page(self._sessions, select(ApiTokenRow), request)

    async def revoke(self, token_id: str) -> ApiTokenRow:
        """Revoke now; revoking a revoked token is a no-op that returns it unchanged."""
        require_id(token_id)
        async with self._sessions.begin() as session:
            row = await session.get(ApiTokenRow, token_id, with_for_update=True)
            if row is None:
                raise NotFound(f"API token {token_id} does not exist")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                add_audit(
                    session,
                    "api_token.revoke",
                    f"api_tokens/{token_id}",
                    details={"name": row.name},
                )
        self._cache.forget(token_key(token_id))
        return row
