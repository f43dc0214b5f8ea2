"""Fixtures of the server tests that run real agents: a GStreamer RTSP camera (one per module)
and a control plane of its own per test on each backend (tests/support/fleet_nodes.py starts
the agents)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from harness.rtsp_source import RtspSource, rtsp_source
from tests.support.stack import Stack, running_control_plane


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspSource]:
    # Unshared media: with GStreamer 1.22 a client joining shared media freezes the timestamps
    # of one already reading it (two nodes during a handover), which looks like a hole.
    with rtsp_source(tmp_path_factory.mktemp("rtsp"), shared=False) as s:
        yield s


@pytest.fixture(params=["sqlite", "postgres"])
async def plane(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    async with running_control_plane(request.param) as stack:
        yield stack
