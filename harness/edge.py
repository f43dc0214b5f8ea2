"""Envoy in front of control-plane replicas, as ./start and compose run it: its config rendered
by scripts/envoy_config.py (the same routes, health checks and circuit breakers) into a work
directory of its own, started there (the admin socket's path is relative to it)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.ingest import envoy_binary
from harness.processes import Child

# scripts/ are top-level modules to mypy (they import each other by bare name, as ./start runs
# them), so they are loaded here by name at run time, without mypy seeing one file under two
# module names.
envoy_config: Any = importlib.import_module("scripts.envoy_config")
envoy_admin: Any = importlib.import_module("scripts.envoy_admin")


def spawn_edge(
    workdir: Path,
    listen: tuple[str, int],
    upstreams: Sequence[tuple[str, int]],
    log: Path,
    *,
    tls: tuple[Path, Path] | None = None,
    parent_death: bool = False,
) -> Child:
    """Envoy listening on `listen` and routing gRPC to `upstreams` (over TLS with `tls`, a
    certificate and its key); its admin socket is `workdir / envoy_admin.ADMIN_SOCKET`. The
    caller waits for it to route and ends it by PID."""
    workdir.mkdir(parents=True, exist_ok=True)
    rendered = envoy_config.render(listen, envoy_admin.ADMIN_SOCKET, list(upstreams), tls=tls)
    (workdir / "envoy.json").write_text(json.dumps(rendered))
    # --disable-hot-restart: other Envoys run on this machine.
    argv = [envoy_binary(), "-c", "envoy.json", "--disable-hot-restart", "--log-level", "warning"]
    return Child("envoy", argv, None, log, cwd=workdir, parent_death=parent_death)
