"""`camfleet --help` and every command's help: each command and option says what it does, the
exit codes are listed, and shell completion completes command names. No server needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main
from camfleet.cli.errors import ExitCode
from camfleet.cli.main import app

from tests.cli.cli_process import Cli


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under `group` (typer vendors its own click: duck-typed)."""
    found = [(path, group)]
    if hasattr(group, "commands"):
        for name, sub in sorted(group.commands.items()):
            found.extend(_commands(sub, (*path, name)))
    return found


def test_every_command_and_option_has_help() -> None:
    root = typer.main.get_command(app)
    missing: list[str] = []
    for path, command in _commands(root):
        where = " ".join(("camfleet", *path))
        if path and not (command.help or command.short_help):
            missing.append(f"{where}: no help")
        for param in command.params:
            kind = param.param_type_name
            if kind == "option" and not param.help and not param.hidden:
                missing.append(f"{where} {param.opts[0]}: no help")
            if kind == "argument" and not getattr(param, "help", None):
                missing.append(f"{where} {param.name}: no help")
    assert not missing, "\n".join(missing)
    names = {p[0] for p, _ in _commands(root) if p}
    assert {"login", "logout", "whoami", "context", "cameras", "nodes", "users", "api-tokens",
            "audit"} <= names  # fmt: skip


async def test_help_lists_the_groups_and_the_exit_codes(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "cli", process=True)  # the console script, as installed
    top = await cli.run("--help")
    assert top.code == 0, top
    for word in ("login", "cameras", "nodes", "api-tokens", "--output", "--context"):
        assert word in top.stdout, top.stdout
    text = " ".join(top.stdout.split())
    for code in ExitCode:
        assert f"{int(code)} " in text, f"exit code {int(code)} not listed"
    assert "7 server unavailable" in text

    sub = await cli.run("cameras", "create", "--help")
    assert sub.code == 0 and "--source-url" in sub.stdout and "--label" in sub.stdout, sub
    bad = await cli.run("cameras", "frobnicate")
    assert bad.code == 2 and "No such command" in bad.stderr, bad
    no_args = await cli.run("nodes")
    assert "cordon" in no_args.stdout + no_args.stderr


async def test_shell_completion_completes_commands(tmp_path: Path) -> None:
    cli = Cli(
        tmp_path / "cli",
        env={
            "_CAMFLEET_COMPLETE": "complete_bash",
            "COMP_WORDS": "camfleet cam",
            "COMP_CWORD": "1",
        },
        process=True,
    )
    done = await cli.run()
    assert done.code == 0, done
    assert done.stdout.split() == ["cameras"], done
    # The script for the shell camfleet runs under (found from its parent process): bash here,
    # whatever runs the tests (a child of bash, not exec'd by it).
    script = await Cli(tmp_path / "sh", env={"SHELL": "/bin/bash"}).run(
        "--show-completion", prefix=("bash", "-c", '"$@"; exit $?', "bash")
    )
    assert script.code == 0 and "_camfleet_completion" in script.stdout, script
