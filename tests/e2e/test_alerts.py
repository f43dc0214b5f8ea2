"""Issue 13's "done when", end to end on real processes (1 of 2; test_alerts_delivery.py has the
delivery failures): 2 control-plane replicas on PostgreSQL + Redis behind Envoy, node agents in
their own network namespaces (harness.fleet), push cameras publishing an ffmpeg test pattern
straight to their node's RTMP (harness.fleet_cameras), and real receivers: a webhook server
verifying Standard Webhooks signatures, aiosmtpd, and Kannel with fakesmsc as the carrier.
Rules, policies and channels are made through AlertService with short timings (`for` a few
seconds, group_wait 1 s, group_interval 3 s).

1. A publishing camera stops: after the pending period exactly one signed webhook, one e-mail
   with a snapshot (the last frame it recorded: it is no longer live) and one SMS through
   Kannel; it publishes again: one resolved notification on each channel.
2. A node's link is cut with 5 of its cameras live (3 publishing to it, 2 it pulls; no other
   node to move to): one grouped notification naming the node; the cameras' alerts are
   inhibited by the node's (inhibited_by), also those of the pull cameras taken off it."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import pytest
from camfleet.v1 import alert_pb2, camera_pb2, recording_pb2

from harness.alert_receivers import Receiver, plain_smtp_server, webhook_receiver
from harness.fleet import Fleet, FleetNode, FleetTiming, running_fleet
from harness.fleet_cameras import PushCamera
from harness.fleet_reads import LOST, ONLINE, READY, all_online, cameras, create, node_ids, until
from harness.kannel import kannel
from harness.rtsp_source import rtsp_source
from tests.support.alert_fleet import (
    AlertApi,
    Stopwatch,
    kinds,
    new_secret,
    reading,
    sms_number,
    sms_to,
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.postgres, pytest.mark.redis]

A = alert_pb2
C = camera_pb2
TIMING = FleetTiming(heartbeat_s=1.0, lost_after_s=3.0, segment_s=2)
# Generous bounds for a loaded two-core machine; the printed times are the measured ones.
SETTLE_S = 90.0
ARRIVE_S = 60.0
# Long enough for a duplicate or a second notification to show up (group_interval is 3 s).
QUIET_S = 10.0
OFFLINE_FOR_S = 3.0


async def ready_node(fleet: Fleet, name: str, labels: dict[str, str] | None = None) -> FleetNode:
    node = await fleet.add_node(name, labels=labels)
    await until(
        f"{name} READY",
        fleet.node_states,
        lambda s: name in s and s[name].state == READY,
        SETTLE_S,
    )
    return node


def publisher(fleet: Fleet, node: FleetNode, camera: camera_pb2.Camera, n: int = 0) -> PushCamera:
    """A push camera publishing straight to `node` (not through the fleet ingest: it cannot move
    to another node)."""
    url = f"rtmp://{node.rtmp_listen}/live/{camera.stream_key}"
    push = PushCamera(camera.name, url, fleet.root / f"push-{camera.name}-{n}.log")
    push.start()
    return push


async def arrivals(
    probes: dict[str, Callable[[], int]], count: int, clock: Stopwatch, within_s: float
) -> dict[str, float]:
    """When (clock seconds) each probe first counted at least `count`."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + within_s
    while len(seen) < len(probes):
        for name, probe in probes.items():
            if name not in seen and probe() >= count:
                seen[name] = clock()
        if time.monotonic() > deadline:
            counts = {name: probe() for name, probe in probes.items()}
            raise AssertionError(f"not {count} on every channel in {within_s:g} s: {counts}")
        await asyncio.sleep(0.05)
    return seen


def jpeg_size(data: bytes) -> tuple[int, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", "-"],
        input=data, capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip
    width, height = out.split(",")
    return int(width), int(height)


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_camera_that_stops_is_told_once_per_channel_with_a_snapshot_then_resolved() -> None:
    tag = secrets.token_hex(4)
    async with running_fleet(backend="postgres", replicas=2, timing=TIMING) as fleet:
        node = await ready_node(fleet, "alerts-0")
        async with AsyncExitStack() as stack:
            (fleet.root / "kannel").mkdir()
            gateway = await stack.enter_async_context(kannel(fleet.root / "kannel"))
            box = stack.enter_context(plain_smtp_server())
            secret = new_secret()
            hook = await stack.enter_async_context(webhook_receiver(secret))
            phone = sms_number(tag)
            api = AlertApi(fleet)

            camera = await create(
                fleet, C.Camera(name=f"lobby-{tag}", recording_enabled=True, labels={"e2e": tag})
            )
            first = publisher(fleet, node, camera)
            stack.push_async_callback(first.stop)
            await until(
                "the camera ONLINE", lambda: cameras(fleet), all_online([camera.name]), SETTLE_S
            )
            await until(
                "two recorded segments",
                lambda: recorded(fleet, camera.id),
                lambda n: n >= 2,
                SETTLE_S,
            )
            channels = [
                await api.webhook(f"hook {tag}", hook.url, secret),
                await api.email(f"mail {tag}", box),
                await api.kannel_sms(f"sms {tag}", gateway, phone),
            ]
            await api.rule(
                f"camera dark {tag}",
                A.AlertCondition(camera_offline=A.CameraOfflineCondition()),
                for_s=OFFLINE_FOR_S,
                match_labels={"e2e": tag},
            )
            await api.policy(f"on call {tag}", channels, {"e2e": tag})
            probes: dict[str, Callable[[], int]] = {
                "webhook": lambda: len(hook.received),
                "email": lambda: len(box.envelopes),
                "sms": lambda: len(sms_to(gateway, phone)),
            }
            # Live and watched: nothing is told.
            await asyncio.sleep(OFFLINE_FOR_S + 2)
            assert {k: p() for k, p in probes.items()} == {"webhook": 0, "email": 0, "sms": 0}

            # The camera stops publishing.
            clock = Stopwatch()
            await first.stop()
            fired = await arrivals(probes, 1, clock, ARRIVE_S)
            print(f"camera stopped -> firing notification: {fired} (for {OFFLINE_FOR_S:g} s)")
            await asyncio.sleep(QUIET_S)
            assert {k: p() for k, p in probes.items()} == {"webhook": 1, "email": 1, "sms": 1}

            (note,) = hook.received
            assert note.payload["kind"] == "firing" and note.webhook_id == note.payload["id"]
            (told,) = note.payload["alerts"]
            assert told["labels"]["camera"] == camera.id
            assert told["labels"]["node"] == (await node_ids(fleet))[node.name]
            # After the pending period: firing `for` after it went dark.
            held = parsed(told["firing_at"]) - parsed(told["active_at"])
            assert held.total_seconds() >= OFFLINE_FOR_S, told
            mail = box.message(0)
            assert mail["Subject"].startswith("[camfleet] FIRING"), mail["Subject"]
            assert camera.name in mail["Subject"]
            text, attachments = mail_parts(mail)
            assert "no snapshot" not in text, text
            assert [a.get_filename() for a in attachments] == [f"snapshot-{camera.id}.jpg"]
            jpeg = attachments[0].get_content()
            assert jpeg.startswith(b"\xff\xd8") and jpeg_size(jpeg) == (320, 180)
            (sms,) = sms_to(gateway, phone)
            assert sms.startswith("FIRING: ") and camera.name in sms, sms

            # It publishes again.
            clock = Stopwatch()
            again = publisher(fleet, node, camera, 1)
            stack.push_async_callback(again.stop)
            online = await until(
                "the camera ONLINE again", lambda: cameras(fleet), all_online([camera.name]), 60
            )
            back = clock()
            resolved = await arrivals(probes, 2, clock, ARRIVE_S)
            print(f"camera publishing again -> ONLINE {back:.1f} s, resolved: {resolved}")
            await asyncio.sleep(QUIET_S)
            assert {k: p() for k, p in probes.items()} == {"webhook": 2, "email": 2, "sms": 2}
            assert online[camera.name].status == ONLINE
            assert [k for k, _ in kinds(hook)] == ["firing", "resolved"]
            assert len(set(hook.ids())) == 2 and hook.bad_signatures == 0
            assert box.message(1)["Subject"].startswith("[camfleet] RESOLVED"), box.message(1)
            assert sms_to(gateway, phone)[1].startswith("RESOLVED: ")
            for channel_id in channels:
                told_here = await api.notifications(channel_id)
                assert [(n.kind, n.status) for n in told_here] == [
                    (A.NOTIFICATION_KIND_FIRING, A.NOTIFICATION_STATUS_DELIVERED),
                    (A.NOTIFICATION_KIND_RESOLVED, A.NOTIFICATION_STATUS_DELIVERED),
                ], told_here


async def recorded(fleet: Fleet, camera_id: str) -> int:
    resp = await fleet.recordings.ListRecordings(
        recording_pb2.ListRecordingsRequest(camera_id=camera_id, page_size=100),
        metadata=fleet.admin,
        timeout=10,
    )
    return len(resp.recordings)


def mail_parts(message: EmailMessage) -> tuple[str, list[EmailMessage]]:
    """The text body and the attachments of an e-mail."""
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    attachments = [a for a in message.iter_attachments() if isinstance(a, EmailMessage)]
    return str(text), attachments


async def test_a_lost_node_is_one_notification_and_inhibits_its_cameras() -> None:
    tag = secrets.token_hex(4)
    pushes = [f"push-{i}-{tag}" for i in range(3)]
    pulls = [f"pull-{i}-{tag}" for i in range(2)]
    names = pushes + pulls
    async with running_fleet(backend="postgres", replicas=2, timing=TIMING) as fleet:
        node = await ready_node(fleet, "edge-lost", labels={"e2e": tag})
        node_id = (await node_ids(fleet))[node.name]
        async with AsyncExitStack() as stack:
            secret = new_secret()
            hook = await stack.enter_async_context(webhook_receiver(secret))
            api = AlertApi(fleet)
            # Push cameras publishing straight to the node, and pull cameras it reads from an
            # RTSP source: with no other node, none of them can move when it is lost (the pull
            # cameras are taken off it, waiting for a node).
            for name in pushes:
                camera = await create(fleet, C.Camera(name=name, labels={"e2e": tag}))
                stack.push_async_callback(publisher(fleet, node, camera).stop)
            src = stack.enter_context(
                rtsp_source(
                    fleet.root / "rtsp", host=fleet.host, size=(320, 180), fps=15, shared=False
                )
            )
            for name in pulls:
                pull = C.Camera(
                    name=name,
                    labels={"e2e": tag},
                    ingest_mode=C.INGEST_MODE_PULL,
                    source_url=src.url,
                )
                await create(fleet, pull)
            live = await until(
                "5 cameras ONLINE on the node", lambda: cameras(fleet), all_online(names), SETTLE_S
            )
            assert {live[n].node_id for n in names} == {node_id}
            channel = await api.webhook(f"hook {tag}", hook.url, secret)
            node_rule = await api.rule(
                f"node lost {tag}",
                A.AlertCondition(node_lost=A.NodeLostCondition()),
                for_s=1,
                match_labels={"e2e": tag},
            )
            camera_rule = await api.rule(
                f"camera dark {tag}",
                A.AlertCondition(camera_offline=A.CameraOfflineCondition()),
                for_s=OFFLINE_FOR_S,
                match_labels={"e2e": tag},
            )
            await api.policy(f"on call {tag}", [channel], {"e2e": tag})

            clock = Stopwatch()
            fleet.cut(node)
            await until(
                f"{node.name} LOST", fleet.node_states, lambda s: s[node.name].state == LOST, 60
            )
            lost = clock()
            fired = await arrivals({"webhook": lambda: len(hook.received)}, 1, clock, ARRIVE_S)
            print(f"link cut -> node LOST {lost:.1f} s, notification {fired['webhook']:.1f} s")

            # The cameras' own alerts fire too, each inhibited by the node's.
            node_alert = await until(
                "the node's alert FIRING",
                lambda: api.alerts(f'rule_id = "{node_rule}"'),
                lambda got: len(got) == 1 and got[0].state == A.ALERT_STATE_FIRING,
                30,
            )
            camera_alerts = await until(
                "5 camera alerts FIRING, inhibited by the node's",
                lambda: api.alerts(f'rule_id = "{camera_rule}"'),
                lambda got: (
                    len(got) == 5
                    and all(
                        a.state == A.ALERT_STATE_FIRING and a.inhibited_by == node_alert[0].id
                        for a in got
                    )
                ),
                60,
            )
            assert {a.labels["camera_name"] for a in camera_alerts} == set(names)
            assert {a.labels["node"] for a in camera_alerts} == {node_id}
            await asyncio.sleep(QUIET_S)
            # One notification, naming the node, with the node's alert only.
            (note,) = hook.received
            payload = note.payload
            assert payload["kind"] == "firing", payload
            assert payload["group_labels"]["node"] == node_id, payload
            assert node.name in payload["summary"], payload["summary"]
            assert "5 cameras" in payload["summary"], payload["summary"]
            assert [a["id"] for a in payload["alerts"]] == [node_alert[0].id]
            print(f"grouped notification: {payload['summary']!r}")

            # The link is back: the node READY, its cameras publish again; the node's alert is
            # told resolved once. Its cameras, reconnecting over a few seconds (a pull camera
            # being placed back), are never told: their alerts wait out the node's recovery
            # grace (server/alerts/inhibition.py) and resolve within it.
            clock = Stopwatch()
            fleet.restore(node)
            node_alert_id = node_alert[0].id
            await until(
                "5 cameras ONLINE again", lambda: cameras(fleet), all_online(names), SETTLE_S
            )
            back = clock()
            await until(
                "the node's and its cameras' alerts resolved",
                lambda: api.alerts(f'state != RESOLVED AND labels.e2e = "{tag}"'),
                lambda got: got == [],
                60,
            )
            resolved = await until(
                "the node's alert told resolved",
                reading(lambda: resolved_notes(hook, node_alert_id)),
                lambda got: len(got) >= 1,
                ARRIVE_S,
            )
            print(f"link restored -> cameras ONLINE {back:.1f} s, resolved told {clock():.1f} s")
            await asyncio.sleep(QUIET_S)
            assert resolved_notes(hook, node_alert_id) == resolved
            (told,) = resolved
            assert [a["id"] for a in told["alerts"]] == [node_alert_id], told
            later = [r.payload for r in hook.received[1:] if r.payload is not told]
            assert later == [], later  # two notifications in all: the node lost, and back
            assert len(set(hook.ids())) == len(hook.ids()) and hook.bad_signatures == 0
            assert len(await api.notifications(channel)) == len(hook.ids())


def resolved_notes(hook: Receiver, alert_id: str) -> list[dict[str, Any]]:
    """The resolved notifications that tell `alert_id`."""
    return [
        r.payload
        for r in hook.received
        if r.payload["kind"] == "resolved" and alert_id in [a["id"] for a in r.payload["alerts"]]
    ]
