"""`camfleet` start-up: CPU and wall time of whole CLI runs, exec to exit, as scripts run it.

    python -m bench.bench_cli_start [--runs 20] [--tree LABEL=DIR ...]

Rows: `camfleet --help`, `camfleet cameras --help`, and `camfleet cameras list` against a
control plane started here (SQLite in a temporary directory, three cameras, the CLI logged in
with an API token, so that no run refreshes a token). Each run is
`python -c "from camfleet.cli.main import main; ..."` with the tree's clients/python first on
PYTHONPATH (one interpreter and site-packages for every tree); its CPU is user + system from
wait4. The trees' runs are interleaved (A B A B ...) so that background load hits them alike,
and `ratio` is the median of the run-by-run CPU ratios of each tree to the first. The trees'
modules are compiled once, untimed (PYTHONDONTWRITEBYTECODE is dropped for the children).
`--tree LABEL=DIR` (repeatable; default `this=` the checkout), e.g. before=<a `git worktree` of
the commit before> after=<this checkout>.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.control_plane import server_env, start_control_plane, wait_serving
from harness.cpu import load_average, run_to_end
from harness.ports import LOOPBACK, free_port
from harness.processes import ROOT, clean_env

MAIN = "import sys; from camfleet.cli.main import main; sys.exit(main())"
ROWS = {
    "camfleet --help": ["--help"],
    "camfleet cameras --help": ["cameras", "--help"],
    "camfleet cameras list (a server, 3 cameras)": ["cameras", "list"],
}


def cli_env(tree: Path, config: Path) -> dict[str, str]:
    env = clean_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(PYTHONPATH=str(tree / "clients" / "python"), CAMFLEET_CONFIG=str(config))
    env["COLUMNS"] = "120"
    return env


def camfleet(env: dict[str, str], *args: str, stdin: str = "") -> str:
    """`camfleet ARGS` to its end (for the set-up); its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        input=stdin, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"camfleet {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout


def set_up(target: str, password: str, work: Path) -> Path:
    """A config logged in to `target` with an API token, three cameras on the server."""
    admin = cli_env(ROOT, work / "admin.yaml")
    camfleet(admin, "login", "--server", target, "-u", "admin", "--password-stdin",
             stdin=password + "\n")  # fmt: skip
    for name in ("lobby", "dock", "gate"):
        camfleet(admin, "cameras", "create", name, "--label", "site=north")
    token = camfleet(admin, "api-tokens", "create", "bench", "--scope", "cameras.read").strip()
    config = work / "bench.yaml"
    camfleet(cli_env(ROOT, config), "login", "--server", target, "--token", token)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--tree", action="append", default=[], help="LABEL=DIR: a tree to time (repeatable)"
    )
    args = parser.parse_args()
    trees = {"this": ROOT}
    if args.tree:
        trees = {k: Path(v).resolve() for k, _, v in (t.partition("=") for t in args.tree)}
    print(f"load average {load_average()} at the start ({os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        work = Path(tmp)
        port, password = free_port(), f"Bench-{secrets.token_hex(8)}!"
        server = start_control_plane(server_env(work / "data", port, password), work / "cp.log")
        try:
            target = f"{LOOPBACK}:{port}"
            asyncio.run(wait_serving(target, server))
            config = set_up(target, password, work)
            samples: dict[tuple[str, str], list[tuple[float, float]]] = {
                (row, name): [] for row in ROWS for name in trees
            }
            for argv in ROWS.values():  # compile every tree's modules once, untimed
                for tree in trees.values():
                    run_to_end([sys.executable, "-c", MAIN, *argv], env=cli_env(tree, config),
                               stdout=subprocess.DEVNULL)  # fmt: skip
            for _ in range(args.runs):
                for row, argv in ROWS.items():
                    for name, tree in trees.items():
                        sample = run_to_end(
                            [sys.executable, "-c", MAIN, *argv],
                            env=cli_env(tree, config), stdout=subprocess.DEVNULL,
                        )  # fmt: skip
                        samples[row, name].append(sample)
        finally:
            server.stop()
    print(f"load average {load_average()} at the end; p50 (min-max) of {args.runs} runs")
    first = next(iter(trees))
    print("| command | tree | CPU s | wall s | CPU ratio to " + first + " |")
    print("| --- | --- | --- | --- | --- |")
    for row in ROWS:
        for name in trees:
            walls, cpus = zip(*samples[row, name], strict=True)
            base = [cpu for _, cpu in samples[row, first]]
            ratio = statistics.median(a / b for a, b in zip(cpus, base, strict=True))
            print(
                f"| {row} | {name} | {statistics.median(cpus):.3f} ({min(cpus):.3f}-"
                f"{max(cpus):.3f}) | {statistics.median(walls):.3f} | {ratio:.2f} |"
            )


if __name__ == "__main__":
    main()
