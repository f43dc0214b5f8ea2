"""The command line is tested against the embedded backend only (SQLite, what `./start` runs).

What a command prints, its exit code and the sentence it fails with are the command line's, and
do not depend on the database behind the control plane; what the control plane does on each
backend is tested in tests/server and tests/e2e on both. With this and the commands run in the
test's process (cli_process.py), tests/cli needs 49 s of CPU instead of 350 s (2026-12-07, three
workers, the two measured one after the other).
"""

from __future__ import annotations

import pytest

from tests.support.platform import Platform


@pytest.fixture(scope="session")
def platform(sqlite_platform: Platform) -> Platform:
    """The worker's shared SQLite control plane (make_platform's extra planes follow it)."""
    return sqlite_platform
