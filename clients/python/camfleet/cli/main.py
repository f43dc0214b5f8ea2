"""`camfleet`: the command line of a camfleet control plane.

Contract for command modules (clients/python/camfleet/cli/commands/<name>.py):
- define `app = typer.Typer(name="<group>", help="<one line>. <more>", no_args_is_help=True)`
  and its commands, or `def register(root: typer.Typer) -> None` for top-level commands;
- append the module's name to COMMAND_MODULES below (the order is the order in --help);
- take `ctx: typer.Context` in each command and use camfleet.cli.state (session, printer,
  options), camfleet.cli.output (columns, formats) and camfleet.cli.errors (CliError, exit
  codes). Let grpc.RpcError propagate: main() prints it as one sentence with its exit code;
- import at the module's top only what registering the commands needs: every module is
  imported by every run, `camfleet --help` included. grpc, the camfleet.v1 messages and stubs,
  google.protobuf, rich.progress, yaml and urllib are imported inside the functions that use
  them (types for annotations under `if TYPE_CHECKING:`); a value shown in a help text is
  written out, and a test checks it against the .proto.
A module listed here that does not exist yet is skipped (it may be under way); one that fails
to import is an error.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback

import typer
from camfleet.cli import state
from camfleet.cli.errors import EXIT_CODES_HELP, CliError, ExitCode, describe_rpc_error
from camfleet.cli.output import OutputFormat

COMMAND_PACKAGE = "camfleet.cli.commands"
COMMAND_MODULES = [
    "auth",  # login, logout, whoami
    "context",
    "cameras",
    "nodes",
    "recordings",
    "events",
    "alerts",
    "alert_policies",  # adds policies, notifications, deliveries to `alerts`
    "analytics",
    "report_schedules",  # adds schedules to `analytics`
    "settings",
    "users",
    "tokens",
    "audit",
]

app = typer.Typer(
    name="camfleet",
    help="Manage a camfleet camera fleet from a terminal: cameras, nodes, recordings, events, "
    "users and API tokens.\n\nStart with `camfleet login --server HOST:PORT`.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    *,
    context: str | None = typer.Option(
        None,
        "--context",
        "-c",
        envvar="CAMFLEET_CONTEXT",
        help="Named context (server and credentials) to use instead of the current one.",
    ),
    server: str | None = typer.Option(
        None,
        "--server",
        "-s",
        envvar="CAMFLEET_SERVER",
        help="Server address (host:port; https:// for TLS), overriding the context's.",
    ),
    ca: str | None = typer.Option(
        None,
        "--ca",
        envvar="CAMFLEET_CA",
        help="CA certificate file (PEM) to verify the server's TLS certificate against, e.g. "
        "./start's DATA_DIR/tls/ca.pem (implies TLS).",
    ),
    output: OutputFormat = typer.Option(  # noqa: B008 - typer reads its options from defaults
        OutputFormat.TABLE,
        "--output",
        "-o",
        envvar="CAMFLEET_OUTPUT",
        case_sensitive=False,
        help="Output format: table, wide (more columns), json or yaml (stable, for scripts).",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Say more: the server used, gRPC status codes."
    ),
) -> None:
    ctx.obj = state.Options(context=context, server=server, ca=ca, output=output, verbose=verbose)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        qualified = f"{COMMAND_PACKAGE}.{name}"
        if importlib.util.find_spec(qualified) is None:
            continue
        module = importlib.import_module(qualified)
        register = getattr(module, "register", None)
        if callable(register):
            register(app)
        sub = getattr(module, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub)


_register_commands()


def _report(err: CliError, verbose: bool, code_name: str = "") -> int:
    from rich.console import Console  # only when something failed

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"Error: {err.message}", markup=False)
    for line in err.details:
        console.print(f"  - {line}", markup=False)
    if verbose and code_name:
        console.print(f"  (gRPC status {code_name}, exit code {int(err.code)})", markup=False)
    return int(err.code)


def main(argv: list[str] | None = None) -> int:
    """The console script: run a command and return its exit code."""
    verbose = "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv)
    try:
        app(args=argv, prog_name="camfleet")
    except SystemExit as exit_:
        status = exit_.code
        return status if isinstance(status, int) else (0 if status is None else ExitCode.ERROR)
    except CliError as err:
        return _report(err, verbose)
    except KeyboardInterrupt:
        from rich.console import Console

        Console(stderr=True).print("Interrupted.")
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        # A failed call; grpc is loaded already when one was made (not imported at start-up).
        import grpc

        if isinstance(exc, grpc.RpcError):
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            return _report(describe_rpc_error(exc, state.last_server), verbose, code.name)
        # A bug here: one sentence, the traceback only with --verbose.
        if verbose:
            traceback.print_exc()
        message = f"camfleet failed unexpectedly ({type(exc).__name__}: {exc})"
        hint = "" if verbose else "; run it again with --verbose for the details"
        return _report(CliError(f"{message}{hint}.", ExitCode.ERROR), verbose)
    return 0
