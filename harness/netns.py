"""A test network of real hosts on this machine: one network namespace per node, each joined to
a bridge in the root namespace by a veth pair, so a test can cut a node's link (`ip link set
<host end> down`: packets vanish, no TCP reset tells anyone) and restore it.

    10.213.<k>.1      the bridge, in the root namespace: everything the nodes reach binds here
                      (control planes, Envoy, RTSP sources), never 0.0.0.0
    10.213.<k>.10+i   node i, inside namespace cf<pid>n<i>

Names carry this process's pid and `k` is distinct per process (derived from the pytest-xdist
worker and the pid, then checked against `ip -o addr` under a machine-wide lock), so parallel
workers never collide. Everything created is removed by `close()`, which the context manager
calls in a finally and which is also registered with atexit: namespaces (after killing by PID
whatever still runs inside them), veths and the bridge. Only root can do this; the harness runs
as root."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

IP = "/usr/sbin/ip"
PREFIX = "10.213"
# Held while choosing a subnet and creating its bridge: two processes checking `ip -o addr` at
# the same moment would otherwise pick the same /24.
LOCK_PATH = "/tmp/camfleet-netns.lock"  # noqa: S108 - a lock file shared by design
# Second and later networks of one process get a suffix; interface names stay <= 15 chars.
_SEQUENCE = itertools.count()


class NetnsError(RuntimeError):
    """An `ip` command failed; the message carries its output."""


def ip(*args: str, check: bool = True) -> str:
    """Run `ip *args`; its stdout. NetnsError (with stderr) if it fails and `check`."""
    done = subprocess.run(  # noqa: S603 - fixed binary, arguments of our own
        [IP, *args], capture_output=True, text=True, timeout=30, check=False
    )
    if check and done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _worker_index() -> int:
    """pytest-xdist's worker number (gw3 -> 3), 0 outside xdist."""
    match = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else 0


def subnets_in_use() -> set[int]:
    """Every k of 10.213.<k>.0/24 that some interface of the root namespace has an address in."""
    found = re.findall(rf"inet {re.escape(PREFIX)}\.(\d+)\.", ip("-o", "-4", "addr"))
    return {int(k) for k in found}


def candidate_subnets(pid: int, worker: int) -> list[int]:
    """The k to try, in order: a start spread by worker and pid, then every other one (1..254)."""
    start = (worker * 53 + pid) % 254
    return [(start + i) % 254 + 1 for i in range(254)]


@dataclass(frozen=True)
class NetNode:
    """One node's namespace and veth pair."""

    index: int
    namespace: str
    host_end: str  # in the root namespace, a port of the bridge: what a link cut downs
    node_end: str  # inside the namespace
    address: str

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this node's namespace (`ip netns exec` execs it: same pid)."""
        return [IP, "netns", "exec", self.namespace, *argv]


@dataclass
class TestNetwork:
    """A bridge and its nodes; `add_node` makes one more, `cut`/`restore` a node's link."""

    __test__ = False  # not a pytest test class, whatever its name

    k: int
    tag: str  # pid plus sequence suffix: in every name
    bridge: str
    nodes: list[NetNode] = field(default_factory=list)
    closed: bool = False

    @property
    def bridge_address(self) -> str:
        """What the nodes reach in the root namespace: bind servers here."""
        return f"{PREFIX}.{self.k}.1"

    @classmethod
    def create(cls) -> TestNetwork:
        """A new bridge on a subnet no interface here uses yet; close() removes it."""
        seq = next(_SEQUENCE)
        tag = f"{os.getpid()}{'' if seq == 0 else chr(ord('a') + seq % 26)}"
        bridge = f"cfbr{tag}"
        with open(LOCK_PATH, "a") as lock:  # held open: flock
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = subnets_in_use()
            k = next(k for k in candidate_subnets(os.getpid(), _worker_index()) if k not in used)
            net = cls(k=k, tag=tag, bridge=bridge)
            atexit.register(net.close)
            try:
                ip("link", "add", bridge, "type", "bridge")
                ip("addr", "add", f"{net.bridge_address}/24", "dev", bridge)
                ip("link", "set", bridge, "up")
            except BaseException:
                net.close()
                raise
        return net

    def add_node(self) -> NetNode:
        """A namespace with loopback up and a veth whose host end is a port of the bridge."""
        i = len(self.nodes)
        node = NetNode(
            index=i,
            namespace=f"cf{self.tag}n{i}",
            host_end=f"cf{self.tag}h{i}",
            node_end=f"cf{self.tag}p{i}",
            address=f"{PREFIX}.{self.k}.{10 + i}",
        )
        # Recorded before creating anything, so close() removes whatever part got made.
        self.nodes.append(node)
        ip("netns", "add", node.namespace)
        ip("link", "add", node.host_end, "type", "veth", "peer", "name", node.node_end)
        ip("link", "set", node.node_end, "netns", node.namespace)
        ip("link", "set", node.host_end, "master", self.bridge)
        ip("link", "set", node.host_end, "up")
        inside = ("-n", node.namespace)
        ip(*inside, "addr", "add", f"{node.address}/24", "dev", node.node_end)
        ip(*inside, "link", "set", node.node_end, "up")
        ip(*inside, "link", "set", "lo", "up")
        return node

    def cut(self, node: NetNode) -> None:
        """Take the node's link down: its packets are dropped, nothing tells either side."""
        ip("link", "set", node.host_end, "down")

    def restore(self, node: NetNode) -> None:
        """Bring the node's link back up."""
        ip("link", "set", node.host_end, "up")

    def close(self) -> None:
        """Remove everything this network made (idempotent): kill by PID what still runs in
        each namespace, delete the namespaces (their veth ends go with them), the host ends
        and the bridge."""
        if self.closed:
            return
        self.closed = True
        for node in self.nodes:
            kill_inside(node.namespace)
            ip("netns", "del", node.namespace, check=False)
            ip("link", "del", node.host_end, check=False)
        ip("link", "del", self.bridge, check=False)
        with contextlib.suppress(ValueError):
            atexit.unregister(self.close)

    def leftovers(self) -> list[str]:
        """Names of this network's namespaces and links that still exist (empty after close)."""
        names = {self.bridge} | {n.namespace for n in self.nodes}
        names |= {n.host_end for n in self.nodes} | {n.node_end for n in self.nodes}
        listed = ip("netns", "list") + ip("-o", "link")
        return sorted(n for n in names if re.search(rf"(^|[\s:]){re.escape(n)}([\s:@]|$)", listed))


def kill_inside(namespace: str) -> list[int]:
    """SIGKILL every process running in `namespace` (ours: we made it), by PID; their PIDs."""
    pids = [int(p) for p in ip("netns", "pids", namespace, check=False).split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def kill_namespace(namespace: str, within_s: float = 10.0) -> list[int]:
    """SIGKILL everything running in `namespace` until nothing is left, as systemd's kill of a
    unit's control group: a process forked while an earlier pass was killing (an nginx master
    respawning a worker) is caught by the next pass, not left holding the namespace's ports.
    Every PID killed; TimeoutError if processes still appear after `within_s`."""
    killed: list[int] = []
    deadline = time.monotonic() + within_s
    # A process is listed until it is dead (a zombie has no namespace left to list it by).
    while pids := kill_inside(namespace):
        killed += [p for p in pids if p not in killed]
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes keep running in {namespace}: {pids}")
        time.sleep(0.02)
    return killed


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (a child started in its own session): a host
    crash of everything the agent started in its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def temporary_network() -> Iterator[TestNetwork]:
    """A TestNetwork removed on exit, also when the block fails."""
    net = TestNetwork.create()
    try:
        yield net
    finally:
        net.close()
