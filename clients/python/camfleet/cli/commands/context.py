"""`camfleet context list|use|delete`: the named contexts of the config file."""

from __future__ import annotations

import typer
from camfleet.cli import config as config_file
from camfleet.cli import state
from camfleet.cli.errors import CliError, ExitCode

app = typer.Typer(
    name="context",
    help="List, switch and delete named contexts (a server and its credentials).",
    no_args_is_help=True,
)


def _unknown(name: str, config: config_file.Config) -> CliError:
    known = ", ".join(sorted(config.contexts)) or "none yet"
    return CliError(f"There is no context named {name!r} (known: {known}).", ExitCode.NOT_FOUND)


@app.command("list")
def list_contexts(ctx: typer.Context) -> None:
    """List the contexts; the current one is marked with *."""
    config = config_file.load()
    out = state.printer(ctx)
    rows = [
        {
            "name": name,
            "current": name == config.current_context,
            "server": c.server,
            "auth": c.auth if c.logged_in else "logged out",
            "username": c.username,
        }
        for name, c in sorted(config.contexts.items())
    ]
    if out.structured:
        out.data(rows)
        return
    if not rows:
        out.note("No contexts yet; create one with camfleet login --server HOST:PORT.")
        return
    out.table(
        ("CURRENT", "NAME", "SERVER", "AUTH", "USER"),
        (
            ("*" if r["current"] else "", r["name"], r["server"], r["auth"], r["username"])
            for r in rows
        ),
    )


@app.command("use")
def use_context(
    ctx: typer.Context, name: str = typer.Argument(..., help="The context to make current.")
) -> None:
    """Make NAME the current context: later commands talk to its server."""
    with config_file.locked():
        config = config_file.load()
        if name not in config.contexts:
            raise _unknown(name, config)
        config.current_context = name
        config_file.save(config)
    state.printer(ctx).done(
        f"Now using context {name} ({config.contexts[name].server}).", {"current_context": name}
    )


@app.command("current")
def current_context(ctx: typer.Context) -> None:
    """Print the name of the current context."""
    config = config_file.load()
    name = config_file.resolve_name(config, state.options(ctx).context)
    state.printer(ctx).done(name, {"current_context": name})


@app.command("delete")
def delete_context(
    ctx: typer.Context, name: str = typer.Argument(..., help="The context to forget.")
) -> None:
    """Forget NAME and its stored tokens (log out first to end the session on the server)."""
    with config_file.locked():
        config = config_file.load()
        if name not in config.contexts:
            raise _unknown(name, config)
        del config.contexts[name]
        if config.current_context == name:
            config.current_context = next(iter(sorted(config.contexts)), "")
        config_file.save(config)
    state.printer(ctx).done(f"Deleted context {name}.", {"deleted": name})
