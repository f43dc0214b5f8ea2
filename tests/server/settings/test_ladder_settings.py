"""The streaming settings' default ladder: checked like a camera's own (server/common/ladder.py),
every problem named at `streaming.default_ladder`; a node's assignment takes it for cameras
without their own ladder."""

from __future__ import annotations

from server.common.ladder import DEFAULT_LADDER, encodes, ladder_problem, rung_height
from server.nodes.agent_settings import agent_settings
from server.settings.model import Group, PlatformSettings, StreamingSettings
from server.settings.validation import violations


def _problems(ladder: tuple[str, ...]) -> list[tuple[str, str]]:
    proposed = StreamingSettings(default_ladder=ladder)
    return [
        (v.field, v.description) for v in violations(Group.STREAMING, proposed, PlatformSettings())
    ]


def test_the_default_is_the_source_and_360p() -> None:
    assert StreamingSettings().default_ladder == ("source", "360p") == DEFAULT_LADDER
    assert _problems(DEFAULT_LADDER) == []
    assert _problems(("720p", "360p")) == []


def test_bad_default_ladders_are_refused_with_a_sentence() -> None:
    for ladder, fragment in (
        ((), "at least one rung"),
        (("source", "361p"), "is not a rung"),
        (("source", "100p"), "is not a rung"),
        (("source", "source"), "twice"),
        (("source", "144p", "240p", "360p", "480p"), "at most 4"),
    ):
        problems = _problems(ladder)
        assert [f for f, _ in problems] == ["streaming.default_ladder"], (ladder, problems)
        assert fragment in problems[0][1], (ladder, problems)


def test_rungs_and_what_they_cost() -> None:
    assert rung_height("source") == 0
    assert rung_height("1080p") == 1080
    assert rung_height("1080") is None
    assert encodes(("source",)) == 0
    assert encodes(("source", "360p")) == 1
    # A camera's own ladder may be empty: it follows the default.
    assert ladder_problem((), allow_empty=True) is None


def test_nodes_are_given_the_default_whether_or_not_it_was_changed() -> None:
    platform = PlatformSettings(streaming=StreamingSettings(default_ladder=("source", "240p")))
    assert agent_settings(platform).default_ladder == ("source", "240p")
    assert agent_settings(PlatformSettings()).default_ladder == DEFAULT_LADDER
