"""Options declared once (config_options), read the same way by the control plane and the agent."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pytest

from config_options import (
    ConfigError,
    Option,
    OptionParser,
    add_options,
    duration,
    positive_int,
    read_options,
)
from node_agent.config import AgentConfig, load_config
from server.config import Settings, load_settings

_OPTIONS = (
    Option("--wait", "X_WAIT", "30", "seconds to wait", parse=duration()),
    Option("--copies", "X_COPIES", "2", "how many", parse=positive_int, field="count"),
)


def _read(
    argv: list[str], env: dict[str, str], names: Literal["flag", "env"] = "flag"
) -> dict[str, object]:
    parser = OptionParser(prog="x")
    add_options(parser, _OPTIONS)
    return read_options(_OPTIONS, parser.parse_args(argv), env, names=names)


def test_a_flag_wins_over_the_environment_which_wins_over_the_default() -> None:
    assert _read([], {}) == {"wait": timedelta(seconds=30), "count": 2}
    assert _read([], {"X_COPIES": "5"})["count"] == 5
    assert _read(["--copies", "7"], {"X_COPIES": "5"})["count"] == 7


def test_an_error_is_one_sentence_naming_the_setting_as_the_program_asks() -> None:
    with pytest.raises(ConfigError, match=r"^--copies must be positive, got '0'$"):
        _read(["--copies", "0"], {})
    with pytest.raises(ConfigError, match=r"^X_WAIT must be a number of seconds, got 'soon'$"):
        _read([], {"X_WAIT": "soon"}, names="env")
    with pytest.raises(ConfigError, match="unrecognized arguments: --nope"):
        _read(["--nope"], {})


def test_settings_made_in_code_default_to_the_declarations() -> None:
    """Settings() and AgentConfig(...) (as tests and embedders build them) carry the declared
    defaults, the same values flags and environment start from."""
    _, loaded = load_settings([], {})
    assert Settings() == loaded
    agent = load_config([], {})
    made = AgentConfig(
        control_plane=agent.control_plane,
        data_dir=agent.data_dir,
        name=agent.name,
        rtmp_listen=agent.rtmp_listen,
        http_listen=agent.http_listen,
    )
    assert made == agent
