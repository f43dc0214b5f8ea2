"""The recording flags of `python -m node_agent`: defaults, environment, flags, bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_agent.config import load_config
from node_agent.errors import ConfigError


def test_recording_defaults() -> None:
    config = load_config([], environ={})
    assert config.segment_s == 10.0
    assert config.warm_dir is None
    assert config.warm_after_s == 86400.0
    assert config.min_free_bytes == 1 << 30


def test_recording_environment_and_flags() -> None:
    env = {
        "CAMFLEET_SEGMENT_SECONDS": "6",
        "CAMFLEET_WARM_DIR": "/mnt/share",
        "CAMFLEET_WARM_AFTER": "3600",
        "CAMFLEET_MIN_FREE_BYTES": "0",
    }
    config = load_config([], environ=env)
    assert (config.segment_s, config.warm_dir, config.warm_after_s, config.min_free_bytes) == (
        6.0,
        Path("/mnt/share"),
        3600.0,
        0,
    )
    flagged = load_config(["--segment-seconds", "2.5", "--min-free-bytes", "5000"], environ=env)
    assert (flagged.segment_s, flagged.min_free_bytes) == (2.5, 5000)
    assert flagged.warm_dir == Path("/mnt/share")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--segment-seconds", "0"], "--segment-seconds must be between 1 and 3600 seconds"),
        (["--segment-seconds", "ten"], "--segment-seconds must be a number of seconds"),
        (["--warm-after", "-5"], "--warm-after must be between"),
        (["--min-free-bytes", "-1"], "--min-free-bytes must not be negative"),
        (["--min-free-bytes", "1GB"], "--min-free-bytes must be a whole number of bytes"),
    ],
)
def test_bad_recording_values_are_one_clear_line(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(argv, environ={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
