"""Join tokens: an admin creates one, a new agent redeems it once for a node credential."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.log import add_audit
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
from server.db.models import JoinTokenRow, new_id, utcnow
from server.errors import InvalidArgument, NotFound, Unauthenticated
from server.identity.credentials import JOIN_TOKEN_PREFIX, issue, parse
from server.identity.principal import current_call

DEFAULT_TTL = timedelta(hours=1)
MAX_TTL = timedelta(days=365)
MAX_USES = 10_000

JOIN_TOKENS = Listing(
    "join_tokens",
    FilterSchema(fields={"description": FieldSpec(JoinTokenRow.description, FieldKind.STRING)}),
    OrderSchema(
        fields={"create_time": JoinTokenRow.created_at},
        default="create_time desc",
        tiebreaker=JoinTokenRow.id,
    ),
)


class JoinTokenService:
    """Create, list, revoke and redeem join tokens."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self, description: str, max_uses: int, ttl: timedelta | None
    ) -> tuple[JoinTokenRow, str]:
        """A new token and its secret string (shown once)."""
        description = clean_text(description, "join_token.description", max_len=500)
        uses = max_uses or 1
        if not 1 <= uses <= MAX_USES:
            raise InvalidArgument.for_field(
                "join_token.max_uses", f"must be between 1 and {MAX_USES}"
            )
        life = DEFAULT_TTL if ttl is None else ttl
        if life <= timedelta(0) or life > MAX_TTL:
            raise InvalidArgument.for_field("ttl", "must be positive and at most 365 days")
        token_id = new_id()
        secret, secret_hash = issue(JOIN_TOKEN_PREFIX, token_id)
        principal = current_call().principal
        row = JoinTokenRow(
            id=token_id,
            description=description,
            secret_hash=secret_hash,
            max_uses=uses,
            uses=0,
            expires_at=utcnow() + life,
            created_by=principal.user_id if principal else "",
        )
        async with self._sessions.begin() as session:
            session.add(row)
            add_audit(session, "join_token.create", f"join_tokens/{token_id}")
        return row, secret

    async def list(self, request: ListRequest) -> Page[JoinTokenRow]:
        """A page of join tokens, newest first."""
        return await JOIN_TOKENS.page(self._sessions, select(JoinTokenRow), request)

    async def revoke(self, token_id: str) -> JoinTokenRow:
        """Stop a token from registering any more nodes."""
        require_id(token_id)
        async with self._sessions.begin() as session:
            row = await session.get(JoinTokenRow, token_id, with_for_update=True)
            if row is None:
                raise NotFound(f"join token {token_id} does not exist")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                add_audit(session, "join_token.revoke", f"join_tokens/{token_id}")
        return row

    @staticmethod
    async def redeem(session: AsyncSession, secret: str) -> JoinTokenRow:
        """Use the token once inside the caller's transaction, or raise Unauthenticated."""
        parsed = parse(JOIN_TOKEN_PREFIX, secret.strip())
        if parsed is None:
            raise Unauthenticated("the join token is malformed; copy it exactly as it was shown")
        token_id, secret_hash = parsed
        row = await session.scalar(
            select(JoinTokenRow).where(
                JoinTokenRow.id == token_id, JoinTokenRow.secret_hash == secret_hash
            )
        )
        if row is None:
            raise Unauthenticated("the join token is not valid")
        if row.revoked_at is not None:
            raise Unauthenticated("the join token was revoked; create a new one")
        if row.expires_at <= utcnow():
            raise Unauthenticated("the join token has expired; create a new one")
        # A conditional increment, so two agents racing for the last use cannot both win.
        used = await session.execute(
            update(JoinTokenRow)
            .where(JoinTokenRow.id == row.id, JoinTokenRow.uses < JoinTokenRow.max_uses)
            .values(uses=JoinTokenRow.uses + 1)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise Unauthenticated("the join token has been used up; create a new one")
        return row
