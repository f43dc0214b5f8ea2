"""The protos as the API reference reads them: descriptors with their comments (protoc's
source info), field types as Markdown, and the types a service's RPCs reach."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}
# JSON placeholders of grpcurl's request skeletons, for well-known types.
_WKT_JSON: dict[str, object] = {
    "google.protobuf.Timestamp": "2026-01-01T00:00:00Z",
    "google.protobuf.Duration": "60s",
    "google.protobuf.FieldMask": "",
}


def escape(text: str, table: bool = False) -> str:
    """Markdown-safe prose: `<`, `>` and `*` outside code spans escaped; in a table cell also
    `|` and line breaks."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # outside code spans
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
    out = "`".join(parts)
    if table:
        out = out.replace("|", "\\|").replace("\n\n", "<br><br>").replace("\n", " ")
    return out


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


@dataclass
class Protos:
    """Every file of protos/camfleet/v1 and an index of its messages, enums and services."""

    files: dict[str, descriptor_pb2.FileDescriptorProto]
    messages: dict[str, tuple[str, tuple[int, ...], descriptor_pb2.DescriptorProto]] = field(
        default_factory=dict
    )
    enums: dict[str, tuple[str, tuple[int, ...], descriptor_pb2.EnumDescriptorProto]] = field(
        default_factory=dict
    )
    file_of_service: dict[str, str] = field(default_factory=dict)
    service_paths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _comments: dict[tuple[str, tuple[int, ...]], str] = field(default_factory=dict)

    @classmethod
    def load(cls, proto_root: Path, tmp: Path) -> Protos:
        import grpc_tools

        names = sorted(
            str(p.relative_to(proto_root)) for p in proto_root.glob("camfleet/v1/*.proto")
        )
        out = tmp / "descriptors.pb"
        cmd = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *names,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.exit(f"protoc failed:\n{result.stdout}{result.stderr}")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
        protos = cls({f.name: f for f in files})
        for f in files:
            protos._index(f)
        return protos

    def _index(self, f: descriptor_pb2.FileDescriptorProto) -> None:
        for loc in f.source_code_info.location:
            text = "\n".join(c for c in (loc.leading_comments, loc.trailing_comments) if c.strip())
            if text:
                self._comments[(f.name, tuple(loc.path))] = _prose(text)

        def walk(prefix: str, path: tuple[int, ...], m: descriptor_pb2.DescriptorProto) -> None:
            name = f"{prefix}.{m.name}"
            self.messages[name] = (f.name, path, m)
            for i, e in enumerate(m.enum_type):
                self.enums[f"{name}.{e.name}"] = (f.name, (*path, 4, i), e)
            for i, nested in enumerate(m.nested_type):
                walk(name, (*path, 3, i), nested)

        for i, m in enumerate(f.message_type):
            walk(f.package, (4, i), m)
        for i, e in enumerate(f.enum_type):
            self.enums[f"{f.package}.{e.name}"] = (f.name, (5, i), e)
        for i, s in enumerate(f.service):
            self.file_of_service[s.name] = f.name
            self.service_paths[s.name] = (6, i)

    def services(self) -> Iterator[descriptor_pb2.ServiceDescriptorProto]:
        for name in sorted(self.files):
            yield from self.files[name].service

    def comment(self, file: str, path: tuple[int, ...]) -> str:
        return self._comments.get((file, path), "")

    def map_entry(self, f: descriptor_pb2.FieldDescriptorProto) -> tuple[str, str] | None:
        """(key, value) types of a map field, else None."""
        if f.type != FDP.TYPE_MESSAGE or f.label != FDP.LABEL_REPEATED:
            return None
        entry = self.messages.get(f.type_name.lstrip("."))
        if entry is None or not entry[2].options.map_entry:
            return None
        key, value = entry[2].field
        return self.type_of(key), self.type_of(value)

    def type_of(self, f: descriptor_pb2.FieldDescriptorProto) -> str:
        """The field's type in Markdown, camfleet types linked to their section."""
        if f.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            full = f.type_name.lstrip(".")
            if full in self.messages or full in self.enums:
                short = full.removeprefix("camfleet.v1.")
                return f"[`{short}`](#{anchor(short)})"
            return f"`{full}`"
        return f"`{_SCALARS[f.type]}`"

    def fields_table(self, message: str) -> list[str]:
        _, path, m = self.messages[message]
        file = self.messages[message][0]
        if not m.field:
            return ["(no fields)"]
        rows = ["| field | type | description |", "|---|---|---|"]
        for i, f in enumerate(m.field):
            rows.append(
                f"| `{f.name}` | {self.field_type(m, f)} | {self.field_note(file, path, i, m, f)} |"
            )
        return rows

    def field_type(
        self, m: descriptor_pb2.DescriptorProto, f: descriptor_pb2.FieldDescriptorProto
    ) -> str:
        entry = self.map_entry(f)
        if entry:
            return f"map&lt;{entry[0]}, {entry[1]}&gt;"
        label = self.type_of(f)
        if f.label == FDP.LABEL_REPEATED:
            return f"repeated {label}"
        if f.proto3_optional:
            return f"optional {label}"
        return label

    def field_note(
        self,
        file: str,
        path: tuple[int, ...],
        i: int,
        m: descriptor_pb2.DescriptorProto,
        f: descriptor_pb2.FieldDescriptorProto,
    ) -> str:
        note = escape(self.comment(file, (*path, 2, i)), table=True)
        if f.HasField("oneof_index") and not f.proto3_optional:
            group = m.oneof_decl[f.oneof_index].name
            note = f"One of `{group}`. {note}".strip()
        return note

    def referenced_types(self, service: descriptor_pb2.ServiceDescriptorProto) -> list[str]:
        """camfleet messages and enums the service's requests and responses reach (not the
        requests and responses themselves, nor map entries), in order of first use."""
        top = {t.lstrip(".") for m in service.method for t in (m.input_type, m.output_type)}
        seen: dict[str, None] = {}
        pending = [t for m in service.method for t in (m.input_type, m.output_type)]
        while pending:
            name = pending.pop(0).lstrip(".")
            if name in seen:
                continue
            seen[name] = None
            if name in self.messages:
                pending += [f.type_name for f in self.messages[name][2].field if f.type_name]
        return [
            n
            for n in seen
            if n not in top
            and (
                n in self.enums
                or (n in self.messages and not self.messages[n][2].options.map_entry)
            )
        ]

    def type_section(self, name: str) -> list[str]:
        short = name.removeprefix("camfleet.v1.")
        out = [f"### {short}", ""]
        if name in self.enums:
            file, path, e = self.enums[name]
            comment = self.comment(file, path)
            if comment:
                out += [escape(comment), ""]
            out += ["| value | description |", "|---|---|"]
            for i, v in enumerate(e.value):
                note = escape(self.comment(file, (*path, 2, i)), table=True)
                out.append(f"| `{v.name}` | {note} |")
            return [*out, ""]
        file, path, _ = self.messages[name]
        comment = self.comment(file, path)
        if comment:
            out += [escape(comment), ""]
        return [*out, *self.fields_table(name), ""]


def _prose(comment: str) -> str:
    """A proto comment as Markdown paragraphs: wrapped lines joined, blank lines kept."""
    paragraphs = [" ".join(line.strip() for line in p.splitlines()) for p in comment.split("\n\n")]
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())


def skeleton(protos: Protos, message: str) -> dict[str, object]:
    """A request's top-level fields as grpcurl JSON with empty values (one member per oneof)."""
    body: dict[str, object] = {}
    oneofs: set[int] = set()
    for f in protos.messages[message][2].field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            if f.oneof_index in oneofs:
                continue
            oneofs.add(f.oneof_index)
        body[f.json_name] = _empty(protos, f)
    return body


def _empty(protos: Protos, f: descriptor_pb2.FieldDescriptorProto) -> object:
    if protos.map_entry(f):
        return {}
    if f.label == FDP.LABEL_REPEATED:
        return []
    if f.type == FDP.TYPE_MESSAGE:
        return _WKT_JSON.get(f.type_name.lstrip("."), {})
    if f.type == FDP.TYPE_ENUM:
        return protos.enums[f.type_name.lstrip(".")][2].value[0].name
    if f.type == FDP.TYPE_BOOL:
        return False
    if f.type in (FDP.TYPE_STRING, FDP.TYPE_BYTES):
        return ""
    return 0
