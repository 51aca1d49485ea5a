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
gateway's metrics port, as every stage does; every call is counted by method and
status code, and timed, by the interceptor in `rpc_metrics.py`.

Capacity: gRPC's synchronous server runs each call on one of
`grpc_max_workers` threads for as long as the call lasts (a Watch: as long as
the client keeps it open). So that open streams cannot starve everything else,
the gateway's own calls (Ingest, Enrich, Watch) together take at most
`grpc_max_workers - 1` threads, keeping one for health checks and reflection,
and Watch streams at most `grpc_max_watch_streams` (0: half the workers), so
Ingest and Enrich always have the rest. A call over either limit is refused at
once with RESOURCE_EXHAUSTED naming the limit, rather than queued behind streams
that may never end. (grpc's own `maximum_concurrent_rpcs` is not used: it counts
health checks too, so it cannot keep a thread for them, and its refusal says only
"Concurrent RPC limit exceeded!".)

Sizes: gRPC itself refuses a request over `grpc_max_receive_bytes` (0: four times
`grpc_max_message_bytes`) with RESOURCE_EXHAUSTED before the gateway sees it;
every smaller one reaches the gateway, which answers one over
`grpc_max_message_bytes` with INVALID_ARGUMENT and both sizes.

Deadlines: an Ingest or Enrich call ends at `grpc_deadline` after it started, or
at the caller's deadline if that comes first, also while a slow client is still
sending its Ingest stream: the gateway then stops reading, answers
DEADLINE_EXCEEDED, and says how many documents it received, produced and had
acknowledged by the broker.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from kafka import KafkaProducer, TopicPartition
from kafka.errors import (
    CorruptRecordError,
    IllegalStateError,
    InvalidRecordError,
    InvalidTimestampError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)

from claimstream.core import metrics
from claimstream.core.model import ModelLoadError
from claimstream.core.schema import (
    ClaimGroup,
    Document,
    Rejection,
    admit,
    decode_document,
    encode_document,
)
from claimstream.core.settings import Settings, SettingsError
from claimstream.kafka.clients import BrokerUnavailable, make_consumer, make_producer, seek_to_now
from claimstream.runtime.pipeline import Pipeline
from claimstream.v1 import gateway_pb2
from claimstream.v1.gateway_pb2 import IngestSummary, WatchEvent, WatchRequest

log = logging.getLogger(__name__)

SERVICE_NAME = gateway_pb2.DESCRIPTOR.services_by_name["Gateway"].full_name  # "claimstream.v1.Gateway"

#: IngestSummary lists this many rejections in full (the proto documents it); the rest are counted.
MAX_LISTED_REJECTIONS = 100
#: How often a Watch stream checks whether its caller went away (seconds).
WATCH_POLL_SECONDS = 0.5
#: Worker threads no gateway call may take, so health checks and reflection always find one.
RESERVED_WORKERS = 1
#: After the gateway stops an Ingest early, how long it waits for acknowledgements already in
#: flight, so that its answer can say what reached the broker (seconds).
ACK_GRACE_SECONDS = 2.0
#: How many messages of an Ingest stream are read ahead of producing them.
READ_AHEAD = 4

#: Produce errors about the record itself: sending it again cannot succeed (INVALID_ARGUMENT).
_RECORD_REFUSED = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError, InvalidTimestampError)
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
#: Non-retriable in kafka-python, but transient here: the producer closing while the gateway shuts
#: down, and a record corrupted on the way (the gateway encoded it itself).
_TRANSIENT = (IllegalStateError, CorruptRecordError)


def server_deadline(settings: Settings) -> float:
    """The longest the gateway works on one Ingest or Enrich call (s), whatever the caller's deadline."""
    return settings.grpc_deadline


def hard_receive_limit(settings: Settings) -> int:
    """gRPC's own receive cap: `grpc_max_receive_bytes`, or four times `grpc_max_message_bytes`.

    A request up to it reaches the gateway, which answers one over
    `grpc_max_message_bytes` with INVALID_ARGUMENT and why; gRPC refuses a larger
    one itself with RESOURCE_EXHAUSTED ("Received message larger than max"), which
    no servicer can change. gRPC holds a whole request in memory, so this also
    bounds the memory one call can take.
    """
    limit = settings.grpc_max_message_bytes
    cap = settings.grpc_max_receive_bytes or 4 * limit
    if cap <= limit:
        raise SettingsError(
            f"CLAIMSTREAM_GRPC_MAX_RECEIVE_BYTES={cap} must be larger than CLAIMSTREAM_GRPC_MAX_MESSAGE_BYTES={limit}, "
            "so that a request over the limit reaches the gateway and is told why (0: four times the limit)"
        )
    return cap


def _make_gateway_producer(settings: Settings) -> KafkaProducer:
    """The Ingest producer: `send` blocks (on metadata, or a full buffer) no longer than one call may last."""
    return make_producer(settings, max_block_ms=int(settings.grpc_deadline * 1000))


class _Capacity:
    """How many gateway calls run at once (see the module docstring): a lease per admitted call."""

    def __init__(self, settings: Settings) -> None:
        self.workers = settings.grpc_max_workers
        self.calls_limit = self.workers - RESERVED_WORKERS
        self.watch_limit = settings.grpc_max_watch_streams or self.workers // 2
        if self.workers < 3:
            raise SettingsError(
                f"CLAIMSTREAM_GRPC_MAX_WORKERS={self.workers}: the gateway needs at least 3 worker threads "
                "(a Watch stream, an Ingest or Enrich call, and one kept for health checks)"
            )
        if self.watch_limit > self.calls_limit - 1:
            raise SettingsError(
                f"CLAIMSTREAM_GRPC_MAX_WATCH_STREAMS={self.watch_limit} must be at most "
                f"CLAIMSTREAM_GRPC_MAX_WORKERS - 2 = {self.workers - 2}, so that Ingest, Enrich and health checks "
                "keep a worker thread while every Watch stream is open"
            )
        self._lock = threading.Lock()
        self.calls = 0
        self.watches = 0

    def admit(self, method: str, context: grpc.ServicerContext) -> _Lease:
        """A lease on a worker for this call, or the call ends with RESOURCE_EXHAUSTED saying which limit."""
        watch = method == "Watch"
        with self._lock:
            if watch and self.watches >= self.watch_limit:
                problem = (
                    f"the gateway already serves {self.watches} Watch streams, the most it keeps open at once "
                    f"(CLAIMSTREAM_GRPC_MAX_WATCH_STREAMS={self.watch_limit}); close one or retry later"
                )
            elif self.calls >= self.calls_limit:
                problem = (
                    f"the gateway is at capacity: {self.calls} calls in progress ({self.watches} of them Watch "
                    f"streams), the most its {self.workers} worker threads take while keeping "
                    f"{RESERVED_WORKERS} for health checks (CLAIMSTREAM_GRPC_MAX_WORKERS); retry with backoff"
                )
            else:
                problem = None
                self.calls += 1
                self.watches += watch
        if problem is not None:
            log.warning("%s refused: %s", method, problem)
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{method} refused: {problem}")
        lease = _Lease(self, watch)
        # Released when the call ends, whichever comes first: the handler returning, or gRPC ending
        # the call (a cancelled Watch's generator may be closed only later).
        context.add_callback(lease.release)
        return lease

    def give_back(self, watch: bool) -> None:
        """One admitted call ended (called by its `_Lease`, once)."""
        with self._lock:
            self.calls -= 1
            self.watches -= watch


class _Lease:
    """One admitted call's hold on the gateway's capacity; released once, however often release() is called."""

    def __init__(self, capacity: _Capacity, watch: bool) -> None:
        self._capacity = capacity
        self._watch = watch
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._capacity.give_back(self._watch)

    def __enter__(self) -> _Lease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Gateway:
    """The servicer: one per server, shared by every call (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline | None = None,
        producer_factory: Callable[[Settings], KafkaProducer] | None = None,
    ) -> None:
        self.settings = settings
        self._pipeline = pipeline
        # One Enrich at a time through the models: not every stage's model is safe to call concurrently.
        self._pipeline_lock = threading.Lock()
        self._producer_factory = producer_factory or _make_gateway_producer
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()
        self._capacity = _Capacity(settings)

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
        """A streamed document ready for the ingest topic, or why it is not (the intake every
        entry point shares, after the gateway's own size check)."""
        problem = self._oversized(raw)
        if problem:
            return Rejection("text_too_large", problem)
        return admit(raw, self.settings.max_text_chars)

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

    def close(self) -> None:
        with self._producer_lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None

    # ---- RPCs ----------------------------------------------------------------
    def Ingest(self, request_iterator: Iterable[bytes], context: grpc.ServicerContext) -> IngestSummary:
        deadline = _Deadline(context, server_deadline(self.settings))
        with self._capacity.admit("Ingest", context):
            return self._ingest(request_iterator, context, deadline)

    def _ingest(
        self, request_iterator: Iterable[bytes], context: grpc.ServicerContext, deadline: _Deadline
    ) -> IngestSummary:
        summary = IngestSummary(topic=self.settings.topic_ingest)
        try:
            producer = self.producer()
        except BrokerUnavailable as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        acks = _AckCounter()
        reasons: Counter[str] = Counter()
        reader = _StreamReader(request_iterator)
        try:
            while acks.refusal is None:
                try:
                    raw = reader.next(deadline.left())
                except TimeoutError:
                    acks.wait(_grace(context))
                    context.abort(
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        f"{deadline.describe()} passed while the client was still sending the stream, so it stopped "
                        f"reading: {acks.describe(reasons)}. {_RESEND}",
                    )
                if raw is None:
                    break
                index = acks.read
                acks.read += 1
                result = self._admit(raw)
                if isinstance(result, Rejection):
                    reasons[result.reason] += 1
                    if len(summary.rejections) < MAX_LISTED_REJECTIONS:
                        summary.rejections.add(
                            index=index, id=_peek_id(raw), reason=result.reason, detail=result.detail
                        )
                    continue
                key = result.id.encode("utf-8")
                value = encode_document(result, self.settings.output_encoding)
                try:
                    future = producer.send(self.settings.topic_ingest, key=key, value=value)
                except KafkaError as exc:
                    # Refused before it was sent (the producer checks the size itself): report what the
                    # broker acknowledged of the documents before it, then why this one cannot go.
                    acks.wait(_grace(context))
                    failure = _Failure(index, result.id, len(key) + len(value), exc, sent=False)
                    context.abort(*self._produce_failure(failure, acks, reasons))
                acks.track(future, index, result.id, len(key) + len(value))
        finally:
            reader.close()
        # What was sent is acknowledged or failed within the deadline, or at least the grace.
        acks.wait(max(deadline.left(), _grace(context)))
        first = acks.refusal or acks.first_failure
        if first is not None:
            context.abort(*self._produce_failure(first, acks, reasons))
        if acks.acked < acks.sent:
            context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"the broker did not acknowledge every document in time: {acks.describe(reasons)}. {_RESEND}",
            )
        summary.accepted = acks.acked
        summary.rejected = sum(reasons.values())
        summary.rejected_by_reason.update(reasons)
        metrics.MESSAGES.labels(service="gateway", outcome="ok").inc(acks.acked)
        if summary.rejected:
            metrics.MESSAGES.labels(service="gateway", outcome="rejected").inc(summary.rejected)
        return summary

    def _produce_failure(
        self, failure: _Failure, acks: _AckCounter, reasons: Counter[str]
    ) -> tuple[grpc.StatusCode, str]:
        """The status and message for a document Kafka did not take: only transient errors are UNAVAILABLE."""
        exc = failure.error
        what = f"document {failure.index} ({failure.doc_id or 'no id'})"
        progress = acks.describe(reasons)
        progress_ = progress[:1].upper() + progress[1:]  # as a sentence of its own
        if isinstance(exc, _TOO_LARGE):
            size = _reported_size(exc, failure.size)
            limit = self.settings.max_message_bytes
            if failure.sent:  # the producer let it through: the broker's own limit is lower
                why = (
                    f"the broker refused it ({_error_text(exc)}): its message.max.bytes (or the topic's "
                    f"max.message.bytes) is below that, though the gateway's own limit is {limit:,} bytes "
                    "(CLAIMSTREAM_MAX_MESSAGE_BYTES)"
                )
            else:
                why = f"Kafka takes at most {limit:,} bytes (CLAIMSTREAM_MAX_MESSAGE_BYTES)"
            return grpc.StatusCode.INVALID_ARGUMENT, (
                f"{what} is too large for Kafka: {size:,} bytes as a Kafka message (with the id, content hash and "
                f"ingest time the gateway adds), and {why}. Sending it again cannot succeed: shorten or split "
                f"its text. Before that, {progress}. {_RESEND_OTHERS}"
            )
        if isinstance(exc, _RECORD_REFUSED):
            return grpc.StatusCode.INVALID_ARGUMENT, (
                f"the broker refused {what}: {_error_text(exc)}. Sending it again cannot succeed. "
                f"Before that, {progress}. {_RESEND_OTHERS}"
            )
        if getattr(exc, "retriable", False) or isinstance(exc, _TRANSIENT):
            return grpc.StatusCode.UNAVAILABLE, (
                f"could not produce {what} to {self.settings.topic_ingest}: {_error_text(exc)}. {progress_}. {_RESEND}"
            )
        return grpc.StatusCode.FAILED_PRECONDITION, (
            f"the broker refused {what} for a reason sending it again does not change: {_error_text(exc)} "
            f"(check the gateway's Kafka access to {self.settings.topic_ingest}). {progress_}."
        )

    def Enrich(self, raw: bytes, context: grpc.ServicerContext) -> Document:
        deadline = _Deadline(context, server_deadline(self.settings))
        with self._capacity.admit("Enrich", context):
            return self._enrich(raw, context, deadline)

    def _enrich(self, raw: bytes, context: grpc.ServicerContext, deadline: _Deadline) -> Document:
        doc = self._parse(raw, Document(), context)
        assert isinstance(doc, Document)
        admitted = admit(doc, self.settings.max_text_chars)
        if isinstance(admitted, Rejection):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{admitted.reason}: {admitted.detail}")
        try:
            pipeline = self.pipeline()
        except (ModelLoadError, ImportError) as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"the in-process pipeline cannot load: {exc}")
        if not self._pipeline_lock.acquire(timeout=deadline.left()):
            context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"{deadline.describe()} passed while other Enrich calls held the models",
            )
        try:
            [result] = pipeline.enrich([doc])
        finally:
            self._pipeline_lock.release()
        if isinstance(result, Rejection):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{result.reason}: {result.detail}")
            raise AssertionError("unreachable: ServicerContext.abort raises")
        return result

    def Watch(self, raw: bytes, context: grpc.ServicerContext) -> Iterator[WatchEvent]:
        request = self._parse(raw, WatchRequest(), context)
        assert isinstance(request, WatchRequest)
        with self._capacity.admit("Watch", context):
            yield from self._watch(request, context)

    def _watch(self, request: WatchRequest, context: grpc.ServicerContext) -> Iterator[WatchEvent]:
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
            # Positions are fixed before the caller is told the watch has started: live means from now.
            if request.from_beginning:
                consumer.seek_to_beginning(*assigned)
                for tp in assigned:
                    consumer.position(tp)
            else:
                seek_to_now(consumer, assigned)
            context.send_initial_metadata((("claimstream-topic", topic),))
            # A cancelled or expired caller is noticed within one poll: the loop ends, the thread returns.
            while context.is_active():
                batches = consumer.poll(timeout_ms=int(WATCH_POLL_SECONDS * 1000))
                for tp, records in batches.items():
                    for record in records:
                        if not context.is_active():
                            return
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


def _grace(context: grpc.ServicerContext) -> float:
    """ACK_GRACE_SECONDS, or less if the caller's deadline is sooner."""
    remaining = context.time_remaining()
    return ACK_GRACE_SECONDS if remaining is None else max(0.0, min(ACK_GRACE_SECONDS, remaining))


_RESEND = "Send the stream again: ids are keys, so the pipeline does not duplicate documents it already has."
_RESEND_OTHERS = (
    "Send the other documents again without it: ids are keys, so the pipeline does not duplicate documents "
    "it already has."
)


def _error_text(exc: BaseException) -> str:
    """A produce error as `Name: message`, without kafka-python's repeated class name."""
    text = str(exc)
    name = type(exc).__name__
    return text if name in text else f"{name}: {text}" if text else name


class _Deadline:
    """When a call must end: `grpc_deadline` after it started, or the caller's deadline if that is sooner."""

    def __init__(self, context: grpc.ServicerContext, server_seconds: float) -> None:
        client_seconds = context.time_remaining()
        self.server_seconds = server_seconds
        self.callers = client_seconds is not None and client_seconds < server_seconds
        seconds = client_seconds if self.callers else server_seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def describe(self) -> str:
        if self.callers:
            return "the caller's deadline"
        return f"the gateway's deadline of {self.server_seconds:g} s (CLAIMSTREAM_GRPC_DEADLINE)"


class _StreamReader:
    """Reads a client stream on a thread of its own, so the handler can stop waiting for it at a deadline.

    gRPC's request iterator blocks until the client sends its next message, however
    long that takes; this thread does that waiting. It ends with the stream, when the
    call ends (gRPC then ends or fails the iterator), or soon after close().
    """

    _END = object()

    def __init__(self, requests: Iterable[bytes]) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(iter(requests),), name="gateway-ingest-reader", daemon=True
        )
        self._thread.start()

    def _run(self, requests: Iterator[bytes]) -> None:
        item: object = self._END
        try:
            for raw in requests:
                if not self._put(raw):
                    return
        except Exception as exc:  # the call ended under it (grpc.RpcError): the handler re-raises it
            item = _ReadError(exc)
        self._put(item)

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def next(self, timeout: float) -> bytes | None:
        """The next message; None at the end of the stream; TimeoutError when none came within `timeout`."""
        try:
            item = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise TimeoutError from None
        if item is self._END:
            return None
        if isinstance(item, _ReadError):
            raise item.error
        assert isinstance(item, bytes)
        return item

    def close(self) -> None:
        self._closed.set()


class _ReadError:
    def __init__(self, error: Exception) -> None:
        self.error = error


class _Failure:
    """A document Kafka did not take."""

    def __init__(self, index: int, doc_id: str, size: int, error: BaseException, sent: bool = True) -> None:
        self.index, self.doc_id, self.size, self.error, self.sent = index, doc_id, size, error, sent


def _reported_size(exc: BaseException, fallback: int) -> int:
    """The serialized size kafka-python's MessageSizeTooLargeError names, else key plus value."""
    found = re.search(r"(\d+) bytes", str(exc))
    return int(found.group(1)) if found else fallback


class _AckCounter:
    """An Ingest's progress: documents read, and broker acknowledgements of those produced.

    Keeps counts and the first failure, not every future.
    """

    def __init__(self) -> None:
        self.read = 0
        self.sent = 0
        self.acked = 0
        self.failed = 0
        #: The first document the broker refused for good (too large, invalid): reading stops there.
        self.refusal: _Failure | None = None
        #: The first document that failed for any other reason.
        self.first_failure: _Failure | None = None
        self._done = threading.Condition()

    def track(self, future: Any, index: int, doc_id: str, size: int) -> None:
        with self._done:
            self.sent += 1
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error, index, doc_id, size)

    def _on_ack(self, _metadata: Any) -> None:
        with self._done:
            self.acked += 1
            self._done.notify_all()

    def _on_error(self, index: int, doc_id: str, size: int, exc: BaseException) -> None:
        with self._done:
            self.failed += 1
            failure = _Failure(index, doc_id, size, exc)
            if isinstance(exc, _RECORD_REFUSED):
                self.refusal = self.refusal or failure
            else:
                self.first_failure = self.first_failure or failure
            self._done.notify_all()

    def wait(self, timeout: float) -> None:
        """Wait until every sent message is acknowledged or failed, or `timeout` passes."""
        end = time.monotonic() + timeout
        with self._done:
            while self.acked + self.failed < self.sent:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._done.wait(left)

    def describe(self, reasons: Counter[str]) -> str:
        """What happened to the stream so far, for a caller deciding what to send again."""
        with self._done:
            read, sent, acked, failed = self.read, self.sent, self.acked, self.failed
        if read == 0:
            return "the gateway had read no document, so it produced none"
        pending = sent - acked - failed
        rejected = sum(reasons.values())
        return (
            f"the gateway read {read} documents (indexes 0-{read - 1}) and produced {sent}: the broker acknowledged "
            f"{acked} (they are in the pipeline), {failed} failed and {pending} have no acknowledgement yet (they may "
            f"still arrive); {rejected} were rejected as invalid and not produced; it produced nothing after "
            f"index {read - 1}"
        )


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
