"""Server reflection in both versions: `grpc.reflection.v1.ServerReflection`, which newer
grpcurl, Evans and Postman ask for first, and `grpc.reflection.v1alpha.ServerReflection`, which
older tools (and grpc-requests) use.

grpcio-reflection ships only v1alpha. The v1 protocol is the same protocol under a new package:
its messages have the same names, fields and numbers (wire-identical), so the one servicer
answers both. Its descriptor is v1alpha's with the package renamed, added to the default pool,
so that reflection lists and describes the v1 service too (`grpcurl describe` works on it).
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"
SERVICE_NAMES = (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    """v1alpha's file descriptor as upstream's grpc/reflection/v1/reflection.proto declares it."""
    old = reflection_pb2.DESCRIPTOR.package
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE
    proto.package = V1_PACKAGE
    proto.options.Clear()
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.java_outer_classname = "ServerReflectionProto"
    proto.options.java_multiple_files = True
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(f".{old}."):
                field.type_name = f".{V1_PACKAGE}." + field.type_name[len(old) + 2 :]
    for method in proto.service[0].method:
        method.input_type = method.input_type.replace(f".{old}.", f".{V1_PACKAGE}.")
        method.output_type = method.output_type.replace(f".{old}.", f".{V1_PACKAGE}.")
    return proto


def _register_v1_descriptor() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE)
    except KeyError:
        pool.AddSerializedFile(_v1_file().SerializeToString())


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serve reflection (v1 and v1alpha) on `server`, listing `service_names` and itself."""
    _register_v1_descriptor()
    # The asyncio servicer (grpcio-reflection's stubs leave it out).
    servicer = reflection.aio.ReflectionServicer(  # type: ignore[attr-defined]
        (*service_names, *SERVICE_NAMES)
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    # The servicer builds v1alpha messages; on the wire they are v1's.
    handlers = {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, handlers),)
    )
