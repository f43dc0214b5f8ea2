"""Errors that end the agent, each with the exit code `python -m node_agent` returns."""

from __future__ import annotations


class AgentExit(Exception):
    """The agent cannot go on; `exit_code` is what the process returns."""

    exit_code = 1


class ConfigError(AgentExit, ValueError):
    """A flag, environment variable or stored file has a value the agent cannot use."""

    exit_code = 2


class StartupError(AgentExit):
    """The agent could not start (a port in use, nginx failing to start)."""

    exit_code = 1


class RegistrationRefused(AgentExit):
    """The control plane refused the join token (expired, revoked, used up or wrong)."""

    exit_code = 3
