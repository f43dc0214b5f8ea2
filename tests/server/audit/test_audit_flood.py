"""A flood of refused calls cannot bury the audit log, and none goes uncounted."""

from __future__ import annotations

import grpc
import pytest
from camfleet.v1 import camera_pb2

from server.audit.log import AuditLog
from server.db.engine import session_factory
from server.identity.principal import CallInfo, set_current_call
from tests.conftest import PlatformFactory
from tests.support.platform import Platform


async def test_a_flood_of_anonymous_calls_is_coalesced(make_platform: PlatformFactory) -> None:
    guarded = await make_platform(audit_flood_limit=5)
    for _ in range(40):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await guarded.cameras.ListCameras(camera_pb2.ListCamerasRequest())
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED  # every caller is refused
    rows = await guarded.audit_logs('action = "authn.failed" AND source_address = "127.0.0.1"')
    # At most the limit per window (a window may turn over during the loop: twice the limit).
    assert 5 <= len(rows) <= 10


async def test_suppressed_refusals_are_counted_on_the_next_record(platform: Platform) -> None:
    now = [1000.0]  # a clock the test moves, so a slow machine cannot turn the window over
    audit = AuditLog(
        session_factory(platform.plane.engine),
        flood_limit=2,
        flood_window_s=60.0,
        clock=lambda: now[0],
    )
    token = set_current_call(CallInfo(method="/probe", source_address="127.0.0.77"))
    try:
        for _ in range(7):  # 2 written, 5 counted
            await audit.security_event("probe.flood", details={"n": "x"})
        now[0] += 60.0  # next window
        await audit.security_event("probe.flood")
    finally:
        token.var.reset(token)
    rows = await platform.audit_logs('action = "probe.flood" AND source_address = "127.0.0.77"')
    assert len(rows) == 3
    assert sorted(r.details.get("suppressed_before", "0") for r in rows) == ["0", "0", "5"]
