"""Server reflection in both versions, as tools meet it: newer grpcurl, Evans and Postman ask
`grpc.reflection.v1.ServerReflection` first, older tools `grpc.reflection.v1alpha`.

- A third-party reflection client (grpc-requests) pointed at v1 and knowing none of our protos
  lists the services, learns the messages and calls ListCameras, directly and through Envoy.
- A raw v1 stream with v1's own messages (built from the descriptor the server reflects, checked
  against upstream's field numbers) answers several requests on one stream, and a clear error
  for an unknown symbol.
- Neither version needs a credential.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_requests.aio import ReflectionAsyncClient

from server.transport.services import SERVICE_NAMES
from tests.support.envoy import running_envoy
from tests.support.platform import Platform

V1 = "grpc.reflection.v1.ServerReflection"
V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
V1_METHOD = f"/{V1}/ServerReflectionInfo"


class V1ReflectionClient(ReflectionAsyncClient):
    """grpc-requests' reflection client asking v1, as newer tools do (it asks v1alpha itself).
    The messages are the ones it already has: v1's are the same on the wire."""

    def __init__(self, endpoint: str, **kwargs: Any) -> None:
        super().__init__(endpoint, descriptor_pool=descriptor_pool.DescriptorPool(), **kwargs)
        self.reflection_stub = _V1Stub(self.channel)


class _V1Stub:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.ServerReflectionInfo = channel.stream_stream(
            V1_METHOD,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )


async def _list_cameras_by_reflection(target: str, platform: Platform) -> None:
    """What a tool without our protos does: list, learn CameraService, call it."""
    camera = await platform.new_camera()
    async with V1ReflectionClient(target) as client:
        names = await client.service_names()
        assert set(SERVICE_NAMES) <= set(names), names
        assert {V1, V1ALPHA, "grpc.health.v1.Health"} <= set(names), names
        listed = await client.request(
            "camfleet.v1.CameraService",
            "ListCameras",
            {"filter": f'name = "{camera.name}"'},
            metadata=platform.admin,
        )
        assert [c["id"] for c in listed["cameras"]] == [camera.id]
        # The call needs a credential; reflection, which taught the client the call, did not.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.request("camfleet.v1.CameraService", "ListCameras", {})
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_a_v1_reflection_client_without_our_protos_lists_and_calls(
    platform: Platform,
) -> None:
    await _list_cameras_by_reflection(platform.target, platform)


async def test_v1_reflection_through_envoy(sqlite_platform: Platform, tmp_path: Path) -> None:
    """The local platform's edge routes /grpc.reflection.* (both versions) to a control plane."""
    async with running_envoy([("127.0.0.1", sqlite_platform.plane.port)], tmp_path) as port:
        await _list_cameras_by_reflection(f"127.0.0.1:{port}", sqlite_platform)


# ---------------------------------------------------------------------------------------------
# A raw v1 stream with v1's messages


async def _v1_file(platform: Platform) -> descriptor_pb2.FileDescriptorProto:
    """The file declaring grpc.reflection.v1.ServerReflection, as the server reflects it."""
    stub = reflection_pb2_grpc.ServerReflectionStub(platform.channel)
    call = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol=V1)])
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        async for r in call
        for raw in r.file_descriptor_response.file_descriptor_proto
    ]
    assert [f.package for f in files] == ["grpc.reflection.v1"], files
    return files[0]


def _numbers(file: descriptor_pb2.FileDescriptorProto, message: str) -> dict[str, int]:
    found = next(m for m in file.message_type if m.name == message)
    return {f.name: f.number for f in found.field}


@pytest.fixture
async def v1(platform: Platform) -> AsyncIterator[dict[str, type[Message]]]:
    """v1's request and response classes, from the reflected file in a pool of their own."""
    file = await _v1_file(platform)
    # Upstream's grpc/reflection/v1/reflection.proto numbers these fields so.
    assert _numbers(file, "ServerReflectionRequest") == {
        "host": 1,
        "file_by_filename": 3,
        "file_containing_symbol": 4,
        "file_containing_extension": 5,
        "all_extension_numbers_of_type": 6,
        "list_services": 7,
    }
    assert _numbers(file, "ServerReflectionResponse") == {
        "valid_host": 1,
        "original_request": 2,
        "file_descriptor_response": 4,
        "all_extension_numbers_response": 5,
        "list_services_response": 6,
        "error_response": 7,
    }
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    yield {
        name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"grpc.reflection.v1.{name}")
        )
        for name in ("ServerReflectionRequest", "ServerReflectionResponse")
    }


async def test_a_raw_v1_stream_answers_each_request_in_turn(
    platform: Platform, v1: dict[str, type[Message]]
) -> None:
    request, response = v1["ServerReflectionRequest"], v1["ServerReflectionResponse"]
    call = platform.channel.stream_stream(
        V1_METHOD,
        request_serializer=request.SerializeToString,
        response_deserializer=response.FromString,
    )()
    await call.write(request(list_services=""))
    listed: Any = await call.read()
    names = {s.name for s in listed.list_services_response.service}
    assert set(SERVICE_NAMES) | {V1, V1ALPHA} <= names

    await call.write(request(file_containing_symbol="camfleet.v1.CameraService"))
    described: Any = await call.read()
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in described.file_descriptor_response.file_descriptor_proto
    ]
    camera = next(f for f in files if any(s.name == "CameraService" for s in f.service))
    assert "ListCameras" in {m.name for s in camera.service for m in s.method}
    # Its imports come along, so a tool can build the messages.
    assert set(camera.dependency) <= {f.name for f in files}

    await call.write(request(file_containing_symbol="camfleet.v1.NoSuchService"))
    missing: Any = await call.read()
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert missing.original_request.file_containing_symbol == "camfleet.v1.NoSuchService"
    await call.done_writing()
    assert await call.code() is grpc.StatusCode.OK
