"""Assertions shared by the identity tests: a refused call's status and google.rpc details, and
audit rows written since a moment of the test; and a command that must run cleanly."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import grpc
from camfleet.v1 import audit_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.support.platform import Platform

ERROR_DOMAIN = "camfleet.io"
T = TypeVar("T")


@dataclass(frozen=True)
class Refusal:
    """What a client sees of a failed call: code, message and the google.rpc details."""

    code: grpc.StatusCode
    message: str
    reason: str  # ErrorInfo.reason, without the "ERROR_REASON_" prefix
    fields: dict[str, str]  # BadRequest field violations: field -> description
    retry_delay_seconds: float | None  # RetryInfo.retry_delay, when present


def _refusal(err: grpc.aio.AioRpcError) -> Refusal:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, f"{err.code()} without google.rpc details: {err.details()}"
    reason = ""
    fields: dict[str, str] = {}
    retry: float | None = None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            assert info.domain == ERROR_DOMAIN
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.update({v.field: v.description for v in bad.field_violations})
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info_retry = error_details_pb2.RetryInfo()
            detail.Unpack(info_retry)
            retry = info_retry.retry_delay.ToTimedelta().total_seconds()
    return Refusal(err.code(), err.details() or "", reason, fields, retry)


async def refused(call: Awaitable[object], code: grpc.StatusCode) -> Refusal:
    """Await `call`, which must fail with `code`; returns what the client saw."""
    try:
        result = await call
    except grpc.aio.AioRpcError as err:
        assert err.code() == code, f"expected {code.name}, got {err.code().name}: {err.details()}"
        return _refusal(err)
    raise AssertionError(f"expected {code.name}, but the call succeeded: {result}")


def now_filter() -> str:
    """A timestamp literal for audit filters (`time >= "..."`), taken now."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def audit_since(
    platform: Platform, since: str, action: str, extra_filter: str = ""
) -> list[audit_pb2.AuditLog]:
    """Audit rows of `action` written at or after `since` (from `now_filter()`)."""
    text = f'action = "{action}" AND time >= "{since}"'
    if extra_filter:
        text += f" AND {extra_filter}"
    return await platform.audit_logs(text)


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within_seconds: float = 3.0
) -> T:
    """Poll `probe` until `ok(result)` (for effects the server writes asynchronously)."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        result = await probe()
        if ok(result) or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


def runs_cleanly(argv: Sequence[str], cwd: Path | None = None, timeout_s: float = 120) -> None:
    """Run `argv` to its end; it must exit 0 (a failure shows what it printed)."""
    result = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    # The exit code is in the message: assertions outside test modules are not rewritten.
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
