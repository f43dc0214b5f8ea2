"""`pip install .` gives an integrator the control plane and the generated client, complete."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from harness.processes import ROOT
from tests.support.assertions import runs_cleanly


def test_the_wheel_carries_server_migrations_and_generated_client(tmp_path: Path) -> None:
    runs_cleanly(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        timeout_s=300,
    )
    (wheel,) = tmp_path.glob("camfleet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    protos = sorted(p.stem for p in (ROOT / "protos" / "camfleet" / "v1").glob("*.proto"))
    for proto in protos:  # messages, type stubs and gRPC stubs of every proto
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert f"camfleet/v1/{proto}{suffix}" in names, f"{proto}{suffix} missing"
    assert "camfleet/py.typed" in names
    for needed in (
        "server/__main__.py",
        "config_options/__init__.py",
        "server/db/alembic.ini",
        "server/db/migrations/env.py",
        "server/db/migrations/script.py.mako",
        "server/db/migrations/versions/0001_initial.py",
    ):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "camfleet-server = server.__main__:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )
