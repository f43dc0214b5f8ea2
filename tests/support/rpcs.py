"""Every RPC of the public API, found in the generated descriptors (so a new RPC or proto file is
picked up unasked), and a generic call of any of them: used by the permission-table tests
(tests/server/auth/test_permissions.py) and the fuzzer (tests/security/test_fuzz.py)."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import camfleet.v1
import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from tests.support.platform import Metadata

_UNARY_TIMEOUT = 15.0
# A streaming RPC may legitimately stay open: running into this deadline proves it got past the
# guard (which runs before the first message).
_STREAM_TIMEOUT = 2.0


@dataclass(frozen=True)
class Rpc:
    """One RPC of the public API, with its message classes."""

    name: str  # full method name as it travels: /camfleet.v1.Service/Method
    descriptor: MethodDescriptor
    request: type[Message]
    response: type[Message]

    @property
    def short(self) -> str:
        return self.name.removeprefix("/camfleet.v1.")


def _pb2_modules() -> list[ModuleType]:
    """Every generated *_pb2 module of camfleet.v1, so a new proto file is picked up unasked."""
    return [
        importlib.import_module(f"camfleet.v1.{info.name}")
        for info in pkgutil.iter_modules(camfleet.v1.__path__)
        if info.name.endswith("_pb2")
    ]


def _rpc(method: MethodDescriptor) -> Rpc:
    return Rpc(
        name=f"/{method.containing_service.full_name}/{method.name}",
        descriptor=method,
        request=message_factory.GetMessageClass(method.input_type),
        response=message_factory.GetMessageClass(method.output_type),
    )


def camfleet_rpcs() -> list[Rpc]:
    """Every method of every camfleet.v1 service, from the generated descriptors."""
    return sorted(
        (
            _rpc(method)
            for module in _pb2_modules()
            for service in module.DESCRIPTOR.services_by_name.values()
            for method in service.methods
        ),
        key=lambda r: r.name,
    )


RPCS = camfleet_rpcs()


async def call_rpc(
    channel: grpc.aio.Channel,
    rpc: Rpc,
    metadata: Metadata,
    request: Message | None = None,
    stream_timeout: float = _STREAM_TIMEOUT,
) -> tuple[grpc.StatusCode, str]:
    """Call `rpc` generically (any streaming kind) and return its final status and message."""
    d = rpc.descriptor
    factory: Any = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }[(d.client_streaming, d.server_streaming)]
    multicallable = factory(
        rpc.name,
        request_serializer=rpc.request.SerializeToString,
        response_deserializer=rpc.response.FromString,
    )
    message = request if request is not None else rpc.request()
    streaming = d.client_streaming or d.server_streaming
    call = multicallable(
        iter([message]) if d.client_streaming else message,
        metadata=metadata,
        timeout=stream_timeout if streaming else _UNARY_TIMEOUT,
    )
    code = await call.code()
    return code, await call.details() or ""
