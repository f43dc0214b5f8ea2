"""Settings between the API (settings.proto) and the domain (server/settings/model.py).

A model field `x_s` (seconds) is the Duration `x` in the API (`segment_s` is `segment_length`);
enums travel as their lower-case names without prefix ("RECORDING_PROFILE_LOW" <-> "low",
UNSPECIFIED <-> ""). Secrets are never written into a message: `<secret>_set` says whether one is
stored.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from camfleet.v1 import event_pb2, settings_pb2
from google.protobuf import duration_pb2
from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message

from server.common.wire import timestamp
from server.db.models import utcnow
from server.db.outbox import StagedEvent
from server.errors import FieldViolation, InvalidArgument
from server.settings.history import HistoryPage, SettingsChange
from server.settings.model import SECRET_FIELDS, Group, GroupSettings, PlatformSettings
from server.settings.store import Revision
from server.settings.validation import api_name, model_name

EVENT_KIND = "settings.changed"

_GROUPS = {
    settings_pb2.SETTINGS_GROUP_STREAMING: Group.STREAMING,
    settings_pb2.SETTINGS_GROUP_RECORDING: Group.RECORDING,
    settings_pb2.SETTINGS_GROUP_STORAGE: Group.STORAGE,
    settings_pb2.SETTINGS_GROUP_SECURITY: Group.SECURITY,
    settings_pb2.SETTINGS_GROUP_NOTIFICATIONS: Group.NOTIFICATIONS,
}
_GROUP_ENUMS = {group: value for value, group in _GROUPS.items()}
_MESSAGES: dict[Group, type[Message]] = {
    Group.STREAMING: settings_pb2.StreamingSettings,
    Group.RECORDING: settings_pb2.RecordingSettings,
    Group.STORAGE: settings_pb2.StorageSettings,
    Group.SECURITY: settings_pb2.SecuritySettings,
    Group.NOTIFICATIONS: settings_pb2.NotificationSettings,
}
# Paths no update may name: the revision and whether a secret is stored are the server's.
_OUTPUT_ONLY = {"revision", "smtp_password_set", "sms_token_set", "cold_secret_key_set"}
_CLEAR = "clear_"


def group_from_proto(value: int) -> Group | None:
    """The group a SettingsGroup names; None for UNSPECIFIED (every group)."""
    if value == settings_pb2.SETTINGS_GROUP_UNSPECIFIED:
        return None
    group: Group | None = _GROUPS.get(value)  # type: ignore[call-overload]
    if group is None:
        raise InvalidArgument.for_field("group", f"{value} is not a settings group")
    return group


def _enum_prefix(enum: EnumDescriptor) -> str:
    return enum.values[0].name.removesuffix("UNSPECIFIED")


def _enum_text(enum: EnumDescriptor, number: int) -> str:
    value = enum.values_by_number.get(number)
    if value is None or number == 0:
        return ""
    return value.name.removeprefix(_enum_prefix(enum)).lower()


def _enum_number(enum: EnumDescriptor, text: str) -> int:
    value = enum.values_by_name.get(_enum_prefix(enum) + text.upper()) if text else None
    return value.number if value is not None else 0


def _seconds(d: duration_pb2.Duration) -> float:
    return d.seconds + d.nanos / 1e9


# Descriptors typed loosely: the C and Python implementations' classes differ for mypy.
def _set_field(message: Message, fd: Any, value: Any) -> None:
    current = getattr(message, fd.name)
    if isinstance(current, duration_pb2.Duration):
        current.FromNanoseconds(round(value * 1e9))
    elif fd.enum_type is not None:
        setattr(message, fd.name, _enum_number(fd.enum_type, value))
    elif isinstance(value, tuple):
        current.extend(value)
    else:
        setattr(message, fd.name, value)


def _get_field(message: Message, fd: Any) -> Any:
    raw = getattr(message, fd.name)
    if isinstance(raw, duration_pb2.Duration):
        return _seconds(raw)
    if fd.enum_type is not None:
        return _enum_text(fd.enum_type, raw)
    if not isinstance(raw, str | int | float | bool):  # a repeated field
        return tuple(str(v).strip() for v in raw)
    return raw


def group_to_proto(group: Group, value: GroupSettings, revision: Revision | None) -> Message:
    """One group as the API shows it: secrets left out, `<secret>_set` filled."""
    message = _MESSAGES[group]()
    by_name = message.DESCRIPTOR.fields_by_name
    secrets = SECRET_FIELDS.get(group, frozenset())
    for f in fields(value):
        if f.name in secrets:
            setattr(message, f"{f.name}_set", bool(getattr(value, f.name)))
            continue
        _set_field(message, by_name[api_name(f.name)], getattr(value, f.name))
    if revision is not None:
        meta = message.revision  # type: ignore[attr-defined]
        meta.version = revision.version
        meta.updated_by = revision.updated_by
        meta.update_time.FromDatetime(revision.update_time)
    return message


def settings_to_proto(
    value: PlatformSettings, revisions: dict[Group, Revision], only: Group | None = None
) -> settings_pb2.Settings:
    """Every group (or `only` one) of `value`."""
    out = settings_pb2.Settings()
    for group in Group:
        if only is None or group is only:
            getattr(out, group.value).CopyFrom(
                group_to_proto(group, value.group(group), revisions.get(group))
            )
    return out


def _mask_paths(group: Group, message: Message, paths: list[str]) -> list[str]:
    everything = [fd.name for fd in message.DESCRIPTOR.fields if fd.name not in _OUTPUT_ONLY]
    if not paths or paths == ["*"]:
        return everything
    problems = []
    for i, path in enumerate(paths):
        if path in _OUTPUT_ONLY:
            problems.append(FieldViolation(f"update_mask.paths[{i}]", f"{path} is output only"))
        elif path not in everything:
            problems.append(
                FieldViolation(
                    f"update_mask.paths[{i}]",
                    f"{path!r} is not a field of the {group.value} settings "
                    f"(fields: {', '.join(everything)})",
                )
            )
    if problems:
        raise InvalidArgument(
            "update_mask names fields that cannot be updated", violations=problems
        )
    return list(dict.fromkeys(paths))


def update_from_proto(
    request: settings_pb2.UpdateSettingsRequest,
) -> tuple[Group, dict[str, Any], int]:
    """(group, model field -> new value, version) of an UpdateSettings request. A secret left
    empty is not changed; `clear_<secret>` empties it."""
    which = request.WhichOneof("group")
    if which is None:
        raise InvalidArgument.for_field(
            "group", f"name the one group to change ({', '.join(g.value for g in Group)})"
        )
    group = Group(which)
    message: Message = getattr(request, which)
    secrets = SECRET_FIELDS.get(group, frozenset())
    changes: dict[str, Any] = {}
    cleared: set[str] = set()
    for path in _mask_paths(group, message, list(request.update_mask.paths)):
        fd = message.DESCRIPTOR.fields_by_name[path]
        if path.startswith(_CLEAR):
            if getattr(message, path):
                cleared.add(path.removeprefix(_CLEAR))
            continue
        field = model_name(group, path)
        if field is None:  # a field of the message the model lacks: a server bug
            raise RuntimeError(f"settings field {which}.{path} has no model field")
        value = _get_field(message, fd)
        if field in secrets and not value:
            continue  # write-only: empty keeps the stored secret
        changes[field] = value
    for field in cleared:
        if changes.get(field):
            raise InvalidArgument.for_field(
                f"{which}.{_CLEAR}{field}", f"cannot clear {field} and set it in one update"
            )
        changes[field] = ""
    return group, changes, request.version


def change_to_proto(change: SettingsChange) -> settings_pb2.SettingsChange:
    out = settings_pb2.SettingsChange(
        group=_GROUP_ENUMS[change.group],
        version=change.version,
        actor=change.actor,
        fields=[
            settings_pb2.SettingsFieldChange(field=c.field, before=c.before, after=c.after)
            for c in change.fields
        ],
    )
    out.change_time.FromDatetime(change.change_time)
    return out


def history_to_proto(page: HistoryPage) -> settings_pb2.ListSettingsHistoryResponse:
    return settings_pb2.ListSettingsHistoryResponse(
        changes=[change_to_proto(c) for c in page.changes], next_page_token=page.next_page_token
    )


def settings_event(change: SettingsChange) -> StagedEvent:
    """The event of a change, as the outbox stores it: no values (a secret must never reach a
    watcher; only those with settings.read get the event at all), just which group and its new
    version."""
    subject = f"settings/{change.group.value}"
    event = event_pb2.Event(
        type=event_pb2.EVENT_TYPE_SETTINGS_CHANGED,
        time=timestamp(utcnow()),
        subject=subject,
        message=f"the {change.group.value} settings were changed (version {change.version})",
    )
    return StagedEvent(EVENT_KIND, subject, event.SerializeToString())
