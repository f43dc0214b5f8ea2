"""harness.ports.free_port: a port handed out is free, and is not handed out again soon (the
kernel would: it picks at random among free ports, and one handed out is free until bound)."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

from harness import ports
from harness.ports import LOOPBACK, free_port


def test_ports_handed_out_one_after_another_are_all_different() -> None:
    # Without the memory, about 35 of 1,000 repeat one handed out before.
    ports = [free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)


def test_a_port_handed_out_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, free_port()))


def _picked(worker: str, count: int) -> list[int]:
    """Ports a fresh process picks as pytest-xdist worker `worker` of `count`."""
    code = "from harness.ports import free_port; print(*(free_port() for _ in range(200)))"
    env = {**os.environ, "PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": str(count)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return [int(p) for p in out.stdout.split()]


def test_each_xdist_worker_and_its_children_pick_from_a_slice_of_their_own() -> None:
    # Random picks from one range by four workers (and the ./start each runs) met about once
    # a run: an agent found its port taken.
    picks = {worker: _picked(worker, 4) for worker in ("gw0", "gw1", "gw2", "gw3")}
    spans = sorted((min(p), max(p)) for p in picks.values())
    for (_, high), (low, _) in itertools.pairwise(spans):
        assert high < low, spans


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def test_a_reserved_port_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # ./start's own picks must miss the ports a test picked and passed to it (CI: the
    # control plane's metrics port and the agent's --http-listen were one port). The random
    # draw is made to offer the reserved port first.
    lo, hi = ports._RANGE
    reserved, other = [p for p in range(lo, hi) if p not in ports._recent and _bindable(p)][:2]
    draws = iter([reserved, reserved, other])
    monkeypatch.setattr(ports, "_rng", SimpleNamespace(randint=lambda a, b: next(draws)))
    ports.reserve(reserved)
    assert free_port() == other
