"""The global options of one `camfleet` run, and the session and printer built from them.

Contract for command modules: every command takes `ctx: typer.Context` first and uses

    s = state.session(ctx)      # camfleet.cli.session.Session, opened once per run
    out = state.printer(ctx)    # camfleet.cli.output.Printer for -o table|json|yaml|wide
    state.options(ctx).verbose  # --verbose

Never read the config file or open channels yourself.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from camfleet.cli import config as config_file
from camfleet.cli.config import Context
from camfleet.cli.errors import CliError, ExitCode
from camfleet.cli.output import OutputFormat, Printer

# Imported by session() when a command first asks for one: it brings grpc, which
# `camfleet --help` and the commands that call no server do without.
if TYPE_CHECKING:
    from camfleet.cli.session import Session

# The server of the last session opened (for error messages after the command ended).
last_server = ""


@dataclass
class Options:
    """What the global options said."""

    context: str | None = None
    server: str | None = None
    ca: str | None = None
    output: OutputFormat = OutputFormat.TABLE
    verbose: bool = False
    _session: Session | None = field(default=None, repr=False)
    _printer: Printer | None = field(default=None, repr=False)


def options(ctx: typer.Context) -> Options:
    """The global options (set by main's callback; defaults when a command runs alone)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Options):
        root.obj = Options()
    return root.obj


def printer(ctx: typer.Context) -> Printer:
    opts = options(ctx)
    if opts._printer is None:
        opts._printer = Printer(opts.output)
    return opts._printer


def session(ctx: typer.Context) -> Session:
    """The session of the chosen context (opened on first use, closed when the run ends)."""
    opts = options(ctx)
    if opts._session is not None:
        return opts._session
    from camfleet.cli.session import TOKEN_ENV, Session

    config = config_file.load()
    name = config_file.resolve_name(config, opts.context)
    token = os.environ.get(TOKEN_ENV) or None
    stored = config.contexts.get(name)
    if stored is None:
        if opts.context and not opts.server:
            known = ", ".join(sorted(config.contexts)) or "none"
            raise CliError(
                f"There is no context named {name!r} (known: {known}); "
                f"create it with camfleet login --context {name} --server HOST:PORT.",
                ExitCode.USAGE,
            )
        if not opts.server:
            raise CliError(
                "You are not logged in; run camfleet login --server HOST:PORT "
                f"(or set {TOKEN_ENV} and pass --server).",
                ExitCode.UNAUTHENTICATED,
            )
        stored = Context(server=opts.server)
    persist = name in config.contexts
    if opts.server and opts.server != stored.server:
        # A context's credentials go to its own server only: another --server gets none of
        # them (only CAMFLEET_TOKEN, given for this run), and nothing is saved to the context.
        stored, persist = Context(server=opts.server), False
    if opts.ca:
        # For this run: a context keeps the CA it was logged in with (camfleet login --ca).
        stored = dataclasses.replace(stored, ca=opts.ca)
    opened = Session(
        name,
        stored,
        server_override=opts.server,
        token_override=token,
        persist=persist,
    )
    opts._session = opened
    global last_server  # noqa: PLW0603 - one run, one server; read by main() on failure
    last_server = opened.server
    ctx.find_root().call_on_close(opened.close)
    return opened
