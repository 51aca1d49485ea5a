"""Per-call gRPC metrics: a server interceptor that times every call and counts it by the status it ended with.

It measures every method the gateway's server serves (its own, health checks,
reflection), named as gRPC names them, without the leading slash
(`claimstream.v1.Gateway/Enrich`, `grpc.health.v1.Health/Check`), so that the
gateway's Watch and the health service's Watch stay apart. Each call is
recorded once, when it ends:

- the handler returns (a stream: its response iterator is exhausted): the code
  it set with `context.set_code`, else OK;
- the handler raises: the code of its `context.abort(...)` (which raises), else
  UNKNOWN, which is what gRPC answers for an exception that escapes;
- the call ends under the handler, because the client cancelled it or its
  deadline passed: CANCELLED, or DEADLINE_EXCEEDED at (or within DEADLINE_SLACK
  of) its deadline. gRPC leaves the generator of a stream it stopped sending
  suspended until it is garbage collected, so the call's termination callback
  records it too, whichever of the two comes first.

A stream's time is the time it was open. Requests gRPC itself refuses before a
handler runs (an unknown method, a unary request over
`grpc.max_receive_message_length`) are not seen here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from claimstream.core import metrics

#: The `service` label of these series: the gateway is this project's only gRPC server.
SERVICE = "gateway"
#: A call cancelled this close to its deadline counts as DEADLINE_EXCEEDED (seconds): a client whose
#: deadline passes cancels the call itself, and that can reach the server just before its own deadline.
DEADLINE_SLACK = 0.1


class RpcMetrics(grpc.ServerInterceptor):
    """Records `claimstream_grpc_requests_total`, `_request_seconds` and `_in_flight` for each call."""

    def intercept_service(
        self, continuation: Callable[[Any], grpc.RpcMethodHandler | None], handler_call_details: Any
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:  # no such method: gRPC answers UNIMPLEMENTED
            return None
        return _measured(handler, handler_call_details.method.lstrip("/"))


def _measured(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """The same handler, its behaviour wrapped so that each call is recorded."""
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(_returning(handler.unary_unary, method), **codec)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_returning(handler.stream_unary, method), **codec)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(_streaming(handler.unary_stream, method), **codec)
    return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream, method), **codec)


def _returning(behavior: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable[..., Any]:
    """A unary-response behaviour, recorded when it returns or raises."""

    def measured(request: Any, context: grpc.ServicerContext) -> Any:
        call = _Call(method, context)
        failed = True
        try:
            response = behavior(request, context)
            failed = False
            return response
        finally:
            call.end(failed)

    return measured


def _streaming(behavior: Callable[[Any, grpc.ServicerContext], Iterator[Any]], method: str) -> Callable[..., Any]:
    """A streaming-response behaviour, recorded when its responses end (or it raises before it returns them)."""

    def measured(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        call = _Call(method, context)
        try:
            responses = behavior(request, context)
        except BaseException:
            call.end(failed=True)
            raise
        return _until_closed(responses, call)

    return measured


def _until_closed(responses: Iterator[Any], call: _Call) -> Iterator[Any]:
    failed = True
    try:
        yield from responses
        failed = False
    finally:  # also when gRPC closes a stream it stopped sending (GeneratorExit): then the call is no longer active
        call.end(failed)


class _Call:
    """One call being measured, recorded once: by the handler ending, or by gRPC ending the call first."""

    def __init__(self, method: str, context: grpc.ServicerContext) -> None:
        self._method = method
        self._context = context
        self._started = time.perf_counter()
        self._lock = threading.Lock()
        self._recorded = False
        metrics.GRPC_IN_FLIGHT.labels(service=SERVICE, method=method).inc()
        if not context.add_callback(self._terminated):  # the call has already ended
            self._terminated()

    def end(self, failed: bool) -> None:
        """The handler returned, or raised (`failed`): record the status the call ends with."""
        context = self._context
        if not context.is_active():
            code = _cut_short(context)
        else:
            code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
        self._record(code)

    def _terminated(self) -> None:
        # gRPC's termination callback: it runs after every call, and records only one the handler has not ended.
        self._record(_cut_short(self._context))

    def _record(self, code: grpc.StatusCode) -> None:
        with self._lock:
            if self._recorded:
                return
            self._recorded = True
        seconds = time.perf_counter() - self._started
        metrics.GRPC_IN_FLIGHT.labels(service=SERVICE, method=self._method).dec()
        metrics.GRPC_REQUEST_SECONDS.labels(service=SERVICE, method=self._method).observe(seconds)
        metrics.GRPC_REQUESTS.labels(service=SERVICE, method=self._method, code=code.name).inc()


def _cut_short(context: grpc.ServicerContext) -> grpc.StatusCode:
    """Why a call ended before its handler did: its deadline passed, or else the client cancelled it."""
    expired = context.time_remaining() < DEADLINE_SLACK
    return grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
