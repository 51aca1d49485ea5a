"""The gRPC gateway (`claimstream.v1.Gateway`): Ingest into Kafka, Enrich in-process, Watch the output.

- `Ingest` validates each streamed Document, produces the accepted ones to the
  ingest topic keyed by id, and answers only after the broker acknowledged them.
- `Enrich` runs the in-process `Pipeline` (every stage's model, no Kafka) on one
  Document.
- `Watch` streams enriched Documents or claim groups from their topics.

The methods are registered with raw-bytes request deserialization and parse the
protobuf themselves: a request gRPC could not deserialize would otherwise fail
with INTERNAL, and a caller deserves INVALID_ARGUMENT and what was wrong.
Health checking (grpc.health.v1) and server reflection are served beside it;
`serve_gateway` also serves `/metrics`, `/healthz` and `/readyz` over HTTP on the
gateway's metrics port, as every stage does.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from claimstream.core import metrics
from claimstream.core.kafka import BrokerUnavailable, make_consumer, make_producer
from claimstream.core.model import ModelLoadError
from claimstream.core.pipeline import Pipeline
from claimstream.core.schema import (
    ClaimGroup,
    Document,
    Rejection,
    content_hash,
    decode_document,
    encode_document,
    now_timestamp,
    validate_document,
)
from claimstream.core.settings import Settings, SettingsError
from claimstream.v1 import gateway_pb2
from claimstream.v1.gateway_pb2 import IngestSummary, WatchEvent, WatchRequest

log = logging.getLogger(__name__)

SERVICE_NAME = gateway_pb2.DESCRIPTOR.services_by_name["Gateway"].full_name  # "claimstream.v1.Gateway"

#: IngestSummary lists this many rejections in full (the proto documents it); the rest are counted.
MAX_LISTED_REJECTIONS = 100
#: How often a Watch stream checks whether its caller went away (seconds).
WATCH_POLL_SECONDS = 0.5


def _server_deadline(settings: Settings) -> float:
    """The longest the gateway works on one Ingest or Enrich call (s), whatever the caller's deadline."""
    return settings.grpc_deadline


def _hard_receive_limit(settings: Settings) -> int:
    """gRPC's own receive cap: twice the setting, so a request just over it reaches us and is told why."""
    return 2 * settings.grpc_max_message_bytes


class Gateway:
    """The servicer: one per server, shared by every call (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline | None = None,
        producer_factory: Callable[[Settings], KafkaProducer] = make_producer,
    ) -> None:
        self.settings = settings
        self._pipeline = pipeline
        # One Enrich at a time through the models: not every stage's model is safe to call concurrently.
        self._pipeline_lock = threading.Lock()
        self._producer_factory = producer_factory
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()

    # ---- shared helpers ----------------------------------------------------
    def _parse(self, raw: bytes, message: Message, context: grpc.ServicerContext) -> Message:
        """Parse a request, or end the call with INVALID_ARGUMENT saying why."""
        problem = self._oversized(raw)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            message.ParseFromString(raw)
        except (DecodeError, ValueError, RuntimeWarning) as exc:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request is not a valid {message.DESCRIPTOR.full_name}: {exc or 'cannot be parsed'}",
            )
        return message

    def _oversized(self, raw: bytes) -> str | None:
        limit = self.settings.grpc_max_message_bytes
        if len(raw) > limit:
            return (
                f"the message is {len(raw):,} bytes; the gateway accepts at most {limit:,} "
                "(CLAIMSTREAM_GRPC_MAX_MESSAGE_BYTES)"
            )
        return None

    def _admit(self, raw: bytes) -> Document | Rejection:
        """A streamed document ready for the ingest topic, or why it is not."""
        problem = self._oversized(raw)
        if problem:
            return Rejection("text_too_large", problem)
        doc = Document()
        try:
            doc.ParseFromString(raw)
        except (DecodeError, ValueError, RuntimeWarning) as exc:
            return Rejection("invalid_protobuf", str(exc)[:500] or "not a claimstream.v1.Document")
        rejection = validate_document(doc, self.settings.max_text_chars)
        if rejection is not None:
            return rejection
        if not doc.content_hash:
            doc.content_hash = content_hash(doc)
        if not doc.id:
            # The same derived id as a JSON document without one gets (core.schema).
            doc.id = "sha256-" + doc.content_hash[:16]
        if not doc.HasField("ingested_at"):
            doc.ingested_at.CopyFrom(now_timestamp())
        return doc

    def producer(self) -> KafkaProducer:
        """The shared Kafka producer, connected on first use (Enrich and Watch work without it)."""
        with self._producer_lock:
            if self._producer is None:
                self._producer = self._producer_factory(self.settings)
            return self._producer

    def pipeline(self) -> Pipeline:
        """The in-process pipeline, loaded on first use when the server was started without one."""
        with self._pipeline_lock:
            if self._pipeline is None:
                log.info("loading the in-process pipeline for Enrich")
                self._pipeline = Pipeline.load(self.settings)
            return self._pipeline

    @staticmethod
    def _time_left(context: grpc.ServicerContext, cap: float) -> float:
        remaining = context.time_remaining()
        return cap if remaining is None else max(0.0, min(cap, remaining))

    def close(self) -> None:
        with self._producer_lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None

    # ---- RPCs ----------------------------------------------------------------
    def Ingest(self, request_iterator: Iterable[bytes], context: grpc.ServicerContext) -> IngestSummary:  # noqa: N802
        summary = IngestSummary(topic=self.settings.topic_ingest)
        try:
            producer = self.producer()
        except BrokerUnavailable as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        acks = _AckCounter()
        reasons: Counter[str] = Counter()
        for index, raw in enumerate(request_iterator):
            result = self._admit(raw)
            if isinstance(result, Rejection):
                reasons[result.reason] += 1
                if len(summary.rejections) < MAX_LISTED_REJECTIONS:
                    summary.rejections.add(
                        index=index, id=_peek_id(raw), reason=result.reason, detail=result.detail
                    )
                continue
            value = encode_document(result, self.settings.output_encoding)
            try:
                future = producer.send(self.settings.topic_ingest, key=result.id.encode("utf-8"), value=value)
            except KafkaError as exc:
                context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    f"could not produce document {index} ({result.id}) to {self.settings.topic_ingest}: "
                    f"{exc}. "
                    f"{acks.acked} earlier documents were acknowledged; send the stream again (ids are keys, "
                    "so the pipeline does not duplicate them).",
                )
            acks.track(future)
        acked, failed, first_error = acks.wait(self._time_left(context, _server_deadline(self.settings)))
        if failed or acked < acks.sent:
            why = f"first error: {first_error}" if failed else "no acknowledgement in time"
            context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"the broker acknowledged {acked} of {acks.sent} documents ({why}). Send the stream again: "
                "ids are keys, so the pipeline does not duplicate documents it already has.",
            )
        summary.accepted = acked
        summary.rejected = sum(reasons.values())
        summary.rejected_by_reason.update(reasons)
        metrics.MESSAGES.labels(service="gateway", outcome="ok").inc(acked)
        if summary.rejected:
            metrics.MESSAGES.labels(service="gateway", outcome="rejected").inc(summary.rejected)
        return summary

    def Enrich(self, raw: bytes, context: grpc.ServicerContext) -> Document:  # noqa: N802
        doc = self._parse(raw, Document(), context)
        assert isinstance(doc, Document)
        problem = validate_document(doc, self.settings.max_text_chars)
        if problem is not None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{problem.reason}: {problem.detail}")
        try:
            pipeline = self.pipeline()
        except (ModelLoadError, ImportError) as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"the in-process pipeline cannot load: {exc}")
        wait = self._time_left(context, _server_deadline(self.settings))
        if not self._pipeline_lock.acquire(timeout=wait):
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "other Enrich calls held the models too long")
        try:
            [result] = pipeline.enrich([doc])
        finally:
            self._pipeline_lock.release()
        if isinstance(result, Rejection):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{result.reason}: {result.detail}")
        return result

    def Watch(self, raw: bytes, context: grpc.ServicerContext) -> Iterator[WatchEvent]:  # noqa: N802
        request = self._parse(raw, WatchRequest(), context)
        assert isinstance(request, WatchRequest)
        groups = request.stream == WatchRequest.CLAIM_GROUPS
        topic = self.settings.topic_groups if groups else self.settings.topic_enriched
        wanted = _Filter(request)
        try:
            consumer = make_consumer(self.settings, [], from_beginning=request.from_beginning)
        except BrokerUnavailable as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                context.abort(
                    grpc.StatusCode.NOT_FOUND,
                    f"topic {topic!r} does not exist on {self.settings.bootstrap_servers()}: "
                    "create the pipeline's topics with `claimstream topics create`",
                )
            assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            if request.from_beginning:
                consumer.seek_to_beginning(*assigned)
            else:
                consumer.seek_to_end(*assigned)
            for tp in assigned:
                consumer.position(tp)  # fix "now" before telling the caller the watch has started
            context.send_initial_metadata((("claimstream-topic", topic),))
            while context.is_active():
                batches = consumer.poll(timeout_ms=int(WATCH_POLL_SECONDS * 1000))
                for tp, records in batches.items():
                    for record in records:
                        event = _watch_event(record.value, groups)
                        if event is None:
                            log.warning(
                                "Watch: skipped an undecodable message at %s/%d@%d",
                                topic, tp.partition, record.offset,
                            )
                            continue
                        if wanted.matches(event):
                            event.topic, event.partition, event.offset = topic, tp.partition, record.offset
                            yield event
        finally:
            consumer.close()


class _AckCounter:
    """Counts broker acknowledgements of produced messages without keeping every future."""

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.first_error: str | None = None
        self._done = threading.Condition()

    def track(self, future: Any) -> None:
        with self._done:
            self.sent += 1
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error)

    def _on_ack(self, _metadata: Any) -> None:
        with self._done:
            self.acked += 1
            self._done.notify_all()

    def _on_error(self, exc: BaseException) -> None:
        with self._done:
            self.failed += 1
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"
            self._done.notify_all()

    def wait(self, timeout: float) -> tuple[int, int, str | None]:
        """Wait until every sent message is acknowledged or failed, or `timeout` passes."""
        end = time.monotonic() + timeout
        with self._done:
            while self.acked + self.failed < self.sent:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._done.wait(left)
            return self.acked, self.failed, self.first_error


class _Filter:
    """WatchRequest's language and claim-key filters (empty: everything)."""

    def __init__(self, request: WatchRequest) -> None:
        self.languages = {code.lower() for code in request.languages}
        self.keys = set(request.claim_keys)

    def matches(self, event: WatchEvent) -> bool:
        if event.HasField("document"):
            doc = event.document
            languages = {doc.language.code.lower()}
            keys = {claim.key for claim in doc.claims}
        else:
            languages = {code.lower() for code in event.group.languages}
            keys = {event.group.key}
        language_ok = not self.languages or bool(languages & self.languages)
        return language_ok and (not self.keys or bool(keys & self.keys))


def _watch_event(raw: bytes | None, group: bool) -> WatchEvent | None:
    """A topic message as a WatchEvent (protobuf or JSON: stages may write either); None if it is neither."""
    if not group:
        doc = decode_document(raw)
        return WatchEvent(document=doc) if isinstance(doc, Document) else None
    if not raw:
        return None
    message = ClaimGroup()
    try:
        if raw.lstrip()[:1] == b"{":
            json_format.Parse(raw.decode("utf-8"), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(raw)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError):
        return None
    return WatchEvent(group=message)


def _peek_id(raw: bytes) -> str:
    """The id of a rejected document, when its bytes parse at all (for the caller's report)."""
    doc = Document()
    try:
        doc.ParseFromString(raw)
    except (DecodeError, ValueError, RuntimeWarning):
        return ""
    return doc.id


def _method_handlers(gateway: Gateway) -> dict[str, grpc.RpcMethodHandler]:
    # request_deserializer left out: the methods receive the raw bytes (see the module docstring).
    return {
        "Ingest": grpc.stream_unary_rpc_method_handler(
            gateway.Ingest, response_serializer=IngestSummary.SerializeToString
        ),
        "Enrich": grpc.unary_unary_rpc_method_handler(
            gateway.Enrich, response_serializer=Document.SerializeToString
        ),
        "Watch": grpc.unary_stream_rpc_method_handler(
            gateway.Watch, response_serializer=WatchEvent.SerializeToString
        ),
    }


def _server_credentials(settings: Settings) -> grpc.ServerCredentials:
    """TLS credentials from CLAIMSTREAM_GRPC_TLS_CERTFILE and _KEYFILE (both required)."""
    paths = {"CLAIMSTREAM_GRPC_TLS_CERTFILE": settings.grpc_tls_certfile,
             "CLAIMSTREAM_GRPC_TLS_KEYFILE": settings.grpc_tls_keyfile}
    missing = [name for name, path in paths.items() if not path]
    if missing:
        raise SettingsError(f"gRPC TLS needs both certificate and key: set {', '.join(missing)}")
    try:
        chain = Path(settings.grpc_tls_certfile).read_bytes()
        key = Path(settings.grpc_tls_keyfile).read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read the gRPC TLS files: {exc}") from exc
    return grpc.ssl_server_credentials([(key, chain)])


def start_gateway(settings: Settings, pipeline: Pipeline | None = None) -> tuple[grpc.Server, int]:
    """Start the gateway on `grpc_host:grpc_port` (port 0: any free port); return the server and its port.

    Without a `pipeline`, Enrich loads one on its first call. The Kafka producer
    connects on the first Ingest. Stop it with `server.stop(grace)`; that also
    closes the producer.
    """
    gateway = Gateway(settings, pipeline)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_max_workers,
                                   thread_name_prefix="gateway"),
        options=[
            ("grpc.max_receive_message_length", _hard_receive_limit(settings)),
            ("grpc.max_send_message_length", settings.grpc_max_message_bytes),
        ],
    )
    handlers = _method_handlers(gateway)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)

    address = f"{settings.grpc_host}:{settings.grpc_port}"
    try:
        if settings.grpc_tls_certfile or settings.grpc_tls_keyfile:
            port = server.add_secure_port(address, _server_credentials(settings))
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise RuntimeError(
            f"the gRPC gateway cannot listen on {address}: {exc}; set CLAIMSTREAM_GRPC_PORT"
        ) from exc
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    def close_when_stopped() -> None:
        server.wait_for_termination()
        health_servicer.enter_graceful_shutdown()
        gateway.close()

    threading.Thread(target=close_when_stopped, name="gateway-closer", daemon=True).start()
    tls = "TLS" if settings.grpc_tls_certfile else "plaintext"
    log.info("gRPC gateway listening on %s:%d (%s)", settings.grpc_host, port, tls)
    return server, port


class _HealthPages(BaseHTTPRequestHandler):
    """`/metrics`, `/healthz` (the process answers) and `/readyz` (the gateway takes calls)."""

    ready: Callable[[], bool] = staticmethod(lambda: False)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/metrics":
            self._answer(200, metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8")
        elif self.path == "/healthz":
            self._answer(200, b"ok\n")
        elif self.path == "/readyz":
            ok = self.ready()
            self._answer(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
        else:
            self._answer(404, b"not found: try /metrics, /healthz or /readyz\n")

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: not worth a log line
        pass


def start_health_server(settings: Settings, ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /readyz on `metrics_host:port_for("gateway")` in a daemon thread."""
    handler = type("GatewayHealthPages", (_HealthPages,), {"ready": staticmethod(ready)})
    address = (settings.metrics_host, settings.port_for("gateway"))
    try:
        httpd = ThreadingHTTPServer(address, handler)
    except OSError as exc:
        raise RuntimeError(
            f"the gateway cannot serve metrics on {address[0]}:{address[1]}: {exc}; "
            "set CLAIMSTREAM_METRICS_PORT"
        ) from exc
    threading.Thread(target=httpd.serve_forever, name="gateway-metrics", daemon=True).start()
    return httpd


def serve_gateway(settings: Settings) -> None:
    """Run the gateway until SIGINT/SIGTERM (or until the server stops): `claimstream serve gateway`.

    The pipeline is loaded before the gateway takes calls, so `/readyz` turns
    ready only once Enrich can answer; a model that cannot load stops it here.
    """
    ready = threading.Event()
    httpd = start_health_server(settings, ready.is_set)
    try:
        pipeline = Pipeline.load(settings, progress=lambda stage: log.info("gateway: loading %s", stage))
        server, _port = start_gateway(settings, pipeline)
        ready.set()

        def stop(signum: int, _frame: Any) -> None:
            log.info("gateway: signal %d, draining calls", signum)
            ready.clear()
            server.stop(grace=_server_deadline(settings))

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        server.wait_for_termination()
        pipeline.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
