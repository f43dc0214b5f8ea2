"""End to end: a real Prometheus (Debian's) scrapes the control plane's and a node agent's
/metrics, and PromQL through its HTTP API returns what the test did: the GetCamera calls it made
by status code, the cameras it created, the node it started and the agent's own metrics; and
every query of the Grafana dashboard in dashboards/ is PromQL it accepts.

Prometheus runs on a free loopback port with a temporary configuration and TSDB directory, and
is ended by its PID (the Child), also when the test fails."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from camfleet.v1 import camera_pb2

from harness.ports import LOOPBACK, free_port
from harness.processes import ROOT, Child, clean_env
from tests.support.agent_node import publishing
from tests.support.stack import Stack, running_control_plane

pytestmark = pytest.mark.timeout(300)

BACKENDS = ["sqlite", "postgres"]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# Prometheus scrapes every second; on a loaded 2-core machine a value may take a while to show.
WITHIN_S = 90.0
NOT_FOUND_CALLS = 5
UNAUTHENTICATED_CALLS = 2


@pytest.fixture(params=BACKENDS)
async def metered(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Stack, int, int]]:
    """A control plane and a node agent, each with /metrics on a free loopback port."""
    plane_port, agent_port = free_port(), free_port()

    def adjust(env: dict[str, str]) -> None:
        env["CAMFLEET_METRICS_LISTEN"] = f"{LOOPBACK}:{plane_port}"

    async with running_control_plane(str(request.param), adjust) as stack:
        stack.agent_args = ["--metrics-listen", f"{LOOPBACK}:{agent_port}"]
        await stack.start_agent()
        yield stack, plane_port, agent_port


@contextmanager
def prometheus(root: Path, plane_port: int, agent_port: int) -> Iterator[str]:
    """Debian's Prometheus scraping both targets every second; its HTTP API's base URL."""
    assert Path(PROMETHEUS).exists(), (
        f"{PROMETHEUS} is missing: apt-get install -y --no-install-recommends prometheus "
        "(scripts/bootstrap.sh installs it)"
    )
    config = root / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: control-plane\n"
        f"    static_configs: [{{targets: ['{LOOPBACK}:{plane_port}']}}]\n"
        "  - job_name: node-agent\n"
        f"    static_configs: [{{targets: ['{LOOPBACK}:{agent_port}']}}]\n"
    )
    port = free_port()
    child = Child(
        "prometheus",
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        clean_env(),
        root / "prometheus.log",
    )
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        child.stop(grace_s=10)
        assert child.returncode is not None, "prometheus is still running"


def _query(base: str, promql: str) -> list[dict[str, object]] | None:
    """The vector result of an instant query, None while Prometheus does not answer; a query
    it refuses (HTTP 400: not PromQL) fails the test with its error."""
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise AssertionError(f"Prometheus refused {promql}: {err.read()[:300]!r}") from None
    except OSError:
        return None
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


def _value(result: list[dict[str, object]] | None) -> float | None:
    if not result:
        return None
    value = result[0]["value"]
    assert isinstance(value, list)
    return float(value[1])


async def _until(base: str, promql: str, ok: Callable[[float | None], bool]) -> float | None:
    """The query's value once `ok` accepts it; the test fails with the last value after
    WITHIN_S."""
    deadline = time.monotonic() + WITHIN_S
    while True:
        found = _value(await asyncio.to_thread(_query, base, promql))
        if ok(found):
            return found
        assert time.monotonic() < deadline, f"{promql} is {found} after {WITHIN_S:.0f} s"
        await asyncio.sleep(0.5)


async def test_prometheus_scrapes_the_control_plane_and_an_agent(
    metered: tuple[Stack, int, int], tmp_path: Path
) -> None:
    stack, plane_port, agent_port = metered
    for _ in range(2):
        await stack.new_camera(f"prom-{uuid.uuid4().hex[:8]}")
    for _ in range(NOT_FOUND_CALLS):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stack.cameras.GetCamera(
                camera_pb2.GetCameraRequest(id=str(uuid.uuid4())), metadata=stack.admin
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for _ in range(UNAUTHENTICATED_CALLS):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stack.cameras.GetCamera(camera_pb2.GetCameraRequest(id=str(uuid.uuid4())))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED

    with prometheus(tmp_path, plane_port, agent_port) as base:
        for job in ("control-plane", "node-agent"):
            assert await _until(base, f'up{{job="{job}"}}', lambda v: v == 1) == 1
        get = 'grpc_server_handled_total{grpc_method="GetCamera",grpc_code="%s"}'
        assert await _until(base, get % "NOT_FOUND", lambda v: v is not None) == NOT_FOUND_CALLS
        assert await _until(base, get % "UNAUTHENTICATED", lambda v: v is not None) == (
            UNAUTHENTICATED_CALLS
        )
        # Pre-initialised: a code never answered is 0, not absent.
        assert await _until(base, get % "DATA_LOSS", lambda v: v is not None) == 0
        created = (
            'grpc_server_handled_total{grpc_service="camfleet.v1.CameraService",'
            'grpc_method="CreateCamera",grpc_code="OK",grpc_type="unary"}'
        )
        assert await _until(base, created, lambda v: v is not None) == 2
        # The fleet as the control plane knows it: a fresh database with the test's cameras.
        offline = 'camfleet_cameras{job="control-plane",status="offline"}'
        assert await _until(base, offline, lambda v: v == 2) == 2
        ready = 'camfleet_nodes{job="control-plane",state="ready"}'
        assert await _until(base, ready, lambda v: v == 1) == 1
        age = f'camfleet_node_heartbeat_age_seconds{{node="{stack.node_name}"}}'
        assert (await _until(base, age, lambda v: v is not None) or 0) < 30
        # The agent's own.
        info = f'camfleet_agent_info{{job="node-agent",node="{stack.node_name}"}}'
        assert await _until(base, info, lambda v: v is not None) == 1
        disk = 'camfleet_agent_disk_total_bytes{job="node-agent",tier="hot"}'
        total = await _until(base, disk, lambda v: v is not None)
        assert total == shutil.disk_usage(stack.node_dir).total
        # The dashboard in the repository asks this Prometheus things it understands.
        for title, promql in dashboard_queries():
            found = await asyncio.to_thread(_query, base, promql)
            assert found is not None, f"the dashboard's {title!r} query failed: {promql}"
        down = dict(dashboard_queries())["Cameras down"]
        assert await _until(base, down, lambda v: v == 2) == 2
        await _a_publishing_camera_shows_up(stack, base)


async def _a_publishing_camera_shows_up(stack: Stack, base: str) -> None:
    """A camera publishing a test pattern: up on the control plane, its frame rate and bitrate
    from the agent's /stat readings on the agent's /metrics and through heartbeats on the
    control plane's."""
    camera = await stack.new_camera(f"prom-live-{uuid.uuid4().hex[:6]}")
    url = stack.rtmp_url(camera.stream_key)
    async with publishing(url, seconds=120, size="320x180", preset="ultrafast"):
        up = f'camfleet_camera_up{{camera_id="{camera.id}"}}'
        assert await _until(base, up, lambda v: v == 1) == 1
        fps = f'camfleet_agent_stream_frame_rate{{job="node-agent",camera_id="{camera.id}"}}'
        assert await _until(base, fps, bool) == 25
        rate = f'camfleet_stream_bitrate_bps{{job="control-plane",camera_id="{camera.id}"}}'
        assert (await _until(base, rate, bool) or 0) > 0
        assert await _until(base, 'max(camfleet_cameras{status="online"})', bool) == 1


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of dashboards/camfleet.json, with Grafana's
    variables as the deployment's scrape config names them."""
    dashboard = json.loads((ROOT / "dashboards" / "camfleet.json").read_text())
    values = {"$__rate_interval": "1m", "$cp_job": "control-plane", "$agent_job": "node-agent"}
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            promql = target["expr"]
            for name, value in values.items():
                promql = promql.replace(name, value)
            assert "$" not in promql, promql
            queries.append((panel["title"], promql))
    assert len(queries) >= 20
    return queries
