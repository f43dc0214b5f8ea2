"""The committed generated code is what the protos produce, and the protos pass buf lint."""

from __future__ import annotations

import shutil
import subprocess
import sys

from harness.processes import ROOT


def test_generated_code_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/generate.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_is_clean() -> None:
    buf = shutil.which("buf") or str(ROOT / ".venv" / "bin" / "buf")
    result = subprocess.run(
        [buf, "lint"],
        cwd=ROOT / "protos",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
