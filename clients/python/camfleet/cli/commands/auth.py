"""`camfleet login`, `logout` and `whoami` (top-level commands, added by `register`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from camfleet.cli import config as config_file
from camfleet.cli import state
from camfleet.cli.config import Context
from camfleet.cli.errors import CliError, ExitCode, describe_rpc_error
from camfleet.cli.output import Column, enum_name, when

WHOAMI_COLUMNS = [
    Column("USER", lambda r: r.user.username or r.user.display_name),
    Column("ROLE", lambda r: enum_name(r.user, "role")),
    Column("AUTH", lambda r: r.auth_method),
    Column("API TOKEN", lambda r: r.api_token_id),
    Column("USER ID", lambda r: r.user.id, wide=True),
    Column("LAST LOGIN", lambda r: when(r.user.last_login_time), wide=True),
    Column("PERMISSIONS", lambda r: " ".join(r.permissions)),
]


def _read_secret(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CliError(
            f"No terminal to ask for the {prompt.lower()}; pipe it with --password-stdin.",
            ExitCode.USAGE,
        )
    return str(typer.prompt(prompt, hide_input=True))


def login(
    ctx: typer.Context,
    *,
    server: str | None = typer.Option(
        None, "--server", "-s", help="Server address, host:port (https:// for TLS)."
    ),
    context: str | None = typer.Option(
        None, "--context", "-c", help="Name for this login's context [default: the current one]."
    ),
    username: str | None = typer.Option(None, "--username", "-u", help="Account to log in as."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input, not a prompt."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        help="Log in with an API token instead of a password ('-' reads it from stdin).",
    ),
    ca: str | None = typer.Option(
        None,
        "--ca",
        help="CA certificate file (PEM) the server's TLS certificate is verified against; "
        "kept in the context (implies TLS).",
    ),
) -> None:
    """Log in to a server and remember it as a context (tokens are stored with mode 0600).

    With a password, the session's tokens are refreshed silently until the session ends; with
    --token, the API token is used as it is.
    """
    import grpc
    from camfleet.cli.session import DEFAULT_TIMEOUT_S, open_channel, parse_server, store_tokens
    from camfleet.v1 import auth_pb2, auth_pb2_grpc

    opts = state.options(ctx)
    out = state.printer(ctx)
    with config_file.locked():
        config = config_file.load()
        name = config_file.resolve_name(config, context or opts.context)
        existing = config.contexts.get(name)
        address = server or opts.server or (existing.server if existing else "")
        if not address:
            raise CliError(
                "Which server? Pass --server HOST:PORT (e.g. 127.0.0.1:50051).", ExitCode.USAGE
            )
        _, tls = parse_server(address)
        # The CA: this flag's, else the global --ca, else the one the context had for the
        # same server.
        kept_ca = existing.ca if existing and existing.server == address else ""
        chosen = ca or opts.ca
        ca_file = str(Path(chosen).expanduser().resolve()) if chosen else kept_ca
        entry = Context(server=address, tls=tls or bool(ca_file), ca=ca_file)
        channel = open_channel(address, entry.tls, entry.ca)
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        try:
            if token is not None:
                secret = sys.stdin.readline().strip() if token == "-" else token.strip()
                who = stub.WhoAmI(
                    auth_pb2.WhoAmIRequest(),
                    metadata=(("authorization", f"Bearer {secret}"),),
                    timeout=DEFAULT_TIMEOUT_S,
                )
                entry.auth, entry.api_token = "api_token", secret
                entry.username = who.user.username
            else:
                user = username or (existing.username if existing else "")
                if not user:
                    if not sys.stdin.isatty() or password_stdin:
                        raise CliError("Pass --username (or -u).", ExitCode.USAGE)
                    user = str(typer.prompt("Username"))
                password = _read_secret("Password", password_stdin)
                resp = stub.Login(
                    auth_pb2.LoginRequest(username=user, password=password),
                    timeout=DEFAULT_TIMEOUT_S,
                )
                store_tokens(entry, resp.tokens)
                entry.username = resp.user.username
        except grpc.RpcError as err:
            raise describe_rpc_error(err, address) from None
        finally:
            channel.close()
        config.contexts[name] = entry
        config.current_context = name
        config_file.save(config)
    out.done(
        f"Logged in to {address} as {entry.username} (context {name}).",
        {"context": name, "server": address, "username": entry.username, "auth": entry.auth},
    )


def logout(
    ctx: typer.Context,
    all_sessions: bool = typer.Option(
        False, "--all-sessions", help="End every session of your account, on every device."
    ),
) -> None:
    """End this context's session on the server and forget its tokens (the context stays)."""
    from camfleet.v1 import auth_pb2, auth_pb2_grpc

    s = state.session(ctx)
    revoked = 0
    if s.context.auth == "password" and s.context.refresh_token:
        stub = s.stub(auth_pb2_grpc.AuthServiceStub)
        try:
            resp = s.call(
                stub.Logout,
                auth_pb2.LogoutRequest(
                    refresh_token=s.context.refresh_token, all_sessions=all_sessions
                ),
            )
            revoked = resp.revoked_count
        except CliError as err:
            if err.code != ExitCode.UNAUTHENTICATED:  # an ended session is logged out already
                raise
    with config_file.locked():
        config = config_file.load()
        stored = config.contexts.get(s.name)
        if stored is not None:
            config.contexts[s.name] = Context(
                server=stored.server, tls=stored.tls, ca=stored.ca, username=stored.username
            )
            config_file.save(config)
    state.printer(ctx).done(
        f"Logged out of {s.server} (context {s.name}).",
        {"context": s.name, "revoked_count": revoked},
    )


def whoami(ctx: typer.Context) -> None:
    """Show who you are on the current context's server, your role and permissions."""
    from camfleet.v1 import auth_pb2, auth_pb2_grpc

    s = state.session(ctx)
    resp = s.call(s.stub(auth_pb2_grpc.AuthServiceStub).WhoAmI, auth_pb2.WhoAmIRequest())
    out = state.printer(ctx)
    if not out.structured and state.options(ctx).verbose:
        out.note(f"Server {s.server}, context {s.name}.")
    out.item(resp, WHOAMI_COLUMNS)


def register(root: typer.Typer) -> None:
    root.command("login")(login)
    root.command("logout")(logout)
    root.command("whoami")(whoami)
