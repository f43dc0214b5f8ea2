"""Run the platform on this machine: the control plane (SQLite in the data directory) and one
node agent with its nginx. `./start` runs this. Ctrl-C stops everything it started.

On the first start it creates a join token with `python -m server create-join-token` and gives
it to the agent, which trades it for its own node credential (kept in DATA_DIR/node).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

PYTHON = sys.executable
STARTUP_TIMEOUT_S = 60.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CAMFLEET_DATA_DIR", "./data"))
    parser.add_argument("--listen", default=os.environ.get("CAMFLEET_LISTEN", "127.0.0.1:50051"))
    parser.add_argument("--rtmp-listen", default="127.0.0.1:1935")
    parser.add_argument("--http-listen", default="127.0.0.1:8088")
    parser.add_argument("--node-name", default="local")
    return parser


def _wait_healthy(target: str, server: subprocess.Popen[bytes]) -> bool:
    """True once the control plane answers SERVING; False if it exits first or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline and server.poll() is None:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes] | None, within_s: float) -> None:
    """SIGTERM, wait, then SIGKILL: by PID, children of our own making only."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(within_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    """Start the control plane and a node agent; return when they are stopped."""
    args = _parser().parse_args(argv)
    data = Path(args.data_dir).resolve()
    node_dir = data / "node"
    env = {**os.environ, "CAMFLEET_DATA_DIR": str(data), "CAMFLEET_LISTEN": args.listen}
    agent_env = dict(env)
    if not (node_dir / "credential.json").exists():
        made = subprocess.run(
            [PYTHON, "-m", "server", "create-join-token"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            sys.stderr.write(made.stderr)
            return made.returncode
        agent_env["CAMFLEET_JOIN_TOKEN"] = made.stdout.strip()

    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = subprocess.Popen([PYTHON, "-m", "server"], env=env)
    agent: subprocess.Popen[bytes] | None = None
    try:
        if not _wait_healthy(args.listen, server):
            print("camfleet: the control plane did not start (see above)", file=sys.stderr)
            return 1
        agent = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "node_agent",
                "--control-plane",
                args.listen,
                "--data-dir",
                str(node_dir),
                "--name",
                args.node_name,
                "--rtmp-listen",
                args.rtmp_listen,
                "--http-listen",
                args.http_listen,
            ],
            env=agent_env,
        )
        print(
            f"\n  camfleet is running: control plane {args.listen} (gRPC), node '{args.node_name}'"
            f" ingest rtmp://{args.rtmp_listen}/live/<stream key>, playback "
            f"http://{args.http_listen}\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stopping:
            if server.poll() is not None or agent.poll() is not None:
                which = "control plane" if server.poll() is not None else "node agent"
                print(f"camfleet: the {which} exited; stopping", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        _stop(agent, 20.0)
        _stop(server, 15.0)


if __name__ == "__main__":
    raise SystemExit(main())
