"""How the tests build Go (the client in clients/go and the docs' Go snippets): GOPATH mode,
offline, from Debian's Go packages, with one build cache and one set of flags, so grpc-go is
compiled once per checkout rather than once per test file."""

from __future__ import annotations

from pathlib import Path

from harness.processes import ROOT, clean_env

GO_CLIENT = ROOT / "clients" / "go"
# The build cache is content-addressed, so reusing it across runs never serves stale results;
# it lives in the checkout (ignored by git) so later runs skip recompiling grpc-go.
GO_CACHE = GO_CLIENT / ".cache" / "go-build"


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
