"""Ending background tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel every task, then wait for each to end (so none outlives the object that owns it).
    A task that had already failed raises its error here, where its owner is closed."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        try:
            await task
        except asyncio.CancelledError:
            # The task's own end, as asked; unless the caller is being cancelled too, which
            # must go on up (swallowed here, a loop calling this would never end).
            raise_if_cancelling()


def raise_if_cancelling() -> None:
    """Raise CancelledError if this task was asked to stop. Called at the top of every
    background loop and first in the `except Exception` of those that log and go on: redis-py's
    asyncio client (8.1) swallows a cancellation that lands during a command in more than half
    of the tries (redis-py #2028, #2551), and a driver may turn one into another error. The loop
    would go on for good and its owner wait for it forever (the leader's step-down waits for its
    jobs). asyncio still counts the request on the task (`cancelling()`)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def awaiting(task: asyncio.Task[Any]) -> str:
    """Where a task waits now, innermost last: its coroutine and everything it awaits (Python's
    own Task.print_stack shows only the outermost frame of a suspended task)."""
    lines = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        frame = frame or getattr(coro, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "ag_await", None)
            or getattr(coro, "gi_yieldfrom", None)
        )
    return "\n".join(lines) or f"  {task!r}"
