"""`key=value` words of `camfleet settings set` as fields of a settings group's message, and those
fields back as text, both driven by the message's descriptor (so a field added to the proto is
settable without a change here).

Values people type: durations as `10s`, `1.5s`, `500ms`, `5m`, `2h`, `7d`; sizes of `*_bytes`
fields as a number or with `KiB`, `MiB`, `GiB`, `TiB`; enums by their short name
(`default_profile=original`); lists comma-separated (`login_allowlist=10.0.0.0/8,192.0.2.1`,
empty for none); booleans `true`/`false`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

# The command modules import this one at start-up (`camfleet --help` included): protobuf and
# the settings messages are imported by the functions that convert a value.
if TYPE_CHECKING:
    from google.protobuf import duration_pb2
    from google.protobuf.message import Message

# The settings groups (SettingsGroup without its prefix), in the order of the .proto: written out
# for the help texts, which are built before any protobuf is imported; a test checks the list.
GROUPS = ("streaming", "recording", "storage", "security", "notifications")

_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|min|m|h|d)?\s*$")
_SIZE_UNITS = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b|b)?\s*$", re.IGNORECASE)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class BadValue(ValueError):
    """A `key=value` word that does not fit the group; the message is a sentence."""


def group_number(name: str) -> int:
    """The SettingsGroup of a group's name."""
    from camfleet.v1 import settings_pb2

    wanted = name.strip().lower()
    if wanted not in GROUPS:
        raise BadValue(f"There is no settings group {name!r}; the groups are {', '.join(GROUPS)}.")
    return settings_pb2.SettingsGroup.Value(f"SETTINGS_GROUP_{wanted.upper()}")


def group_name(number: int) -> str:
    """The name of a SettingsGroup ("" for the unspecified one, or one this client knows not)."""
    from camfleet.v1 import settings_pb2

    value = settings_pb2.SettingsGroup.DESCRIPTOR.values_by_number.get(number)
    name = value.name.removeprefix("SETTINGS_GROUP_").lower() if value else ""
    return name if name in GROUPS else ""


def settable_fields(descriptor: Any) -> list[str]:
    """Fields of a group's message a person may set (not the output-only ones)."""
    return [
        f.name for f in descriptor.fields if f.name != "revision" and not f.name.endswith("_set")
    ]


def apply_assignments(group: str, message: Message, words: list[str]) -> list[str]:
    """Set each `key=value` of `words` on `message` (the group's message); the field mask paths."""
    paths: list[str] = []
    allowed = settable_fields(message.DESCRIPTOR)
    for word in words:
        key, sep, text = word.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise BadValue(f"{word!r} is not key=value (e.g. segment_length=4s).")
        if key not in allowed:
            raise BadValue(
                f"The {group} settings have no field {key!r}; they are {', '.join(allowed)}."
            )
        field = message.DESCRIPTOR.fields_by_name[key]
        try:
            _set(message, field, text)
        except BadValue as err:
            raise BadValue(f"{group}.{key}: {err}") from None
        if key not in paths:
            paths.append(key)
    return paths


def _set(message: Message, field: Any, text: str) -> None:
    from google.protobuf.descriptor import FieldDescriptor

    if field.is_repeated:
        items = [item.strip() for item in text.split(",") if item.strip()]
        container = getattr(message, field.name)
        del container[:]
        container.extend(_scalar(field, item) for item in items)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name != "google.protobuf.Duration":
            raise BadValue("this field cannot be set from the command line")
        getattr(message, field.name).CopyFrom(parse_duration(text))
    else:
        setattr(message, field.name, _scalar(field, text))


def _scalar(field: Any, text: str) -> Any:
    from google.protobuf.descriptor import FieldDescriptor

    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return text
    if kind == FieldDescriptor.TYPE_BOOL:
        lowered = text.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise BadValue(f"{text!r} is not true or false")
    if kind == FieldDescriptor.TYPE_ENUM:
        return enum_number(field.enum_type, text)
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64):
        return parse_size(text) if field.name.endswith("_bytes") else _int(text)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        try:
            return float(text)
        except ValueError:
            raise BadValue(f"{text!r} is not a number") from None
    raise BadValue("this field cannot be set from the command line")


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise BadValue(f"{text!r} is not a whole number") from None


def parse_duration(text: str) -> duration_pb2.Duration:
    """`10s`, `1.5s`, `500ms`, `5m`, `2h`, `7d` (a bare number is seconds)."""
    from google.protobuf import duration_pb2

    match = _DURATION.match(text)
    if match is None:
        raise BadValue(f"{text!r} is not a duration (e.g. 500ms, 10s, 5m, 2h, 7d)")
    seconds = float(match[1]) * _UNITS_S[match[2] or "s"]
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


def parse_size(text: str) -> int:
    """Bytes from `1048576`, `512KiB`, `1.5GiB` (powers of 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise BadValue(f"{text!r} is not a size (e.g. 1048576, 512MiB, 2GiB)")
    unit = (match[2] or "").lower()
    unit = unit if unit in _SIZE_UNITS else unit[0] + "i" + unit[1:]  # "mb" read as "mib"
    return int(float(match[1]) * _SIZE_UNITS[unit])


def _prefix(enum: Any) -> str:
    # buf's ENUM_VALUE_PREFIX: every value starts with the enum's name in UPPER_SNAKE_CASE.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def enum_number(enum: Any, text: str) -> int:
    """An enum value by its full or short name (`original` for RECORDING_PROFILE_ORIGINAL)."""
    wanted = text.strip().upper().replace("-", "_")
    prefix = _prefix(enum)
    for value in enum.values:
        if value.number != 0 and wanted in (value.name, value.name.removeprefix(prefix)):
            return int(value.number)
    short = ", ".join(v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0)
    raise BadValue(f"{text!r} is not one of {short}")


def enum_text(enum: Any, number: int) -> str:
    """The short, lower-case name of an enum value ("" for the unset 0)."""
    value = enum.values_by_number.get(number)
    if value is None or number == 0:
        return ""
    return str(value.name).removeprefix(_prefix(enum)).lower()


def duration_text(value: duration_pb2.Duration) -> str:
    """A Duration as people write it: `2s`, `1.5s`, `30m`, `6h`, `7d`."""
    seconds = value.seconds + value.nanos / 1e9
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def field_text(message: Message, field: Any) -> str:
    """One field of a group's message as text for a table."""
    from google.protobuf.descriptor import FieldDescriptor

    value = getattr(message, field.name)
    if field.is_repeated:
        return ",".join(str(v) for v in value)
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Duration":
            return duration_text(value)
        return ""
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_text(field.enum_type, value)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "true" if value else "false"
    return str(value)
