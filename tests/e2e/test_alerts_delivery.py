"""Issue 13's "done when", end to end on real processes (2 of 2; test_alerts.py has the camera
and node scenarios): notification delivery that survives failure, on 2 control-plane replicas
on PostgreSQL + Redis behind Envoy (harness.fleet), with a real webhook receiver verifying
Standard Webhooks signatures. Alerts come from cameras that never published (OFFLINE from the
start) and a camera-offline rule created when the test wants them to fire.

3. The webhook receiver is down (nothing listens on its port) for two minutes: the
   notification arrives after it returns, and every attempt is in the delivery log
   (ListDeliveryAttempts), failed ones with their error.
4. Two replicas: no notification is sent twice. A replica killed (SIGKILL) while it sends (the
   receiver holds the request open; the test finds the replica by the connection's socket):
   the other replica, leader now, sends it again with the same webhook-id once the claim ran
   out. Receivers drop duplicates by id; every notification id is accepted exactly once."""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import AsyncExitStack
from datetime import UTC

import pytest
from aiohttp import web
from camfleet.v1 import alert_pb2, camera_pb2, node_pb2

from harness.alert_receivers import Receiver, webhook_receiver
from harness.fleet import Fleet, FleetTiming, running_fleet
from harness.fleet_reads import create, until
from harness.ports import free_port
from tests.support.alert_fleet import AlertApi, Stopwatch, new_secret, reading, socket_owner

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

A = alert_pb2
TIMING = FleetTiming(heartbeat_s=1.0, lost_after_s=3.0)
DOWN_S = 120.0
QUIET_S = 8.0


def offline_rule() -> A.AlertCondition:
    return A.AlertCondition(camera_offline=A.CameraOfflineCondition())


async def dark_cameras(fleet: Fleet, tag: str, count: int) -> list[camera_pb2.Camera]:
    """Cameras that never publish (OFFLINE), labelled for this test."""
    return [
        await create(fleet, camera_pb2.Camera(name=f"dark-{i}-{tag}", labels={"e2e": tag}))
        for i in range(count)
    ]


# Full-jitter backoff: after ~7 attempts in two minutes the next wait is drawn from up to
# min(60 s, 2 s * 2^7): the receiver back hears within a minute.
@pytest.mark.timeout(1200)
async def test_a_receiver_down_for_two_minutes_gets_the_notification_when_it_returns() -> None:
    tag = secrets.token_hex(4)
    async with running_fleet(backend="postgres", replicas=2, timing=TIMING) as fleet:
        api = AlertApi(fleet)
        secret, port = new_secret(), free_port()
        receiver = Receiver(secret)
        # Nothing listens on the port yet: the receiver is down.
        channel = await api.webhook(f"hook {tag}", f"http://127.0.0.1:{port}/hook", secret)
        await dark_cameras(fleet, tag, 1)
        await api.policy(f"on call {tag}", [channel], {"e2e": tag})
        down = Stopwatch()
        await api.rule(f"dark {tag}", offline_rule(), for_s=1, match_labels={"e2e": tag})
        (note,) = await until(
            "a notification failing to reach the receiver",
            lambda: api.notifications(channel),
            lambda got: len(got) == 1 and got[0].attempts >= 1,
            60,
        )
        assert note.status == A.NOTIFICATION_STATUS_RETRYING, note
        await asyncio.sleep(max(0.0, DOWN_S - down()))

        async with webhook_receiver(secret, port, receiver=receiver):
            returned_at, back = time.time(), Stopwatch()
            (waiting,) = await api.notifications(channel)
            print(f"receiver down {down():.0f} s: {waiting.attempts} attempts failed")
            # The next try is when the backoff drew it (full jitter: up to 2 s * 2^attempts,
            # at most a minute).
            next_in = waiting.next_attempt_time.ToDatetime(UTC).timestamp() - time.time()
            assert next_in <= 61, f"the next try is {next_in:.0f} s away"
            await until(
                "the notification at the receiver that came back",
                reading(lambda: len(receiver.received)),
                lambda n: n >= 1,
                max(0.0, next_in) + 30,
            )
            arrived = back()
            await asyncio.sleep(QUIET_S)
        (got,) = receiver.received
        assert got.webhook_id == note.id and got.payload["kind"] == "firing"
        (done,) = await api.notifications(channel)
        assert done.status == A.NOTIFICATION_STATUS_DELIVERED, done
        attempts = await api.attempts(note.id)
        at = [a.time.ToDatetime(UTC).timestamp() - returned_at for a in attempts]
        print(
            f"receiver back -> notification after {arrived:.1f} s (next try was due in "
            f"{next_in:.1f} s); {len(attempts)} attempts at (s from its return): "
            + ", ".join(
                f"{t:.0f} {'ok' if a.ok else 'failed'}" for t, a in zip(at, attempts, strict=True)
            )
        )
        # Every attempt is in the log: the failures while it was down with their error, then
        # the delivery after it came back.
        assert len(attempts) == done.attempts >= waiting.attempts + 1
        assert [a.ok for a in attempts] == [False] * (len(attempts) - 1) + [True]
        assert all(a.error and a.response_code == 0 for a in attempts[:-1]), attempts[0]
        assert attempts[-1].response_code == 204
        assert len({a.id for a in attempts}) == len(attempts)
        assert all(-DOWN_S - 5 < t < 0 for t in at[:-1]) and at[-1] > -1, at


@pytest.mark.timeout(600)
async def test_two_replicas_send_once_and_a_replica_killed_mid_send_is_covered_by_the_other() -> (
    None
):
    tag = secrets.token_hex(4)
    async with running_fleet(backend="postgres", replicas=2, timing=TIMING) as fleet:
        api = AlertApi(fleet)
        secret = new_secret()
        async with AsyncExitStack() as stack:
            hook = await stack.enter_async_context(webhook_receiver(secret))
            channel = await api.webhook(f"hook {tag}", hook.url, secret, timeout_s=15)

            # Both replicas up: six alerts, each its own group, fire and resolve.
            await dark_cameras(fleet, tag, 6)
            await api.policy(f"each {tag}", [channel], {"e2e": tag}, group_by=["..."])
            rule = await api.rule(f"dark {tag}", offline_rule(), for_s=1, match_labels={"e2e": tag})
            await until(
                "6 firing notifications", reading(lambda: len(hook.received)), lambda n: n >= 6, 60
            )
            await api.delete_rule(rule)
            await until(
                "6 resolved notifications",
                reading(lambda: len(hook.received)),
                lambda n: n >= 12,
                60,
            )
            await asyncio.sleep(QUIET_S)
            told = await api.notifications(channel)
            assert len(told) == 12 and all(
                n.status == A.NOTIFICATION_STATUS_DELIVERED for n in told
            )
            assert sorted(hook.ids()) == sorted(n.id for n in told), "a notification sent twice"
            print(f"two replicas: {len(told)} notifications, each received once")

            # A replica killed while it sends: the receiver holds the first request open. From
            # here on it drops duplicates by id, as receivers should.
            sender: dict[str, int | str] = {}
            requests: list[str] = []
            accepted = set(hook.ids())
            holding, release = asyncio.Event(), asyncio.Event()
            pids = [r.child.pid for r in fleet.replicas if r.child is not None]

            async def hold_the_first(request: web.Request) -> web.StreamResponse:
                webhook_id = request.headers["webhook-id"]
                requests.append(webhook_id)
                if not sender:
                    peer = (
                        request.transport.get_extra_info("peername") if request.transport else None
                    )
                    sender["pid"] = socket_owner(peer[1], pids) or 0 if peer else 0
                    sender["id"] = webhook_id
                    holding.set()
                    await release.wait()
                accepted.add(webhook_id)
                return web.Response(status=204)

            hook.answer = hold_the_first
            await dark_cameras(fleet, f"{tag}k", 1)
            await api.policy(f"killed {tag}", [channel], {"e2e": f"{tag}k"})
            await api.rule(f"dark {tag}k", offline_rule(), for_s=1, match_labels={"e2e": f"{tag}k"})
            await asyncio.wait_for(holding.wait(), 60)
            leader = await leader_pid(fleet)
            assert sender["pid"] in pids, f"no replica holds the connection: {sender}"
            assert sender["pid"] == leader, f"replica {sender['pid']} sends, {leader} leads"
            (victim,) = [r for r in fleet.replicas if r.child is not None and r.child.pid == leader]
            clock = Stopwatch()
            fleet.kill_replica(victim)
            # The receiver takes the request whose sender died (it cannot know the answer was
            # lost).
            release.set()
            await until(
                "the notification sent again by the other replica",
                reading(lambda: requests.count(str(sender["id"]))),
                lambda n: n >= 2,
                120,
            )
            again = clock()
            await asyncio.sleep(QUIET_S)
            print(f"replica killed mid-send -> sent again by the other after {again:.1f} s")
            # The same id twice (the killed send and the resend) and nothing else; dropping
            # duplicates by id, the receiver accepted every notification exactly once.
            assert requests == [sender["id"], sender["id"]], requests
            told = await api.notifications(channel)
            assert sorted(accepted) == sorted(n.id for n in told), (accepted, told)
            (killed,) = [n for n in told if n.id == sender["id"]]
            assert killed.status == A.NOTIFICATION_STATUS_DELIVERED, killed
            attempts = await api.attempts(killed.id)
            print("attempts: " + "; ".join(f"ok={a.ok} {a.error}" for a in attempts))
            assert [a.ok for a in attempts] == [False, True], attempts
            assert attempts[0].response_code == 0 and attempts[0].error, attempts[0]


async def leader_pid(fleet: Fleet) -> int:
    """The PID of the leading replica (GetLeader's replica id is host:pid...)."""
    resp = await fleet.nodes_stub.GetLeader(
        node_pb2.GetLeaderRequest(), metadata=fleet.admin, timeout=5
    )
    return int(resp.replica_id.split(":")[1])
