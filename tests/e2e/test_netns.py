"""The test fleet's own network (harness.netns, harness.fleet): a node agent in its own network
namespace reaches the control plane on the bridge address, registers and goes READY; cutting
its link (no TCP reset, as a host that vanished) makes the control plane declare it LOST within
its lost-after time plus a generous margin; bringing the link back makes it READY again; and
nothing of the network is left behind afterwards, also for the processes run inside it."""

from __future__ import annotations

import os
import signal
import time

import pytest
from camfleet.v1 import node_pb2

from harness.fleet import Fleet, FleetTiming, running_fleet
from harness.netns import ip, temporary_network
from tests.support.assertions import eventually

pytestmark = pytest.mark.timeout(300)

READY = node_pb2.NODE_STATE_READY
LOST = node_pb2.NODE_STATE_LOST
TIMING = FleetTiming(heartbeat_s=1.0, lost_after_s=3.0)
# On a loaded two-core machine the sweeper and the reconnect take their time: generous, but
# far below "never".
MARGIN_S = 12.0


async def state_of(fleet: Fleet, name: str) -> int:
    return int((await fleet.node_states())[name].state)


async def test_a_node_in_a_namespace_goes_lost_when_its_link_is_cut_and_ready_when_back() -> None:
    async with running_fleet(backend="sqlite", timing=TIMING) as fleet:
        node = await fleet.add_node("ns-node")
        assert await eventually(lambda: state_of(fleet, "ns-node"), lambda s: s == READY, 30) == (
            READY
        ), fleet.logs()
        listed = (await fleet.node_states())["ns-node"]
        # The agent reports the address it listens on inside its namespace.
        assert node.address in listed.rtmp_url, listed.rtmp_url

        cut_at = time.monotonic()
        fleet.cut(node)
        within = TIMING.lost_after_s + MARGIN_S
        state = await eventually(lambda: state_of(fleet, "ns-node"), lambda s: s == LOST, within)
        assert state == LOST, f"still {node_pb2.NodeState.Name(state)} {within:.0f} s after the cut"
        assert time.monotonic() - cut_at >= TIMING.lost_after_s - 0.5, "LOST before lost_after"
        # The partitioned agent keeps running (the data plane never depends on the control plane).
        assert node.running, fleet.logs()

        fleet.restore(node)
        state = await eventually(lambda: state_of(fleet, "ns-node"), lambda s: s == READY, 60)
        assert state == READY, f"{node_pb2.NodeState.Name(state)} after the link came back\n" + (
            fleet.logs()
        )
        namespaces = [n.namespace for n in fleet.net.nodes]
        bridge = fleet.net.bridge
        pid = node.pid

    listed_ns = ip("netns", "list")
    links = ip("-o", "link")
    assert not [n for n in namespaces if n in listed_ns], listed_ns
    assert bridge not in links and f"cf{os.getpid()}" not in links, links
    assert not _alive(pid), "the agent survived the fleet"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_closing_the_network_removes_it_and_ends_what_runs_inside_even_after_a_failure() -> None:
    with pytest.raises(RuntimeError, match="halfway"), temporary_network() as net:
        node = net.add_node()
        sleeper = os.spawnv(os.P_NOWAIT, "/usr/sbin/ip", node.exec_argv(["sleep", "300"]))
        deadline = time.monotonic() + 10
        while str(sleeper) not in ip("netns", "pids", node.namespace).split():
            assert time.monotonic() < deadline, "sleep never ran inside the namespace"
            time.sleep(0.05)
        raise RuntimeError("a test failing halfway")
    assert net.leftovers() == []
    assert node.namespace not in ip("netns", "list")
    # Killed by PID by the teardown; reaped here.
    _, status = os.waitpid(sleeper, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
