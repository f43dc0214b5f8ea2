"""`camfleet api-tokens`: long-lived credentials for integrations (the secret is shown once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from camfleet.cli import state
from camfleet.cli.output import Column, to_dict, when
from camfleet.cli.parsing import duration_message

if TYPE_CHECKING:  # the API's messages and grpc are imported where a command runs
    from camfleet.v1 import api_token_pb2_grpc

app = typer.Typer(
    name="api-tokens",
    help="API tokens for integrations: create (the secret is shown once), list, revoke.",
    no_args_is_help=True,
)

COLUMNS = [
    Column("NAME", lambda t: t.name),
    Column("PREFIX", lambda t: t.display_prefix),
    Column("SCOPES", lambda t: " ".join(t.scopes)),
    Column("EXPIRES", lambda t: when(t.expire_time) if t.HasField("expire_time") else "never"),
    Column("LAST USED", lambda t: when(t.last_used_time)),
    Column("REVOKED", lambda t: when(t.revoke_time)),
    Column("ID", lambda t: t.id),
    Column("OWNER", lambda t: t.owner_user_id, wide=True),
    Column("NETWORKS", lambda t: ",".join(t.allowed_cidrs), wide=True),
    Column("LAST ADDRESS", lambda t: t.last_used_address, wide=True),
    Column("CREATED", lambda t: when(t.create_time), wide=True),
]
DETAIL_COLUMNS = [Column(c.header, c.value) for c in COLUMNS]
_SCOPE = typer.Option(
    ...,
    "--scope",
    help="A permission it grants, e.g. cameras.read; repeatable (`camfleet whoami` lists yours).",
)
_ALLOW_CIDR = typer.Option(
    None, "--allow-cidr", help="Accept calls only from this network (CIDR); repeatable."
)


def _stub(s: Any) -> api_token_pb2_grpc.ApiTokenServiceStub:
    from camfleet.v1 import api_token_pb2_grpc

    return s.stub(api_token_pb2_grpc.ApiTokenServiceStub)  # type: ignore[no-any-return]


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    *,
    filter_: str = typer.Option(
        "", "--filter", "-f", help="Server filter on name, owner_user_id, revoked."
    ),
    limit: int = typer.Option(500, "--limit", min=1, help="Show at most this many tokens."),
) -> None:
    """List API tokens (never their secrets)."""
    from camfleet.v1 import api_token_pb2

    s = state.session(ctx)
    found: list[api_token_pb2.ApiToken] = []
    token, total = "", 0
    while len(found) < limit:
        resp = s.call(
            _stub(s).ListApiTokens,
            api_token_pb2.ListApiTokensRequest(
                filter=filter_, page_size=min(1000, limit - len(found)), page_token=token
            ),
        )
        found.extend(resp.api_tokens)
        total, token = max(resp.total_size, len(found)), resp.next_page_token
        if not token:
            break
    out = state.printer(ctx)
    out.items(found, COLUMNS)
    if total > len(found):
        out.note(f"Showing {len(found)} of {total} tokens; raise --limit to see more.")


@app.command("get")
def get_token(ctx: typer.Context, token_id: str = typer.Argument(..., help="Token id.")) -> None:
    """Show one API token."""
    from camfleet.v1 import api_token_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).GetApiToken, api_token_pb2.GetApiTokenRequest(id=token_id))
    state.printer(ctx).item(resp.api_token, DETAIL_COLUMNS)


@app.command("create")
def create_token(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="What the token is for."),
    *,
    scope: list[str] = _SCOPE,
    ttl: str | None = typer.Option(
        "90d", "--ttl", help="Lifetime (e.g. 30d, 12h); 'never' for a token that never expires."
    ),
    allow_cidr: list[str] | None = _ALLOW_CIDR,
    owner: str = typer.Option("", "--owner", help="User id the token acts as (default: you)."),
) -> None:
    """Create an API token; its secret is printed once. Use it with `camfleet login --token`
    or CAMFLEET_TOKEN."""
    from camfleet.v1 import api_token_pb2

    s = state.session(ctx)
    request = api_token_pb2.CreateApiTokenRequest(
        api_token=api_token_pb2.ApiToken(
            name=name, scopes=scope, allowed_cidrs=allow_cidr or [], owner_user_id=owner
        )
    )
    if ttl and ttl.lower() != "never":
        request.ttl.CopyFrom(duration_message(ttl, "--ttl"))
    resp = s.call(_stub(s).CreateApiToken, request)
    out = state.printer(ctx)
    if out.structured:
        out.data({"api_token": to_dict(resp.api_token), "secret": resp.secret})
        return
    out.done(resp.secret)
    out.note(
        f"API token {resp.api_token.name} ({resp.api_token.id}) created; "
        "the secret above is shown only now."
    )


@app.command("revoke")
def revoke_token(ctx: typer.Context, token_id: str = typer.Argument(..., help="Token id.")) -> None:
    """Revoke an API token: calls with it fail from now on."""
    from camfleet.v1 import api_token_pb2

    s = state.session(ctx)
    resp = s.call(_stub(s).RevokeApiToken, api_token_pb2.RevokeApiTokenRequest(id=token_id))
    out = state.printer(ctx)
    if out.structured:
        out.item(resp.api_token, DETAIL_COLUMNS)
    else:
        out.done(f"Revoked API token {resp.api_token.name} ({token_id}).")
