"""Ending background tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, quiet: bool = False) -> None:
    """Cancel every task, then wait for each to end (so none outlives the object that owns it).
    A task that had already failed raises its error here, unless `quiet` (shutting down a
    connection or a cache, whose tasks report their own failures)."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    ignored: tuple[type[BaseException], ...] = (
        (asyncio.CancelledError, Exception) if quiet else (asyncio.CancelledError,)
    )
    for task in pending:
        with contextlib.suppress(*ignored):
            await task
