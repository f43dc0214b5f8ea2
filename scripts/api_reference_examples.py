"""The examples of the API reference: one call per service in Python, TypeScript and Go, and a
grpcurl command per RPC. The call each service shows is chosen here (a read where there is one);
its code is built from the protos' names as each language's generated code spells them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pb2

ADDRESS = "127.0.0.1:50051"
CAMERA_ID = "<camera id>"  # a placeholder the reader (and the reference's test) fills in


@dataclass(frozen=True)
class Example:
    """The call a service's example makes, with string fields of its request."""

    rpc: str
    fields: dict[str, str] = field(default_factory=dict)


# Reads that need nothing but a credential, so the examples run as they stand (the reference's
# test runs each Python example against a live server). AgentService is the node agent's.
EXAMPLES: dict[str, Example] = {
    "AuthService": Example("WhoAmI"),
    "UserService": Example("ListUsers"),
    "ApiTokenService": Example("ListApiTokens"),
    "CameraService": Example("ListCameras", {"filter": "status = ONLINE"}),
    "EventService": Example("WatchEvents", {"filter": "type = CAMERA_UPDATED"}),
    "AuditService": Example("ListAuditLogs", {"filter": 'action = "authz.denied"'}),
    "NodeService": Example("ListNodes"),
    "AgentService": Example("RegisterNode", {"join_token": "cfj_…", "name": "edge-1"}),
    "StreamService": Example("ListStreams"),
    "RecordingService": Example("ListRecordings", {"camera_id": CAMERA_ID}),
    "AlertService": Example("ListAlerts"),
    "AnalyticsService": Example("ListReportSchedules"),
    "SettingsService": Example("GetSettings"),
}


def example_for(service: descriptor_pb2.ServiceDescriptorProto) -> Example:
    """The service's chosen call, or its first RPC without request fields."""
    return EXAMPLES.get(service.name) or Example(service.method[0].name)


def module_of(proto_file: str) -> str:
    """camfleet/v1/camera.proto -> camera"""
    return proto_file.rsplit("/", 1)[-1].removesuffix(".proto")


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def json_name(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def go_name(snake: str) -> str:
    """protoc-gen-go's Go field name of a proto field."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def _streams(method: descriptor_pb2.MethodDescriptorProto) -> bool:
    return method.server_streaming


def python(
    service: descriptor_pb2.ServiceDescriptorProto,
    method: descriptor_pb2.MethodDescriptorProto,
    proto_file: str,
    example: Example,
    public: bool,
) -> str:
    module = module_of(proto_file)
    request = method.input_type.rsplit(".", 1)[-1]
    stub = lower_snake(service.name.removesuffix("Service")) or "stub"
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in example.fields.items())
    call = f"{stub}.{method.name}({module}_pb2.{request}({args})"
    lines = [
        "import grpc",
        f"from camfleet.v1 import {module}_pb2, {module}_pb2_grpc",
        "",
        f'channel = grpc.insecure_channel("{ADDRESS}")',
    ]
    if not public:
        lines.append('metadata = [("authorization", f"Bearer {token}")]  # Login, or an API token')
        call += ", metadata=metadata)"
    else:
        call += ")"
    lines.append(f"{stub} = {module}_pb2_grpc.{service.name}Stub(channel)")
    if _streams(method):
        lines += [f"for reply in {call}:", "    print(reply)"]
    else:
        lines += [f"reply = {call}", "print(reply)"]
    return "\n".join(lines)


def lower_snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def typescript(
    service: descriptor_pb2.ServiceDescriptorProto,
    method: descriptor_pb2.MethodDescriptorProto,
    proto_file: str,
    example: Example,
    public: bool,
) -> str:
    module = module_of(proto_file)
    client = lower_camel(service.name.removesuffix("Service")) or "client"
    request = ", ".join(
        f"{json_name(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in example.fields.items()
    )
    request = f"{{ {request} }}" if request else "{}"
    lines = [
        'import { createClient } from "@connectrpc/connect";',
        f'import {{ {service.name} }} from "./gen/camfleet/v1/{module}_pb.js";',
        'import { nodeTransport } from "./node.js";',
    ]
    if public:
        lines += ["", f'const transport = nodeTransport("http://{ADDRESS}");']
    else:
        lines += [
            'import { Session } from "./session.js";',
            "",
            f'const session = new Session(nodeTransport("http://{ADDRESS}"));',
            'await session.login("admin", password); // or session.useApiToken("cft_…")',
            f'const transport = nodeTransport("http://{ADDRESS}", [session.interceptor]);',
        ]
    lines.append(f"const {client} = createClient({service.name}, transport);")
    call = f"{client}.{lower_camel(method.name)}({request})"
    if _streams(method):
        lines += [f"for await (const reply of {call}) {{", "  console.log(reply);", "}"]
    else:
        lines += [f"const reply = await {call};", "console.log(reply);"]
    return "\n".join(lines)


GO_CLIENT = Path(__file__).resolve().parent.parent / "clients" / "go" / "camfleet" / "client.go"
_GO_FIELD = re.compile(r"^\t(\w+)\s+camfleetv1\.(\w+)Client$", re.MULTILINE)


def go_client_fields() -> dict[str, str]:
    """The Go client's stub per service, as its Client struct declares them (clients/go):
    {"CameraService": "Cameras", ...}; empty without the hand-written client."""
    if not GO_CLIENT.exists():
        return {}
    return {service: name for name, service in _GO_FIELD.findall(GO_CLIENT.read_text())}


def _go_fail(indent: str = "", note: str = "") -> list[str]:
    return [f"{indent}if err != nil {{", f"{indent}\tlog.Fatal(err){note}", f"{indent}}}"]


def go(
    service: descriptor_pb2.ServiceDescriptorProto,
    method: descriptor_pb2.MethodDescriptorProto,
    example: Example,
    public: bool,
) -> str:
    """The hand-written client of clients/go/camfleet (Dial, Login, its stubs), or the generated
    stubs alone when there is none."""
    fields = go_client_fields()
    if not fields:
        return go_stubs(service, method, example, public)
    request = method.input_type.rsplit(".", 1)[-1]
    values = ", ".join(
        f"{go_name(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in example.fields.items()
    )
    stub = (
        f"client.{fields[service.name]}"
        if service.name in fields
        else f"camfleetv1.New{service.name}Client(client.Conn())"
    )
    lines = [
        "import (",
        '\t"context"',
        '\t"fmt"',
        '\t"log"',
        "",
        '\t"camfleet.io/go/camfleet"',
        '\tcamfleetv1 "camfleet.io/go/camfleetv1"',
        ")",
        "",
        "ctx := context.Background()",
        f'client, err := camfleet.Dial(ctx, "{ADDRESS}")',
        *_go_fail(),
        "defer client.Close()",
    ]
    if not public:
        lines += [
            '// Log in, or Dial with camfleet.WithAPIToken("cft_…") instead',
            'if _, err := client.Login(ctx, "admin", password); err != nil {',
            "\tlog.Fatal(err)",
            "}",
        ]
    call = f"{stub}.{method.name}(ctx, &camfleetv1.{request}{{{values}}})"
    note = " // a *camfleet.Error: one sentence, google.rpc details decoded"
    if _streams(method):
        lines += [
            f"stream, err := {call}",
            *_go_fail(note=note),
            "for {",
            "\treply, err := stream.Recv()",
            *_go_fail("\t", " // io.EOF when the server ends the stream"),
            "\tfmt.Println(reply)",
            "}",
        ]
    else:
        lines += [f"reply, err := {call}", *_go_fail(note=note), "fmt.Println(reply)"]
    return "\n".join(lines)


def go_stubs(
    service: descriptor_pb2.ServiceDescriptorProto,
    method: descriptor_pb2.MethodDescriptorProto,
    example: Example,
    public: bool,
) -> str:
    request = method.input_type.rsplit(".", 1)[-1]
    values = ", ".join(
        f"{go_name(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in example.fields.items()
    )
    lines = [
        "import (",
        '\t"context"',
        '\t"fmt"',
        '\t"log"',
        "",
        '\tcamfleetv1 "camfleet.io/go/camfleetv1"',
        '\t"google.golang.org/grpc"',
    ]
    if not public:
        lines.append('\t"google.golang.org/grpc/metadata"')
    lines += [
        ")",
        "",
        f'conn, err := grpc.Dial("{ADDRESS}", grpc.WithInsecure())',
        "if err != nil {",
        "\tlog.Fatal(err)",
        "}",
        "defer conn.Close()",
    ]
    if public:
        lines.append("ctx := context.Background()")
    else:
        lines.append(
            'ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", '
            '"Bearer "+token)'
        )
    call = (
        f"camfleetv1.New{service.name}Client(conn).{method.name}"
        f"(ctx, &camfleetv1.{request}{{{values}}})"
    )
    if _streams(method):
        lines += [
            f"stream, err := {call}",
            "if err != nil {",
            "\tlog.Fatal(err)",
            "}",
            "for {",
            "\treply, err := stream.Recv()",
            "\tif err != nil {",
            "\t\tlog.Fatal(err) // io.EOF when the server ends the stream",
            "\t}",
            "\tfmt.Println(reply)",
            "}",
        ]
    else:
        lines += [
            f"reply, err := {call}",
            "if err != nil {",
            "\tlog.Fatal(err)",
            "}",
            "fmt.Println(reply)",
        ]
    return "\n".join(lines)


def grpcurl(full_method: str, request: dict[str, object], public: bool) -> str:
    """One grpcurl command calling `full_method` ("camfleet.v1.X/Y") with `request` as JSON."""
    parts = ["grpcurl -plaintext"]
    if not public:
        parts.append('-H "authorization: Bearer $TOKEN"')
    if request:
        body = json.dumps(request, ensure_ascii=False)
        parts.append(f"-d '{body}'")
    parts += [ADDRESS, full_method]
    line = " ".join(parts)
    if len(line) <= 100:
        return line
    return " \\\n  ".join([" ".join(parts[:-2]), " ".join(parts[-2:])])
