"""Settings declared once: each option's flag, environment variable, default, help and parser.

The control plane (`server.options`) and the node agent (`node_agent.config`) both declare their
options with `Option` and read them with `add_options` / `read_options`: flags win over the
environment, the environment over defaults, and a value that cannot be used raises one
`ConfigError` sentence naming the setting. This package is a leaf (standard library only) and a
top-level one, beside `server` and `node_agent` rather than inside either, because those two
must never import each other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn

# (the setting's name for messages, the text given) → the typed value.
Parser = Callable[[str, str], Any]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting has a value the program cannot use; the message names the setting."""


def text(name: str, raw: str) -> str:
    """The text as given."""
    return raw


def stripped(name: str, raw: str) -> str:
    """The text without surrounding white space."""
    return raw.strip()


def path(name: str, raw: str) -> Path:
    """A file system path."""
    return Path(raw)


@dataclass(frozen=True)
class Option:
    """One setting: its flag, environment variable, default (as text), meaning and parser.

    `field` is the attribute of the settings object it fills; empty: the flag's name with
    underscores (`--data-dir` → `data_dir`).
    """

    flag: str
    env: str
    default: str
    help: str
    parse: Parser = text
    field: str = ""

    @property
    def dest(self) -> str:
        """The argparse destination of the flag."""
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def attribute(self) -> str:
        """The settings attribute this option fills."""
        return self.field or self.dest


class OptionParser(argparse.ArgumentParser):
    """argparse that raises ConfigError instead of printing usage, so every error is one line."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """One flag per option; its help names the environment variable."""
    for opt in options:
        parser.add_argument(opt.flag, default=None, help=f"{opt.help} [${opt.env}]")


def read_options(
    options: Sequence[Option],
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    names: Literal["flag", "env"],
) -> dict[str, Any]:
    """Every option's parsed value by settings attribute: the flag, else the environment, else
    the default. Errors name each setting by its flag or its environment variable (`names`)."""
    values: dict[str, Any] = {}
    for opt in options:
        given = getattr(args, opt.dest)
        raw = given if given is not None else environ.get(opt.env, opt.default)
        values[opt.attribute] = opt.parse(opt.flag if names == "flag" else opt.env, raw)
    return values


def defaults(options: Sequence[Option]) -> dict[str, Any]:
    """Every option's parsed default by settings attribute (the defaults of settings objects
    built in code, so they cannot drift from the declarations)."""
    return {opt.attribute: opt.parse(opt.env, opt.default) for opt in options}


def positive_int(name: str, raw: str) -> int:
    """A whole number above zero."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def byte_count(name: str, raw: str) -> int:
    """A whole number of bytes, zero allowed."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of bytes, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _number_of_seconds(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None


def duration(*, zero_ok: bool = False) -> Parser:
    """Seconds as a timedelta: positive, or non-negative with `zero_ok`."""

    def parse(name: str, raw: str) -> timedelta:
        value = _number_of_seconds(name, raw)
        if value < 0 or (value == 0 and not zero_ok):
            raise ConfigError(
                f"{name} must be {'non-negative' if zero_ok else 'positive'}, got {raw!r}"
            )
        return timedelta(seconds=value)

    return parse


def seconds_between(low: float, high: float) -> Parser:
    """Seconds as a float from `low` to `high`."""

    def parse(name: str, raw: str) -> float:
        value = _number_of_seconds(name, raw)
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low:g} and {high:g} seconds, got {raw!r}")
        return value

    return parse


def optional_listen(name: str, raw: str) -> str:
    """HOST:PORT to listen on ([V6]:PORT for IPv6), or "" for none."""
    value = raw.strip()
    if not value:
        return ""
    host, sep, port = value.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if not sep or not host or (":" in host and not bracketed) or not port.isdigit():
        raise ConfigError(
            f"{name} must be HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464) or empty, got {raw!r}"
        )
    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"{name}: port must be 1-65535, got {port}")
    return value


def log_level(name: str, raw: str) -> str:
    """A logging level name, upper case."""
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"{name} must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return value


# The one option both programs have.
LOG_LEVEL = Option(
    "--log-level", "CAMFLEET_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR", parse=log_level
)
