"""The agent's /metrics: its live streams as the tracker knows them, its disks, only on the
address the operator chose, and a clear refusal when that address cannot be bound."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.ports import LOOPBACK, free_port
from node_agent.config import load_config
from node_agent.config_values import HostPort
from node_agent.errors import ConfigError, StartupError
from node_agent.metrics import AgentMetrics, MetricsListener
from node_agent.nginx.stat import StreamStat
from node_agent.streams import StreamTracker
from tests.support.agent_node import new_camera_id


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://{LOOPBACK}:{port}{path}") as resp,
    ):
        return resp.status, await resp.text()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_show_streams_and_disks(tmp_path: Path) -> None:
    tracker = StreamTracker()
    camera = new_camera_id()
    tracker.publish_started("key-1", camera, "192.0.2.7", assigned=True)
    tracker.observe(
        [
            StreamStat(
                name="key-1",
                uptime_ms=3000,
                bitrate_bps=812_000,
                clients=2,
                publishing=True,
                fps=25.0,
                bytes_in=50_000,
            )
        ]
    )
    listener = MetricsListener(
        AgentMetrics(
            lambda: ("node-id-1", "edge-1"), "9.9.9", tracker, lambda: None, {"hot": tmp_path}
        )
    )
    port = free_port()
    await listener.start(HostPort(LOOPBACK, port))
    try:
        status, body = await _get(port, "/metrics")
        assert status == 200
        found = _samples(body)
        key = frozenset({("camera_id", camera)})
        assert found[("camfleet_agent_streams", frozenset())] == 1
        assert found[("camfleet_agent_stream_bitrate_bps", key)] == 812_000
        assert found[("camfleet_agent_stream_frame_rate", key)] == 25
        assert found[("camfleet_agent_stream_clients", key)] == 2
        assert found[("camfleet_agent_stream_media_flowing", key)] == 1
        assert found[("camfleet_agent_recorders", frozenset())] == 0
        disk = frozenset({("tier", "hot"), ("path", str(tmp_path))})
        usage = shutil.disk_usage(tmp_path)
        assert found[("camfleet_agent_disk_total_bytes", disk)] == usage.total
        assert 0 < found[("camfleet_agent_disk_free_bytes", disk)] <= usage.total
        info = frozenset({("node_id", "node-id-1"), ("node", "edge-1"), ("version", "9.9.9")})
        assert found[("camfleet_agent_info", info)] == 1
        status, _ = await _get(port, "/recordings/")
        assert status == 404
    finally:
        await listener.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(port, "/metrics")


async def test_an_address_in_use_is_a_startup_error_naming_the_flag(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        listener = MetricsListener(
            AgentMetrics(lambda: ("", "n"), "1", StreamTracker(), lambda: None, {"hot": tmp_path})
        )
        with pytest.raises(StartupError, match="--metrics-listen"):
            await listener.start(HostPort(LOOPBACK, port))


def test_metrics_are_off_unless_an_address_is_given(tmp_path: Path) -> None:
    assert load_config(["--data-dir", str(tmp_path)], environ={}).metrics_listen is None
    chosen = load_config(
        ["--data-dir", str(tmp_path)], environ={"CAMFLEET_AGENT_METRICS_LISTEN": "127.0.0.1:9465"}
    ).metrics_listen
    assert chosen == HostPort("127.0.0.1", 9465)
    with pytest.raises(ConfigError, match="--metrics-listen"):
        load_config(["--data-dir", str(tmp_path), "--metrics-listen", "9465"], environ={})
