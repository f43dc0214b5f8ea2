"""The committed generated code is what the protos produce, and the protos pass buf lint."""

from __future__ import annotations

import shutil
import sys

from harness.processes import ROOT
from tests.support.assertions import runs_cleanly


def test_generated_code_is_current() -> None:
    runs_cleanly([sys.executable, "scripts/generate.py", "--check"], ROOT, timeout_s=120)


def test_buf_lint_is_clean() -> None:
    buf = shutil.which("buf") or str(ROOT / ".venv" / "bin" / "buf")
    runs_cleanly([buf, "lint"], ROOT / "protos", timeout_s=120)
