"""compose.yaml's first start, as processes (no Docker engine here): its two control-plane
replicas and its `join-token` service start at the same moment on an empty PostgreSQL database
(the three migrate it together) after its `tls` service made the local CA and every certificate
(deploy/tls.sh), Envoy in front of the replicas (the compose routes), and its node agent
started through compose's own entrypoint scripts (deploy/join-token.sh, deploy/node-agent.sh)
with compose's own environment, a day after the token was made: it joins over TLS at a
replica's agent listener and connects over mutual TLS with the node certificate issued at join,
as ./start's agent does, and serves HTTPS with the local CA's certificate.

What a person running `docker compose up` sees: both replicas SERVING without a crash, one
`admin` whose password is the one they chose, and the node READY once they run `docker compose
up -d` again (which makes a fresh token), without a restart loop in between."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path

import psycopg
from camfleet.v1 import node_pb2

from harness.agents import start_agent, wait_agent_ready
from harness.control_plane import start_control_plane, wait_serving
from harness.databases import REDIS_URL, TEST_POOL_SIZE, throwaway_postgres, throwaway_redis_prefix
from harness.fleet import ADMIN_PASSWORD, NODE_HTTP_PORT, Fleet, FleetNode, FleetTiming, Replica
from harness.netns import temporary_network
from harness.processes import ROOT, clean_env
from server.tls.ca import CertificateFiles
from tests.deploy.compose_file import environment, services

JOIN_TOKEN_SCRIPT = ROOT / "deploy" / "join-token.sh"
TLS_SCRIPT = ROOT / "deploy" / "tls.sh"
AGENT_SCRIPT = ROOT / "deploy" / "node-agent.sh"
REFUSED_SAYS = "node_agent: the control plane refused the join token"


def _dsn(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


def _query(database_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(_dsn(database_url), autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def _tls_service(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """compose's `tls` service: its script, making the local CA and Envoy's certificate."""
    return subprocess.run(
        ["sh", str(TLS_SCRIPT), sys.executable, "-m", "server.tls"],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _verifies(ca: Path, cert: Path) -> bool:
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, check=False
    )
    return done.returncode == 0


def _join_token_service(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """compose's `join-token` service: its script, minting with `python -m server`."""
    return subprocess.run(
        ["sh", str(JOIN_TOKEN_SCRIPT), sys.executable, "-m", "server", "create-join-token"],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _mounted(env: Mapping[str, str], volume: Path) -> dict[str, str]:
    """`env` with the paths under /tls (where compose mounts a TLS volume) under `volume`."""
    return {k: f"{volume}/{v[5:]}" if v.startswith("/tls/") else v for k, v in env.items()}


async def _start_replica(fleet: Fleet, replica: Replica, agent_ports: tuple[int, int]) -> None:
    """Fleet.start_replica with the replica's own agent listeners: in compose each replica has
    its own address for :50052 and :50053; here they share the bridge address."""
    env = {
        **fleet.env,
        "CAMFLEET_LISTEN": f"{fleet.host}:{replica.port}",
        "CAMFLEET_DATA_DIR": str(fleet.root / f"control-plane-{replica.index}"),
        "CAMFLEET_AGENT_LISTEN": f"{fleet.host}:{agent_ports[0]}",
        "CAMFLEET_AGENT_MTLS_LISTEN": f"{fleet.host}:{agent_ports[1]}",
    }
    replica.child = start_control_plane(env, replica.log, parent_death=True)
    await wait_serving(f"{fleet.host}:{replica.port}", replica.child)


def _served_certificate(address: str, port: int, ca: Path, name: str) -> bool:
    """Whether the node's HTTPS presents a certificate, verified against `ca` for `name` (the
    handshake raises otherwise)."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return bool(tls.getpeercert())


async def _until(
    condition: Callable[[], bool], what: str, fleet: Fleet, within_s: float = 120
) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {within_s:.0f} s:\n{fleet.logs()}")
        await asyncio.sleep(0.2)


async def _until_ready(fleet: Fleet) -> None:
    deadline = time.monotonic() + 60
    while (await fleet.node_states())["node-1"].state != node_pb2.NODE_STATE_READY:
        assert time.monotonic() < deadline, f"node-1 is not READY:\n{fleet.logs()}"
        await asyncio.sleep(0.2)


async def test_compose_first_start_on_an_empty_database() -> None:
    with ExitStack() as stack:
        net = stack.enter_context(temporary_network())
        database_url = stack.enter_context(throwaway_postgres("compose"))
        prefix = stack.enter_context(throwaway_redis_prefix("compose"))
        # Straight under the temporary directory: nginx's unprivileged workers must reach it.
        root = Path(tempfile.mkdtemp(prefix="camfleet-compose-"))
        stack.callback(shutil.rmtree, root, True)
        node_net = net.add_node()
        # The node's address plays the Docker host's name: what browsers and cameras are told.
        compose = services(
            {"CAMFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD, "CAMFLEET_PUBLIC_HOST": node_net.address}
        )
        shared = root / "shared"
        shared.mkdir()
        node = FleetNode(node_net, "node-1", root / "node-1" / "node", root / "agent-node-1.log")
        node.data_dir.parent.mkdir()

        # The `tls` service first (the replicas and the agent wait for it in compose): the local
        # CA and its certificates in the `tls` and `node-tls` volumes. Its public host is the
        # bridge address, which plays `control-plane` (what agents dial) and `envoy` here.
        net_host = net.bridge_address
        tls, node_tls, own = root / "tls", root / "node-tls", root / "tls-own"
        tls.mkdir()
        own.mkdir()
        made = _tls_service(
            {
                **clean_env(),
                **environment(compose["tls"]),
                "CAMFLEET_PUBLIC_HOST": net_host,
                "CAMFLEET_TLS_DIR": str(tls),
                "CAMFLEET_NODE_TLS_DIR": str(node_tls),
                "CAMFLEET_TLS_OWN_DIR": str(own),
            }
        )
        assert made.returncode == 0, made.stderr
        assert (tls / "ca-key.pem").stat().st_mode & 0o077 == 0
        assert not (node_tls / "ca-key.pem").exists()

        # The replicas: compose's environment with this machine's PostgreSQL and Redis for the
        # `postgres` and `redis` services, and the `tls` volume where compose mounts it.
        # Metrics off: both replicas share one address here (each has its own container in
        # compose). _start_replica sets CAMFLEET_LISTEN and the agent listeners.
        plane_env = {
            **clean_env(),
            **_mounted(environment(compose["control-plane-1"]), tls),
            "CAMFLEET_DATABASE_URL": database_url,
            "CAMFLEET_DATABASE_POOL_SIZE": str(TEST_POOL_SIZE),
            "CAMFLEET_REDIS_URL": REDIS_URL,
            "CAMFLEET_REDIS_PREFIX": prefix,
            "CAMFLEET_METRICS_LISTEN": "",
            "CAMFLEET_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        assert environment(compose["control-plane-2"]) == environment(compose["control-plane-1"])
        fleet = Fleet(root, net, plane_env, FleetTiming())
        stack.callback(fleet.stop_everything)
        token_env = {
            **clean_env(),
            **environment(compose["join-token"]),
            "CAMFLEET_DATABASE_URL": database_url,
            "CAMFLEET_AGENT_DATA_DIR": str(node.data_dir),
            "CAMFLEET_JOIN_TOKEN_FILE": str(shared / "join-token"),
        }

        # First `docker compose up`: the replicas and the join-token service start together on
        # the empty database, all three migrating it and two creating admin.
        fleet.replicas = [
            Replica(i, fleet.free_port(), root / f"control-plane-{i}.log") for i in (1, 2)
        ]
        agent_ports = {r.index: (fleet.free_port(), fleet.free_port()) for r in fleet.replicas}
        minting = asyncio.create_task(asyncio.to_thread(_join_token_service, token_env))
        await asyncio.gather(
            *(_start_replica(fleet, r, agent_ports[r.index]) for r in fleet.replicas)
        )
        minted = await minting
        assert minted.returncode == 0, minted.stderr
        token = (shared / "join-token").read_text().strip()
        assert token, "the join-token service wrote no token"
        assert token not in minted.stdout + minted.stderr  # secrets stay out of the logs
        assert (shared / "join-token").stat().st_mode & 0o077 == 0
        # Envoy over TLS with its certificate from the `tls` volume (for the bridge address).
        await fleet.start_edge(
            CertificateFiles(tls / "edge.pem", tls / "edge-key.pem", tls / "edge-ca.pem")
        )
        await fleet.login()  # the admin, with the password the operator chose
        assert _query(database_url, "SELECT username FROM users") == [("admin",)]
        assert _query(database_url, "SELECT count(*) FROM signing_keys") == [(1,)]

        # The agent first starts a day later: its token has expired.
        _query(database_url, "UPDATE join_tokens SET expires_at = expires_at - interval '1 day'")
        # The agent's environment with the `node-tls` volume where compose mounts it, and
        # replica 1's agent listeners for `control-plane` (the alias both replicas answer to).
        join_port, mtls_port = agent_ports[1]
        agent_env = {
            **clean_env(),
            **_mounted(environment(compose["node-agent"]), node_tls),
            "CAMFLEET_CONTROL_PLANE": f"{fleet.host}:{join_port}",
            "CAMFLEET_CONTROL_PLANE_MTLS": f"{fleet.host}:{mtls_port}",
            "CAMFLEET_AGENT_DATA_DIR": str(node.data_dir),
            "CAMFLEET_JOIN_TOKEN_FILE": str(shared / "join-token"),
            "CAMFLEET_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        argv = ["sh", str(AGENT_SCRIPT), sys.executable, "-m", "node_agent"]
        fleet.nodes.append(node)
        node.child = start_agent(node.net.exec_argv(argv), agent_env, node.log)

        def log() -> str:
            return node.log.read_text(errors="replace")

        await _until(lambda: "Waiting for a new one" in log(), "no word of the refusal", fleet)
        assert "the join token has expired" in log()
        assert token not in log()
        # It waits instead of retrying: one refusal, the script still running, no node.
        await asyncio.sleep(3)
        assert log().count(REFUSED_SAYS) == 1
        assert node.running
        assert not (node.data_dir / "credential.json").exists()

        # `docker compose up -d` again: the join-token service makes a new token, and the
        # waiting agent joins with it.
        minted = await asyncio.to_thread(_join_token_service, token_env)
        assert minted.returncode == 0, minted.stderr
        await wait_agent_ready(node.child)
        assert "a new join token arrived" in log()
        await _until_ready(fleet)
        # Joined with a certificate request: its node certificate, signed by the local CA, is
        # what it connects with (the replicas refuse node calls without one).
        assert (node.data_dir / "node-cert.pem").exists()
        assert _verifies(tls / "ca.pem", node.data_dir / "node-cert.pem")
        # HLS, WHEP and downloads over HTTPS, with the local CA's certificate for the public
        # host (the bridge address played it for the `tls` service).
        served = await asyncio.to_thread(
            _served_certificate, node.net.address, NODE_HTTP_PORT, tls / "ca.pem", net_host
        )
        assert served, "the node's HTTPS presented no certificate"

        # `docker compose stop`: the script (PID 1 in the container) hands SIGTERM to the agent,
        # which shuts down cleanly rather than being killed when the grace runs out.
        fleet.stop_node(node, grace_s=30)
        assert node.child.returncode == 0, log()
        assert "shutting down" in log()

        # `docker compose up -d` once more: the registered node needs no token and gets none;
        # the agent starts on its stored credential.
        again = await asyncio.to_thread(_join_token_service, token_env)
        assert again.returncode == 0, again.stderr
        assert "registered already" in again.stdout
        assert _query(database_url, "SELECT count(*) FROM join_tokens") == [(2,)]
        node.log = root / "agent-node-1-again.log"
        node.child = start_agent(node.net.exec_argv(argv), agent_env, node.log)
        await wait_agent_ready(node.child)
        await _until_ready(fleet)

        # Neither replica crashed on the way: both still the processes first started, SERVING.
        for replica in fleet.replicas:
            assert replica.child is not None and replica.running, fleet.logs()
            await wait_serving(f"{fleet.host}:{replica.port}", replica.child, within_s=10)
            assert "Traceback" not in replica.log.read_text(errors="replace"), fleet.logs()
        assert _query(database_url, "SELECT count(*) FROM users") == [(1,)]
