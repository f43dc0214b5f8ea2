"""camfleet.v1.ApiTokenService over ApiTokenService."""

from __future__ import annotations

from typing import Any

from camfleet.v1 import api_token_pb2, api_token_pb2_grpc

from server.auth.api_tokens import ApiTokenService, NewApiToken, display_prefix
from server.common.listing import ListRequest
from server.common.wire import from_duration, from_timestamp, timestamp
from server.db.models import ApiTokenRow
from server.identity.principal import current_principal


def token_to_proto(row: ApiTokenRow) -> api_token_pb2.ApiToken:
    """The API view of a token (never the secret or its hash)."""
    return api_token_pb2.ApiToken(
        id=row.id,
        name=row.name,
        owner_user_id=row.owner_user_id,
        scopes=list(row.scopes),
        allowed_cidrs=list(row.allowed_cidrs),
        expire_time=timestamp(row.expires_at),
        create_time=timestamp(row.created_at),
        last_used_time=timestamp(row.last_used_at),
        last_used_address=row.last_used_address,
        revoke_time=timestamp(row.revoked_at),
        display_prefix=display_prefix(row.id),
    )


class ApiTokenServicer(api_token_pb2_grpc.ApiTokenServiceServicer):
    """Create, get, list and revoke API tokens."""

    def __init__(self, tokens: ApiTokenService) -> None:
        self._tokens = tokens

    async def CreateApiToken(
        self, request: api_token_pb2.CreateApiTokenRequest, context: Any
    ) -> api_token_pb2.CreateApiTokenResponse:
        t = request.api_token
        row, secret = await self._tokens.create(
            current_principal(),
            NewApiToken(
                name=t.name,
                owner_user_id=t.owner_user_id,
                scopes=list(t.scopes),
                allowed_cidrs=list(t.allowed_cidrs),
                expires_at=(
                    from_timestamp(t.expire_time, "api_token.expire_time")
                    if t.HasField("expire_time")
                    else None
                ),
                ttl=from_duration(request.ttl, "ttl") if request.HasField("ttl") else None,
            ),
        )
        return api_token_pb2.CreateApiTokenResponse(api_token=token_to_proto(row), secret=secret)

    async def GetApiToken(
        self, request: api_token_pb2.GetApiTokenRequest, context: Any
    ) -> api_token_pb2.GetApiTokenResponse:
        return api_token_pb2.GetApiTokenResponse(
            api_token=token_to_proto(await self._tokens.get(request.id))
        )

    async def ListApiTokens(
        self, request: api_token_pb2.ListApiTokensRequest, context: Any
    ) -> api_token_pb2.ListApiTokensResponse:
        page = await self._tokens.list(ListRequest.of(request))
        return api_token_pb2.ListApiTokensResponse(
            api_tokens=[token_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def RevokeApiToken(
        self, request: api_token_pb2.RevokeApiTokenRequest, context: Any
    ) -> api_token_pb2.RevokeApiTokenResponse:
        return api_token_pb2.RevokeApiTokenResponse(
            api_token=token_to_proto(await self._tokens.revoke(request.id))
        )
