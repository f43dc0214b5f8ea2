"""The README a newcomer reads matches the code: every setting documented, two commands first."""

from __future__ import annotations

import re

from harness.processes import ROOT
from node_agent.config import OPTIONS as AGENT_OPTIONS
from server.options import OPTIONS

README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = {line for line in README.splitlines() if line.startswith("| `--")}
    for option in OPTIONS:
        assert any(f"`{option.flag}`" in r and f"`{option.env}`" in r for r in rows), option.env


def test_every_node_agent_setting_is_in_the_nodes_table() -> None:
    rows = {line for line in README.splitlines() if line.startswith("| `--")}
    for option in AGENT_OPTIONS:
        assert any(f"`{option.flag}`" in r and f"`{option.env}`" in r for r in rows), option.env


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block and README.index("```sh") < README.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["./start", "./test"]
    assert "./test" in (ROOT / ".ci" / "run").read_text()
