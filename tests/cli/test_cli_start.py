"""What `camfleet` loads to start: registering its commands imports none of grpc, protobuf, the
API's messages, YAML, rich's progress bars or urllib (each command imports what it uses when it
runs), and the values its help texts spell out, not to import the API for them, are the .proto's.
No server needed."""

from __future__ import annotations

import subprocess
import sys

from camfleet.cli.commands import alerts, camera_actions, events, settings_values
from camfleet.v1 import alert_pb2, camera_pb2, event_pb2, settings_pb2

# What a run that calls no server (`camfleet --help`, a mistyped command) must not import.
HEAVY = ("grpc", "google.protobuf", "google.rpc", "camfleet.v1", "yaml", "rich.progress",
         "urllib.request")  # fmt: skip

_LOADED = """
import sys
import typer.main
from camfleet.cli.main import app, main
typer.main.get_command(app)  # every command registered, as a run does
main(["--help"])
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_help_imports_nothing_a_command_imports_when_it_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "camfleet cameras" not in done.stdout and "login" in done.stdout, done.stdout
    loaded = done.stderr.split()
    heavy = [m for m in loaded if any(m == h or m.startswith(f"{h}.") for h in HEAVY)]
    assert not heavy, f"imported at start-up: {heavy}"


def test_values_written_out_for_the_help_are_the_protos() -> None:
    kinds = [f.name for f in alert_pb2.AlertCondition.DESCRIPTOR.fields]
    assert kinds == alerts._KINDS
    types = ", ".join(
        name.removeprefix("EVENT_TYPE_")
        for name in event_pb2.EventType.keys()  # noqa: SIM118 - an enum wrapper
        if name not in ("EVENT_TYPE_UNSPECIFIED", "EVENT_TYPE_BOOKMARK")
    )
    assert types == events._TYPES
    groups = tuple(
        v.name.removeprefix("SETTINGS_GROUP_").lower()
        for v in settings_pb2.SettingsGroup.DESCRIPTOR.values
        if v.number
    )
    assert groups == settings_values.GROUPS
    for number, name in enumerate(groups, start=1):
        assert settings_values.group_name(number) == name
        assert settings_values.group_number(name.upper()) == number
    assert settings_values.group_name(0) == ""


def test_camera_actions_name_what_camera_pb2_has() -> None:
    service = camera_pb2.DESCRIPTOR.services_by_name["CameraService"]
    for action in camera_actions.ACTIONS:
        assert action.batch in camera_pb2.CameraAction.keys(), action  # noqa: SIM118
        assert action.rpc in service.methods_by_name, action
        request = getattr(camera_pb2, action.request)
        assert service.methods_by_name[action.rpc].input_type.full_name == (
            request.DESCRIPTOR.full_name
        ), action
