"""Tools work without the protos: health checking and server reflection."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from server.transport.services import SERVICE_NAMES
from tests.support.platform import Platform


async def test_health_reports_serving_without_credentials(platform: Platform) -> None:
    stub = health_pb2_grpc.HealthStub(platform.channel)
    for name in ("", *SERVICE_NAMES):
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING, name


async def test_reflection_lists_every_service(platform: Platform) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(platform.channel)

    async def ask() -> list[str]:
        call = stub.ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        await call.done_writing()
        names: list[str] = []
        async for resp in call:
            names += [s.name for s in resp.list_services_response.service]
        return names

    names = await ask()
    assert set(SERVICE_NAMES) <= set(names)
    assert "grpc.health.v1.Health" in names


async def test_file_descriptors_are_served_for_grpcurl(platform: Platform) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(platform.channel)
    call = stub.ServerReflectionInfo()
    await call.write(
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="camfleet.v1.CameraService")
    )
    await call.done_writing()
    responses = [r async for r in call]
    assert responses[0].file_descriptor_response.file_descriptor_proto
