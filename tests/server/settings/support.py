"""Helpers of the settings tests: a SettingsService stub, an update, and the ErrorInfo of a
refusal (its metadata carries the current version of a stale update)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
from camfleet.v1 import settings_pb2, settings_pb2_grpc
from google.protobuf import duration_pb2, field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.support.platform import Platform


def stub(plane: Platform) -> settings_pb2_grpc.SettingsServiceStub:
    return settings_pb2_grpc.SettingsServiceStub(plane.channel)


def seconds(value: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(timedelta(seconds=value))
    return d


async def get(plane: Platform, group: int = 0) -> settings_pb2.Settings:
    reply = await stub(plane).GetSettings(
        settings_pb2.GetSettingsRequest(group=group),
        metadata=plane.admin,
        timeout=10,  # type: ignore[arg-type]
    )
    return reply.settings


async def update(
    plane: Platform, paths: list[str], version: int | None = None, **group: Any
) -> settings_pb2.Settings:
    """UpdateSettings of the one group given (`recording=RecordingSettings(...)`); the version
    is the group's current one unless given."""
    (name,) = group
    if version is None:
        version = getattr(await get(plane), name).revision.version
    reply = await stub(plane).UpdateSettings(
        settings_pb2.UpdateSettingsRequest(
            **group, update_mask=field_mask_pb2.FieldMask(paths=paths), version=version
        ),
        metadata=plane.admin,
        timeout=10,
    )
    return reply.settings


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo in the status")
