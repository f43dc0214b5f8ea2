"""Checks of code shown in the docs: TypeScript snippets type-check against clients/typescript,
Go snippets build offline (GOPATH mode, Debian's Go packages) against clients/go."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from harness.processes import ROOT
from tests.support.go_build import GO_CLIENT, go_env

TS = ROOT / "clients" / "typescript"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of `language` in Markdown `text`, in order."""
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run argv to its end; it must exit 0. What it printed."""
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"{shlex.join(argv)}: exit {result.returncode}\n{out}"
    return out


def _free(body: str, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if re.search(rf"\b{name}\b", body)]


def typecheck_typescript(snippets: dict[str, str], tmp: Path) -> None:
    """Each snippet, as a module whose imports are relative to clients/typescript/src (a free
    `password` declared), passes tsc with the client's compiler options."""
    src = tmp / "src"
    src.mkdir()
    for entry in (TS / "src").iterdir():
        if entry.name != "examples":
            (src / entry.name).symlink_to(entry)
    (tmp / "node_modules").symlink_to(TS / "node_modules")
    (tmp / "package.json").write_text('{"type": "module"}')
    config = json.loads((TS / "tsconfig.json").read_text())
    options = {k: v for k, v in config["compilerOptions"].items() if k not in {"outDir", "rootDir"}}
    (tmp / "tsconfig.json").write_text(
        json.dumps(
            {"compilerOptions": {**options, "noEmit": True}, "include": ["src/snippet_*.ts"]}
        )
    )
    for name, code in snippets.items():
        declared = "".join(f"declare const {n}: string;\n" for n in _free(code, ("password",)))
        (src / f"snippet_{name}.ts").write_text(declared + code)
    run([str(TS / "node_modules" / ".bin" / "tsc"), "-p", str(tmp)], tmp)


def build_go(snippets: dict[str, str], tmp: Path) -> None:
    """Each snippet (an import block, then statements) wrapped in a main function, with its
    free variables (`ctx`, `password`, `token`) given and the variables it declares used (as
    the function it stands for would use them), is
    vetted and built in GOPATH mode against clients/go and Debian's grpc-go (no network)."""
    go = shutil.which("go")
    assert go, "go is required (the README's commands install Debian's golang-go)"
    root = tmp / "src"
    (root / "camfleet.io").mkdir(parents=True)
    (root / "camfleet.io" / "go").symlink_to(GO_CLIENT)
    for name, code in snippets.items():
        imports, _, body = code.partition("\n)\n")
        given = "".join(f'\t{n} := "{n}"\n' for n in _free(body, ("password", "token")))
        if re.search(r"\bctx\b", body) and "ctx :=" not in body:
            imports += '\n\t"context"'
            given += "\tctx := context.Background()\n"
        declared = sorted(set(re.findall(r"^(\w+), (\w+) :=", body, re.MULTILINE)))
        used = "".join(f"\t_ = {v}\n" for pair in declared for v in pair if v != "_")
        if "\nfor {" in body:
            used = ""  # after an endless loop it would be unreachable (vet says so)
        statements = "".join(f"\t{line}\n" if line else "\n" for line in body.strip().split("\n"))
        package = root / "docsnippets" / name.lower()
        package.mkdir(parents=True)
        (package / "main.go").write_text(
            f"package main\n\n{imports}\n)\n\nfunc main() {{\n{given}{statements}{used}}}\n"
        )
    env = go_env(tmp)
    run([go, "vet", "docsnippets/..."], tmp, env)
    run([go, "build", "docsnippets/..."], tmp, env)
