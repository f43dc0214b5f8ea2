"""gRPC server metrics under the names every go-grpc-prometheus dashboard expects.

`MetricsInterceptor` is the outermost interceptor, so it sees the status the guard's one `_fail`
chose, refusals (UNAUTHENTICATED, PERMISSION_DENIED) included. Per call it only bumps plain
integers on a per-method record (one event loop: no locks); `GrpcMetrics` turns them into
Prometheus families at scrape time. prometheus_client's own Counter and Histogram would take a
lock and a label lookup per update, which costs more than the rest of a cheap call's wrapper.

Every method of the registered services is pre-initialised from its descriptor (every code of
`grpc_server_handled_total` at 0), so a dashboard shows 0 rather than "no data".
"""

from __future__ import annotations

import asyncio
import inspect
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import descriptor_pool
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# Prometheus' default buckets, as go-grpc-prometheus uses (seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CODES = tuple(code.name for code in grpc.StatusCode)
UNARY, CLIENT_STREAM, SERVER_STREAM, BIDI_STREAM = (
    "unary",
    "client_stream",
    "server_stream",
    "bidi_stream",
)


def rpc_type(client_streaming: bool, server_streaming: bool) -> str:
    """go-grpc-prometheus' grpc_type of a method."""
    if client_streaming:
        return BIDI_STREAM if server_streaming else CLIENT_STREAM
    return SERVER_STREAM if server_streaming else UNARY


class MethodStats:
    """Counts of one method; `handled` by status code name, `buckets` not cumulative."""

    __slots__ = (
        "buckets",
        "handled",
        "method",
        "received",
        "seconds",
        "sent",
        "service",
        "started",
        "type",
    )

    def __init__(self, service: str, method: str, kind: str) -> None:
        self.service = service
        self.method = method
        self.type = kind
        self.started = 0
        self.received = 0
        self.sent = 0
        self.handled: dict[str, int] = dict.fromkeys(CODES, 0)
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last: over the largest bound (+Inf)
        self.seconds = 0.0

    def finish(self, code: str, seconds: float) -> None:
        """A call ended with `code` after `seconds`."""
        self.handled[code] = self.handled.get(code, 0) + 1
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.seconds += seconds


class GrpcMetrics(Collector):
    """The five go-grpc-prometheus families, read from the per-method records at scrape time."""

    def __init__(self) -> None:
        self._methods: dict[str, MethodStats] = {}

    def register_services(self, names: Iterable[str]) -> None:
        """Pre-initialise every method of these services (full names, from the default
        descriptor pool where the generated modules registered them)."""
        pool = descriptor_pool.Default()
        for name in names:
            service = pool.FindServiceByName(name)
            for m in service.methods:
                kind = rpc_type(m.client_streaming, m.server_streaming)
                self.stats(f"/{service.full_name}/{m.name}", kind)

    def stats(self, path: str, kind: str) -> MethodStats:
        """The record of `path` ("/package.Service/Method"), made on first use."""
        found = self._methods.get(path)
        if found is None:
            service, _, method = path.lstrip("/").rpartition("/")
            found = self._methods[path] = MethodStats(service, method, kind)
        return found

    def in_flight(self, path: str) -> int:
        """Calls of `path` started and not yet ended (e.g. open WatchEvents streams)."""
        found = self._methods.get(path)
        return found.started - sum(found.handled.values()) if found is not None else 0

    def describe(self) -> Iterable[Metric]:
        """Nothing: the families are only built at collect time (no work at registration)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The families as they stand now."""
        labels = ["grpc_type", "grpc_service", "grpc_method"]
        started = CounterMetricFamily(
            "grpc_server_started_total",
            "Total number of RPCs started on the server.",
            labels=labels,
        )
        handled = CounterMetricFamily(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            labels=[*labels, "grpc_code"],
        )
        received = CounterMetricFamily(
            "grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.",
            labels=labels,
        )
        sent = CounterMetricFamily(
            "grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.",
            labels=labels,
        )
        seconds = HistogramMetricFamily(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level "
            "handled by the server.",
            labels=labels,
        )
        bounds = [f"{b:g}" for b in BUCKETS] + ["+Inf"]
        for s in list(self._methods.values()):
            values = [s.type, s.service, s.method]
            started.add_metric(values, s.started)
            received.add_metric(values, s.received)
            sent.add_metric(values, s.sent)
            for code, n in list(s.handled.items()):
                handled.add_metric([*values, code], n)
            cumulative, total = [], 0
            for bound, n in zip(bounds, s.buckets, strict=True):
                total += n
                cumulative.append((bound, total))
            seconds.add_metric(values, cumulative, s.seconds)
        yield from (started, handled, received, sent, seconds)


def _code(context: Any, exc: BaseException | None) -> str:
    """The status a call ended with: what the handler or the guard set, else what grpc.aio
    answers for the exception (a cancelled call is CANCELLED, any other exception UNKNOWN)."""
    code = context.code()
    if code is not None:
        return code.name if isinstance(code, grpc.StatusCode) else grpc.StatusCode(code).name
    if exc is None:
        return "OK"
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    return "UNKNOWN"


if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # not subscriptable at run time
    _Interceptor = grpc.aio.ServerInterceptor


class MetricsInterceptor(_Interceptor):
    """Counts every call into `GrpcMetrics`; must come first in the server's interceptors."""

    def __init__(self, metrics: GrpcMetrics) -> None:
        self._metrics = metrics
        # Wrapped handlers by method, as the guard keeps them: a closure per call costs more.
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # unknown method: grpc answers UNIMPLEMENTED, like go's (uncounted)
        kind = rpc_type(handler.request_streaming, handler.response_streaming)
        built: grpc.RpcMethodHandler[Any, Any] = _wrap(handler, self._metrics.stats(method, kind))
        self._wrapped[method] = built
        return built


async def _counted(requests: AsyncIterator[Any], stats: MethodStats) -> AsyncIterator[Any]:
    async for message in requests:
        stats.received += 1
        yield message


async def _items(result: Any) -> AsyncIterator[Any]:
    """A streaming method's messages: an async generator's items, or none from a coroutine that
    writes with context.write (the health servicer's Watch; those writes go uncounted)."""
    if inspect.isasyncgen(result):
        async for item in result:
            yield item
    else:
        await result


def _wrap(handler: Any, stats: MethodStats) -> Any:
    clock = time.perf_counter
    if handler.unary_unary:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            stats.started += 1
            stats.received += 1
            began = clock()
            try:
                response = await inner_uu(request, context)
            except BaseException as exc:
                stats.finish(_code(context, exc), clock() - began)
                raise
            stats.sent += 1
            stats.finish(_code(context, None), clock() - began)
            return response

        return handler._replace(unary_unary=unary_unary)
    if handler.stream_unary:
        inner_su = handler.stream_unary

        async def stream_unary(requests: AsyncIterator[Any], context: Any) -> Any:
            stats.started += 1
            began = clock()
            try:
                response = await inner_su(_counted(requests, stats), context)
            except BaseException as exc:
                stats.finish(_code(context, exc), clock() - began)
                raise
            stats.sent += 1
            stats.finish(_code(context, None), clock() - began)
            return response

        return handler._replace(stream_unary=stream_unary)
    if handler.unary_stream:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            stats.started += 1
            stats.received += 1
            began = clock()
            try:
                async for item in _items(inner_us(request, context)):
                    stats.sent += 1
                    yield item
            except BaseException as exc:
                stats.finish(_code(context, exc), clock() - began)
                raise
            stats.finish(_code(context, None), clock() - began)

        return handler._replace(unary_stream=unary_stream)
    inner_ss = handler.stream_stream

    async def stream_stream(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
        stats.started += 1
        began = clock()
        try:
            async for item in _items(inner_ss(_counted(requests, stats), context)):
                stats.sent += 1
                yield item
        except BaseException as exc:
            stats.finish(_code(context, exc), clock() - began)
            raise
        stats.finish(_code(context, None), clock() - began)

    return handler._replace(stream_stream=stream_stream)
