"""The chaos soak and the harness it runs on are tools of their own: they import nothing from
tests/ (a test's helpers change with the tests; a bench must not break with them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = [
    *sorted((ROOT / "harness").glob("*.py")),
    ROOT / "bench" / "bench_chaos.py",
    ROOT / "bench" / "chaos_index.py",
    ROOT / "bench" / "chaos_observers.py",
    ROOT / "bench" / "chaos_report.py",
]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_chaos_bench_and_the_harness_import_nothing_from_tests() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m.split(".")[0] == "tests")
        for path in OWN
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}
