"""compose.yaml's environment against the programs it runs: every variable a service sets is one
its program (or its entrypoint script) reads, with a value the program accepts, and every URL a
browser or camera on another machine is given names CAMFLEET_PUBLIC_HOST, never localhost.

What a program reads is taken from the program itself: the control plane's and the agent's
settings loaders and the UI's parser run against a recording environment; the shell scripts'
variables are read from the scripts compose mounts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.processes import ROOT, clean_env
from node_agent.config import load_config
from server.config import load_settings
from server.tls.ca import hosts_of
from server.ui.__main__ import _parser as ui_parser
from server.ui.headers import parse_origins
from tests.deploy.compose_file import (
    MissingVariable,
    environment,
    interpolate,
    raw_services,
    services,
)

PUBLIC_HOST = "cams.example.net"
OPERATOR_ENV = {
    "CAMFLEET_ADMIN_PASSWORD": "chosen-by-the-operator",
    "CAMFLEET_PUBLIC_HOST": PUBLIC_HOST,
}
# The official postgres image's variables (https://hub.docker.com/_/postgres).
POSTGRES_IMAGE_ENV = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "POSTGRES_INITDB_ARGS",
    "POSTGRES_INITDB_WALDIR",
    "POSTGRES_HOST_AUTH_METHOD",
    "PGDATA",
}
# Our image's entrypoint when a service names none (Dockerfile: ENTRYPOINT).
IMAGE_ENTRYPOINT = ["python", "-m", "server"]


class RecordingEnv(Mapping[str, str]):
    """An environment that notes every name a program looks up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("a settings loader enumerated the environment")

    def __len__(self) -> int:
        return len(self._values)


def _control_plane_reads() -> set[str]:
    env = RecordingEnv({})
    load_settings([], env)
    return env.read


def _agent_reads() -> set[str]:
    env = RecordingEnv({})
    load_config([], env)
    return env.read


def _ui_reads(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    env = RecordingEnv({})
    with monkeypatch.context() as patch:
        patch.setattr(os, "environ", env)
        ui_parser()
    return env.read


def _script_reads(script: Path) -> set[str]:
    """The upper-case variables a shell script expands and does not set itself."""
    text = script.read_text()
    expanded = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", text))
    assigned = set(re.findall(r"^\s*([A-Z_][A-Z0-9_]*)=", text, re.MULTILINE))
    return expanded - assigned


def _host_path(container_path: str, service: Mapping[str, Any]) -> Path | None:
    """The file of this repository mounted at `container_path` in the service, if any."""
    volumes: list[str] = service.get("volumes", [])
    for volume in volumes:
        source, _, rest = volume.partition(":")
        target = rest.split(":", 1)[0]
        if not source.startswith("./"):
            continue
        if container_path == target or container_path.startswith(target + "/"):
            return ROOT / source[2:] / container_path[len(target) :].lstrip("/")
    return None


def _argv(service: Mapping[str, Any]) -> list[str]:
    entrypoint = service.get("entrypoint")
    command = service.get("command") or []
    if entrypoint is None and "build" in service:
        entrypoint = IMAGE_ENTRYPOINT
    return [*(entrypoint or []), *command]


def _reads(service: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every variable the service's programs read: our modules run with `python -m`, the
    scripts of this repository it runs, and the third-party images' documented ones."""
    if str(service.get("image", "")).startswith("postgres:"):
        return POSTGRES_IMAGE_ENV
    argv = _argv(service)
    reads: set[str] = set()
    modules = {argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-m"}
    if "server" in modules:
        reads |= _control_plane_reads()
    if "node_agent" in modules:
        reads |= _agent_reads()
    if "server.ui" in modules:
        reads |= _ui_reads(monkeypatch)
    for arg in argv:
        if arg.endswith(".sh"):
            script = _host_path(arg, service)
            assert script is not None and script.is_file(), f"{arg} is not mounted from here"
            reads |= _script_reads(script)
    return reads


def test_every_variable_is_one_the_service_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    unread = {}
    checked = 0
    for name, service in raw_services().items():
        given = set(environment(service))
        if not given:
            continue
        stray = given - _reads(service, monkeypatch)
        checked += len(given)
        if stray:
            unread[name] = sorted(stray)
    assert not unread, f"set in compose.yaml but read by nothing: {unread}"
    assert checked >= 25  # the control planes, the agent, the UI, Envoy, PostgreSQL


def test_a_misspelt_variable_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a variable no program reads is reported."""
    agent = dict(raw_services()["node-agent"])
    agent["environment"] = {**environment(agent), "CAMFLEET_NODE_LABEL": "site=x"}
    assert "CAMFLEET_NODE_LABEL" not in _reads(agent, monkeypatch)
    assert "CAMFLEET_NODE_LABELS" in _reads(agent, monkeypatch)


def test_every_value_is_one_the_program_accepts() -> None:
    """The control planes, the join-token command, the agent and the UI start from compose's
    environment without a configuration error, and every public URL names the public host."""
    resolved = services(OPERATOR_ENV)
    for name in ("control-plane-1", "control-plane-2", "join-token"):
        _, settings = load_settings([], environment(resolved[name]))
        if name != "join-token":
            assert settings.ingest_rtmp_url == f"rtmp://{PUBLIC_HOST}:1935/live"
            assert settings.hls_base_url == f"https://{PUBLIC_HOST}:8088"
    agent = load_config([], environment(resolved["node-agent"]))
    assert agent.http_url == f"https://{PUBLIC_HOST}:8088"  # signed HLS, WHEP, downloads
    assert agent.rtmp_url == f"rtmp://{PUBLIC_HOST}:1935/live"
    ui_env = environment(resolved["ui"])
    assert parse_origins(ui_env["CAMFLEET_UI_MEDIA_ORIGINS"]) == (agent.http_url,)
    assert environment(resolved["envoy"])["CAMFLEET_PUBLIC_HOST"] == PUBLIC_HOST


def test_no_url_defaults_to_this_machine() -> None:
    """Without CAMFLEET_PUBLIC_HOST compose refuses to start, saying what to set, instead of
    handing browsers on other machines URLs of `localhost`."""
    with pytest.raises(MissingVariable, match="CAMFLEET_PUBLIC_HOST"):
        services({"CAMFLEET_ADMIN_PASSWORD": "x"})
    for name, service in services(OPERATOR_ENV).items():
        for variable, value in environment(service).items():
            assert "localhost" not in value and "127.0.0.1" not in value, (name, variable, value)


def test_interpolation_reads_as_compose() -> None:
    assert interpolate("a$${B}c", {}) == "a${B}c"
    assert interpolate("${X:-d}/${X-e}", {"X": ""}) == "d/"
    with pytest.raises(MissingVariable, match="say so"):
        interpolate("${X:?say so}", {"X": ""})


# TLS: every certificate, key and CA file a service is given is one compose's `tls` service
# makes, in a volume that service fills and the other one mounts, and each fits its use.

TLS_SCRIPT = ROOT / "deploy" / "tls.sh"
_PEM = re.compile(r"filename: (/\S+\.pem)")


def _named_volumes(service: Mapping[str, Any]) -> dict[str, str]:
    """The service's named volumes: mount point → volume (binds of ./paths left out)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if source and not source.startswith((".", "/")):
            mounts[rest.split(":", 1)[0]] = source
    return mounts


def _run_tls_service(compose: Mapping[str, Any], root: Path) -> dict[str, Path]:
    """compose's `tls` service run here, each of its volumes a directory under `root`: the
    volume name → that directory, filled."""
    service = compose["tls"]
    dirs = {name: root / name for name in _named_volumes(service).values()}
    for path in dirs.values():
        path.mkdir()
    at = {target: dirs[name] for target, name in _named_volumes(service).items()}
    argv = _argv(service)
    assert argv[:2] == ["sh", "/etc/camfleet/tls.sh"], argv
    done = subprocess.run(
        ["sh", str(TLS_SCRIPT), sys.executable, *argv[3:]],
        cwd=ROOT,
        env={
            **clean_env(),
            **environment(service),
            # The script's defaults are the mount points in compose; here the directories.
            "CAMFLEET_TLS_DIR": str(at["/tls"]),
            "CAMFLEET_NODE_TLS_DIR": str(at["/node-tls"]),
            "CAMFLEET_TLS_OWN_DIR": str(root / "no-own-certificate"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dirs


def _tls_file(path: str, service: Mapping[str, Any], made: Mapping[str, Path]) -> Path | None:
    """Where `path` of the service's container is among the files the `tls` service made;
    None when no volume it fills is mounted there, or the file is not in it."""
    for target, volume in _named_volumes(service).items():
        if path.startswith(target + "/") and volume in made:
            found = made[volume] / path[len(target) + 1 :]
            return found if found.is_file() else None
    return None


def _tls_paths(service: Mapping[str, Any]) -> dict[str, str]:
    """Every .pem path the service is given: in its environment, and in Envoy's config."""
    paths = {k: v for k, v in environment(service).items() if v.endswith(".pem")}
    if "envoy" in str(service.get("image", "")):
        config = (ROOT / "envoy" / "envoy.yaml").read_text()
        paths |= {f"envoy.yaml {p}": p for p in _PEM.findall(config)}
    return paths


def _signed_by(ca: Path, cert: Path) -> bool:
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, check=False
    )
    return done.returncode == 0


def test_every_tls_file_is_one_the_tls_service_makes(tmp_path: Path) -> None:
    compose = services(OPERATOR_ENV)
    made = _run_tls_service(compose, tmp_path)
    missing, given = {}, 0
    for name, service in compose.items():
        for variable, path in _tls_paths(service).items():
            given += 1
            if _tls_file(path, service, made) is None:
                missing[f"{name} {variable}"] = path
    assert not missing, f"TLS files no volume of the tls service holds there: {missing}"
    assert given >= 4 * 2 + 3 + 2  # the replicas, the agent, Envoy's certificate and key
    # The nodes never see the CA's key, which signs node certificates.
    agent_volumes = _named_volumes(compose["node-agent"]).values()
    assert not [v for v in agent_volumes if v in made and (made[v] / "ca-key.pem").exists()]


def test_a_tls_file_outside_the_volumes_would_be_caught(tmp_path: Path) -> None:
    """The check above can fail: the CA's key, given to the agent, is in no volume it mounts."""
    compose = services(OPERATOR_ENV)
    made = _run_tls_service(compose, tmp_path)
    agent = compose["node-agent"]
    assert _tls_file("/tls/node-http-key.pem", agent, made) is not None
    assert _tls_file("/tls/ca-key.pem", agent, made) is None
    assert _tls_file("/tls/ca-key.pem", compose["control-plane-1"], made) is not None


def test_the_agent_reaches_the_control_planes_over_mutual_tls(tmp_path: Path) -> None:
    """As ./start's agent: TLS to the replicas' agent listener to join, mutual TLS to their
    node-certificate listener after, both at `control-plane` (an alias of each replica), its
    certificate naming that and signed by the CA the agent trusts, which also signs the node
    certificates the replicas accept; node calls without one refused."""
    compose = services(OPERATOR_ENV)
    made = _run_tls_service(compose, tmp_path)
    agent_service = compose["node-agent"]
    agent = load_config([], environment(agent_service))
    assert agent.control_plane_ca is not None and agent.control_plane_mtls is not None
    trusted = _tls_file(str(agent.control_plane_ca), agent_service, made)
    assert trusted is not None
    for name in ("control-plane-1", "control-plane-2"):
        plane = compose[name]
        assert "control-plane" in plane["networks"]["default"]["aliases"]
        _, settings = load_settings([], environment(plane))
        assert agent.control_plane.host == "control-plane" == agent.control_plane_mtls.host
        assert agent.control_plane.port == int(settings.agent_listen.rpartition(":")[2])
        assert agent.control_plane_mtls.port == int(settings.agent_mtls_listen.rpartition(":")[2])
        assert settings.require_node_certs
        listener = _tls_file(str(settings.agent_tls_cert), plane, made)
        node_ca = _tls_file(str(settings.node_ca_cert), plane, made)
        assert listener is not None and node_ca is not None
        assert "control-plane" in hosts_of(listener)
        assert _signed_by(trusted, listener)
        assert node_ca.read_bytes() == trusted.read_bytes()


def test_the_node_serves_https_with_a_certificate_of_the_local_ca(tmp_path: Path) -> None:
    """HLS, WHEP and downloads over HTTPS (every URL given for them is https), with a
    certificate for the public host signed by the CA browsers are told to trust (tls's ca.pem)."""
    compose = services(OPERATOR_ENV)
    made = _run_tls_service(compose, tmp_path)
    service = compose["node-agent"]
    agent = load_config([], environment(service))
    assert agent.http_url.startswith("https://")
    assert agent.http_tls_cert is not None and agent.http_tls_key is not None
    cert = _tls_file(str(agent.http_tls_cert), service, made)
    assert cert is not None and _tls_file(str(agent.http_tls_key), service, made) is not None
    assert PUBLIC_HOST in hosts_of(cert)
    assert _signed_by(made["tls"] / "ca.pem", cert)
    _, settings = load_settings([], environment(compose["control-plane-1"]))
    assert settings.hls_base_url.startswith("https://")
    media = parse_origins(environment(compose["ui"])["CAMFLEET_UI_MEDIA_ORIGINS"])
    assert media and all(origin.startswith("https://") for origin in media)
