"""The README's one example in every client (list the cameras: log in, then list) is the same
wherever it is shown, and it works as printed: the command line and the Python lines against a
live server, the TypeScript lines type-check against clients/typescript, the Go lines build
offline against clients/go."""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from harness.processes import ROOT, clean_env
from tests.docs.snippets import BLOCK, build_go, typecheck_typescript
from tests.support.platform import ADMIN_PASSWORD, Platform

README = ROOT / "README.md"
ADDRESS = "127.0.0.1:50051"
LANGUAGES = ("sh", "python", "ts", "go")
CLI_LOGIN = f"camfleet login --server {ADDRESS}"


def examples(text: str) -> list[dict[str, str]]:
    """Each copy of the example: the command line's block and the next block of each language
    after it."""
    fenced = list(BLOCK.finditer(text))
    found = []
    for i, match in enumerate(fenced):
        if match.group(1) == "sh" and match.group(2).startswith(CLI_LOGIN):
            copy = {"sh": match.group(2)}
            for later in fenced[i + 1 :]:
                copy.setdefault(later.group(1), later.group(2))
            found.append({lang: copy.get(lang, "") for lang in LANGUAGES})
    return found


def the_example() -> dict[str, str]:
    copies = examples(README.read_text())
    assert len(copies) >= 2, "the example is shown after the two commands and in Calling the API"
    assert all(c == copies[0] for c in copies), "every copy of the example is the same"
    return copies[0]


def test_the_example_is_the_same_wherever_it_is_shown() -> None:
    example = the_example()
    for lang in ("python", "ts", "go"):
        statements = [
            line
            for line in example[lang].split("\n\n", 1)[1].strip().splitlines()
            if not line.startswith("//")
        ]
        assert len(statements) == 3, (lang, statements)  # connect, log in, list


async def _cli(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout=120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"{shlex.join(argv)}: exit {proc.returncode}\n{text}"
    return text


async def test_the_command_line_lines_list_the_camera(platform: Platform, tmp_path: Path) -> None:
    """As printed, except that the password comes on standard input instead of the terminal."""
    camera = await platform.new_camera(f"door-{secrets.token_hex(4)}")
    env = clean_env()
    env["CAMFLEET_CONFIG"] = str(tmp_path / "config.yaml")
    env["COLUMNS"] = "200"
    login, listing = [
        shlex.split(line.split("#")[0].replace(ADDRESS, platform.target))
        for line in the_example()["sh"].strip().splitlines()
    ]
    camfleet = str(Path(sys.executable).with_name("camfleet"))
    assert os.access(camfleet, os.X_OK), camfleet
    await _cli([camfleet, *login[1:], "--password-stdin"], env, ADMIN_PASSWORD.encode() + b"\n")
    out = await _cli([camfleet, *listing[1:]], env)
    assert camera.name in out, out


async def test_the_python_lines_list_the_camera(platform: Platform) -> None:
    camera = await platform.new_camera(f"door-{secrets.token_hex(4)}")
    code = the_example()["python"].replace(ADDRESS, platform.target)
    scope: dict[str, Any] = {"password": ADMIN_PASSWORD}
    await asyncio.to_thread(exec, compile(code, "README example", "exec"), scope)
    assert camera.id in [c.id for c in scope["cameras"]]


def test_the_typescript_lines_type_check(tmp_path: Path) -> None:
    typecheck_typescript({"readme": the_example()["ts"]}, tmp_path)


def test_the_go_lines_build(tmp_path: Path) -> None:
    build_go({"readme": the_example()["go"]}, tmp_path)
