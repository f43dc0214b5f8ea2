"""node_agent.config: flags, CAMFLEET_* environment, defaults, the URLs users are given, and one
clear line for every bad value."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from node_agent.config import load_config
from node_agent.config_values import HostPort, parse_host_port
from node_agent.errors import ConfigError


def test_defaults() -> None:
    config = load_config([], environ={})
    assert config.control_plane == HostPort("127.0.0.1", 50051)
    assert config.data_dir == Path("./data/node")
    assert config.name == socket.gethostname()
    assert config.rtmp_listen == HostPort("127.0.0.1", 1935)
    assert config.http_listen == HostPort("127.0.0.1", 8088)
    assert config.capacity == 32
    assert config.join_token == ""
    assert config.log_level == "INFO"
    assert config.rtmp_url == "rtmp://127.0.0.1:1935/live"
    assert config.http_url == "http://127.0.0.1:8088"


def test_environment_is_read_and_flags_win() -> None:
    env = {
        "CAMFLEET_CONTROL_PLANE": "127.0.0.1:6000",
        "CAMFLEET_JOIN_TOKEN": " cfj_from_env ",
        "CAMFLEET_AGENT_DATA_DIR": "/tmp/agent-env",
        "CAMFLEET_NODE_NAME": "edge-env",
        "CAMFLEET_RTMP_LISTEN": "127.0.0.1:2935",
        "CAMFLEET_HTTP_LISTEN": "127.0.0.1:9088",
        "CAMFLEET_CAPACITY": "8",
        "CAMFLEET_LOG_LEVEL": "debug",
    }
    config = load_config([], environ=env)
    assert config.control_plane == HostPort("127.0.0.1", 6000)
    assert config.join_token == "cfj_from_env"
    assert config.data_dir == Path("/tmp/agent-env")
    assert config.name == "edge-env"
    assert config.capacity == 8
    assert config.log_level == "DEBUG"
    assert config.rtmp_url == "rtmp://127.0.0.1:2935/live"

    flagged = load_config(
        ["--control-plane", "127.0.0.1:7000", "--name", "edge-flag", "--capacity", "4"],
        environ=env,
    )
    assert flagged.control_plane == HostPort("127.0.0.1", 7000)
    assert flagged.name == "edge-flag"
    assert flagged.capacity == 4
    # Not given as a flag: the environment still counts.
    assert flagged.join_token == "cfj_from_env"


def test_public_host_names_the_urls() -> None:
    config = load_config(
        ["--public-host", "cams.example.org", "--rtmp-listen", "127.0.0.1:1936"], environ={}
    )
    assert config.rtmp_url == "rtmp://cams.example.org:1936/live"
    assert config.http_url == "http://cams.example.org:8088"


def test_ipv6_listen_addresses() -> None:
    config = load_config(["--rtmp-listen", "[::1]:1935", "--http-listen", "[::1]:8088"], environ={})
    assert config.rtmp_listen == HostPort("::1", 1935)
    assert str(config.rtmp_listen) == "[::1]:1935"
    assert config.rtmp_url == "rtmp://[::1]:1935/live"
    assert config.http_url == "http://[::1]:8088"


def test_wildcard_listen_is_allowed_and_urls_name_the_host() -> None:
    # Operators bind every interface in production; users still need a host they can reach.
    config = load_config(["--rtmp-listen", "0.0.0.0:1935"], environ={})
    assert config.rtmp_listen == HostPort("0.0.0.0", 1935)
    assert config.rtmp_url == f"rtmp://{socket.gethostname()}:1935/live"


@pytest.mark.parametrize(
    ("raw", "host", "port"),
    [
        ("127.0.0.1:1", "127.0.0.1", 1),
        ("localhost:65535", "localhost", 65535),
        ("[::1]:50051", "::1", 50051),
        ("control-plane.internal:50051", "control-plane.internal", 50051),
    ],
)
def test_host_port_shapes(raw: str, host: str, port: int) -> None:
    assert parse_host_port("--x", raw) == HostPort(host, port)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--control-plane", "nonsense"], "--control-plane must be HOST:PORT"),
        (["--control-plane", "127.0.0.1"], "--control-plane must be HOST:PORT"),
        (["--control-plane", "http://127.0.0.1:50051"], "--control-plane must be HOST:PORT"),
        (["--rtmp-listen", "127.0.0.1:0"], "--rtmp-listen: port must be 1-65535"),
        (["--rtmp-listen", "127.0.0.1:70000"], "--rtmp-listen: port must be 1-65535"),
        (["--http-listen", "::1:8088"], "--http-listen must be HOST:PORT"),
        (["--http-listen", "[::1]"], "--http-listen must be HOST:PORT"),
        (["--http-listen", "bad host:80"], "--http-listen must be HOST:PORT"),
        (["--capacity", "0"], "--capacity must be positive"),
        (["--capacity", "many"], "--capacity must be a whole number"),
        (["--log-level", "loud"], "--log-level must be DEBUG, INFO, WARNING or ERROR"),
        (["--public-host", "http://x"], "--public-host must be a host name or IP address"),
        (["--name", "a\nb"], "--name must be 1-128 printable characters"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--capacity"], "expected one argument"),
    ],
)
def test_bad_values_are_one_clear_error(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(argv, environ={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_bad_environment_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="--control-plane must be HOST:PORT"):
        load_config([], environ={"CAMFLEET_CONTROL_PLANE": "127.0.0.1:port"})


def test_labels_repeat_the_flag_or_list_them_in_the_environment() -> None:
    flags = load_config(["--label", "site=north", "--label", "rack=r-1.2"], environ={})
    assert flags.labels == {"site": "north", "rack": "r-1.2"}
    env = {"CAMFLEET_NODE_LABELS": "site=south, gpu="}
    assert load_config([], environ=env).labels == {"site": "south", "gpu": ""}
    # Flags win over the variable, as for every setting.
    assert load_config(["--label", "a=b"], environ=env).labels == {"a": "b"}
    assert load_config([], environ={}).labels == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--label", "site"], "'site' is not key=value"),
        (["--label", "Site=north"], "label key 'Site' must be 1-63 characters of a-z 0-9 _ . -"),
        (["--label", "=north"], "label key '' must be"),
        (["--label", f"{'k' * 64}=v"], "must be 1-63 characters"),
        (["--label", "site=no rth"], "label site's value 'no rth' must be up to 63"),
        (["--label", f"site={'v' * 64}"], "must be up to 63 characters"),
        (["--label", "site=a", "--label", "site=b"], "label 'site' is given twice"),
        (["--label", "a=b,c=d"], "one key=value per flag"),
        ([f"--label=k{i}=v" for i in range(33)], "at most 32 labels, got 33"),
    ],
)
def test_bad_labels_are_one_clear_error(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_config(argv, environ={})
    assert str(err.value).startswith("--label")


def test_a_public_rtmp_url_names_the_fleet_ingest() -> None:
    env = {"CAMFLEET_PUBLIC_RTMP_URL": "rtmp://ingest.example:1935/live/"}
    assert load_config([], environ=env).rtmp_url == "rtmp://ingest.example:1935/live"
    with pytest.raises(ConfigError, match="must be an rtmp:// URL"):
        load_config(["--public-rtmp-url", "http://x/live"], environ={})
