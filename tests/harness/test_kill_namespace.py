"""harness.netns.kill_namespace kills a node's namespace empty, as systemd kills a unit's
control group: also what is forked while the kill goes on (an nginx master respawning a
worker), which one pass over a snapshot of its PIDs can miss."""

from __future__ import annotations

import subprocess
import time

from harness.netns import ip, kill_namespace, temporary_network


def test_a_namespace_is_left_empty_even_while_its_processes_fork() -> None:
    with temporary_network() as net:
        node = net.add_node()
        # Forks orphans (re-parented to init, still in the namespace) as fast as it can.
        forker = subprocess.Popen(
            node.exec_argv(["sh", "-c", "while :; do (sleep 60 &); done"]),
            start_new_session=True,
        )
        try:
            # Killed once it is forking (on a loaded machine `ip netns exec` may not have
            # started the shell yet, and there would be one process to kill).
            deadline = time.monotonic() + 30
            while len(ip("netns", "pids", node.namespace, check=False).split()) < 3:
                assert time.monotonic() < deadline, "the shell never forked"
                time.sleep(0.05)
            killed = kill_namespace(node.namespace)
            assert len(killed) > 1
            assert ip("netns", "pids", node.namespace, check=False).split() == []
        finally:
            forker.kill()
            forker.wait(timeout=10)
