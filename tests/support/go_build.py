"""How the tests build Go (the client in clients/go and the docs' Go snippets): GOPATH mode,
offline, from Debian's Go packages, with one build cache and one set of flags, so grpc-go is
compiled once per machine rather than once per test file or checkout."""

from __future__ import annotations

import os
from pathlib import Path

from harness.processes import ROOT, clean_env

GO_CLIENT = ROOT / "clients" / "go"
# Go's own default cache (os.UserCacheDir()/go-build), named because the tests' environment is
# a clean one. The cache is content-addressed, so sharing it between runs and checkouts never
# serves stale results. A cold one costs the first build ~45 s of CPU compiling grpc-go
# (test_api_reference's Go build: 55 s of CPU cold, 11 s warm), which every fresh clone paid
# when the cache lived in the checkout.
GO_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "go-build"


def go_env(gopath: Path) -> dict[str, str]:
    """GOPATH mode, offline: the caller's GOPATH, then Debian's Go packages; no module proxy,
    no network. The flags are part of the cache's keys: every build here passes the same."""
    GO_CACHE.mkdir(parents=True, exist_ok=True)
    env = clean_env()
    env.update(
        GO111MODULE="off",
        GOPATH=f"{gopath}:/usr/share/gocode",
        GOCACHE=str(GO_CACHE),
        GOPROXY="off",
        # Cache keys independent of the per-run GOPATH, so reruns reuse the cache.
        GOFLAGS="-trimpath",
        GOSUMDB="off",
        CGO_ENABLED="0",
    )
    return env
