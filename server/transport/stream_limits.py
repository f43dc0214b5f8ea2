"""Concurrent streaming calls per client, bounded.

Envoy limits connections and streams per connection, not per client: one client could hold
thousands of streams (each an upstream request of Envoy's, each a task here) and starve everyone
else. So the control plane counts the streams each client holds open and refuses one more with
RESOURCE_EXHAUSTED (and RetryInfo):

- unauthenticated streams (grpc.health.v1.Health/Watch, reflection) per client address, few:
  monitors need one or two;
- authenticated streams (WatchEvents, an agent's Connect) per principal (user, API token or
  node), more: a user may have the UI open in several tabs and scripts watching.

The client address is the one rule's (server/transport/peer.py): behind Envoy, the browser's.
Counts live in this process (one event loop, so no lock): each replica bounds its own streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from server.errors import ResourceExhausted
from server.identity.principal import CallInfo
from server.transport.status import to_grpc_status

# How soon a refused client should try again: streams end when their holders go away.
RETRY_AFTER_S = 5.0


class StreamLimits:
    """Open streaming calls per client, each refused beyond its bound."""

    def __init__(self, public_per_address: int, per_principal: int) -> None:
        self._public_per_address = public_per_address
        self._per_principal = per_principal
        self._open: dict[str, int] = {}

    def open_streams(self, key: str) -> int:
        """Streams open now under `key` (as acquire() names it)."""
        return self._open.get(key, 0)

    def acquire(self, call: CallInfo) -> str:
        """Count one more stream of `call`'s client and return its key for release();
        ResourceExhausted when the client already holds its bound."""
        principal = call.principal
        if principal is None:
            key, limit = f"address:{call.source_address}", self._public_per_address
            who = call.source_address or "this client"
            what = "unauthenticated streams (health watches, reflection)"
        else:
            key, limit = _principal_key(call), self._per_principal
            who, what = principal.actor, "streams"
        held = self._open.get(key, 0)
        if held >= limit:
            raise ResourceExhausted(
                f"{who} holds {held} open {what}, the most one client may hold; close one or "
                "retry later",
                retry_after_seconds=RETRY_AFTER_S,
            )
        self._open[key] = held + 1
        return key

    def release(self, key: str) -> None:
        """One stream counted under `key` ended."""
        left = self._open[key] - 1
        if left:
            self._open[key] = left
        else:
            del self._open[key]

    @contextmanager
    def slot(self, call: CallInfo) -> Iterator[None]:
        """acquire() for the duration of the block."""
        key = self.acquire(call)
        try:
            yield
        finally:
            self.release(key)


def _principal_key(call: CallInfo) -> str:
    principal = call.principal
    assert principal is not None
    if principal.node_id:
        return f"node:{principal.node_id}"
    if principal.api_token_id:
        return f"token:{principal.api_token_id}"
    return f"user:{principal.user_id}"


def bounded_public_stream(
    handler: Any, limits: StreamLimits, call_of: Callable[[Any], CallInfo]
) -> Any:
    """`handler` (a PUBLIC streaming method served as grpc hands it over, such as the health
    servicer's Watch) counted against its client's address; `call_of(context)` says who calls.
    Its method may be an async generator or a coroutine writing with context.write: the
    wrapper writes either way."""
    if handler.unary_stream:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: Any) -> None:
            key = _acquire_or_refuse(limits, call_of(context), context)
            if key is None:
                return
            try:
                await _drive(inner_us(request, context), context)
            finally:
                limits.release(key)

        return handler._replace(unary_stream=unary_stream)
    if handler.stream_stream:
        inner_ss = handler.stream_stream

        async def stream_stream(requests: AsyncIterator[Any], context: Any) -> None:
            key = _acquire_or_refuse(limits, call_of(context), context)
            if key is None:
                return
            try:
                await _drive(inner_ss(requests, context), context)
            finally:
                limits.release(key)

        return handler._replace(stream_stream=stream_stream)
    return handler


def _acquire_or_refuse(limits: StreamLimits, call: CallInfo, context: Any) -> str | None:
    """acquire(), or None with the refusal set as the call's status: returning then ends the
    call with it (cheaper than raising through grpc's abort, for a flood of refusals)."""
    try:
        return limits.acquire(call)
    except ResourceExhausted as err:
        status = to_grpc_status(err)
        context.set_code(status.code)
        context.set_details(status.details)
        context.set_trailing_metadata(status.trailing_metadata)
        return None


async def _drive(result: Any, context: Any) -> None:
    if hasattr(result, "__aiter__"):
        async for item in result:
            await context.write(item)
    else:
        await result
