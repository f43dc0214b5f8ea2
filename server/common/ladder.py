"""A live ladder's rungs as the API writes them: "source" (the camera's stream copied) or
"<height>p" (encoded; 144p to 2160p, even). Checked the same way for a camera's own ladder
and the streaming settings' default; the node agent plans and runs them (node_agent.ladder)."""

from __future__ import annotations

import re
from collections.abc import Sequence

SOURCE = "source"
DEFAULT_LADDER = (SOURCE, "360p")
MAX_RUNGS = 4
MIN_HEIGHT = 144
MAX_HEIGHT = 2160
_HEIGHT = re.compile(r"^([1-9][0-9]{1,3})p$")


def rung_height(rung: str) -> int | None:
    """0 for "source", the height of "<height>p", None for anything else."""
    if rung == SOURCE:
        return 0
    match = _HEIGHT.match(rung)
    if match is None:
        return None
    height = int(match[1])
    return height if MIN_HEIGHT <= height <= MAX_HEIGHT and height % 2 == 0 else None


def ladder_problem(rungs: Sequence[str], *, allow_empty: bool) -> str | None:
    """Why `rungs` is not a ladder (a sentence), or None when it is one."""
    if not rungs:
        return None if allow_empty else "must name at least one rung (e.g. source, 360p)"
    if len(rungs) > MAX_RUNGS:
        return f"must have at most {MAX_RUNGS} rungs, got {len(rungs)}"
    for rung in rungs:
        if rung_height(rung) is None:
            return (
                f"{rung[:40]!r} is not a rung: write source, or a height from "
                f"{MIN_HEIGHT}p to {MAX_HEIGHT}p that is even (e.g. 360p)"
            )
    if len(set(rungs)) != len(rungs):
        return "must not name a rung twice"
    return None


def encodes(rungs: Sequence[str]) -> int:
    """How many rungs are encoded (each costs a node CPU; the copy almost none)."""
    return sum(1 for r in rungs if r != SOURCE)
