"""The stage runner: one Faust worker per service, shared by every stage.

A worker consumes its input topic in batches (`stream.take_events(spec.max_batch,
within=max_wait)`), decodes and validates each message, runs the service's model
on the valid ones in a worker thread (so heartbeats and `/metrics` keep
answering), produces each result keyed by document id, sends what failed to the
stage's DLQ, and only then lets Faust ack the batch: offsets are committed after
the outputs are acknowledged by the broker (at least once).

Backpressure: the next batch is not taken until this one is delivered, and
Faust's stream buffer is bounded (`StageSpec.stream_buffer`), so a slow model
slows consumption instead of filling memory.

Poison: whatever one message makes go wrong — intake, the model, encoding, an output
the broker refuses for its size — ends as a dead letter for that message, and the rest
of its batch is delivered. If a dead letter or an output cannot be written at all (the
broker is gone past the producer's retries), the worker exits at once without
acknowledging the batch, so nothing is committed and the batch is read again on restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from claimstream.core import metrics
from claimstream.core.model import StageModel, predict_each
from claimstream.core.schema import Document, Rejection, admit, encode_document, mark_processed
from claimstream.core.settings import Settings, stage
from claimstream.kafka.clients import ensure_topics, ssl_context
from claimstream.kafka.deadletters import UndeliveredError, send_dead_letter
from claimstream.runtime import health

log = logging.getLogger(__name__)

#: Exit status of a worker that stopped because an output or a dead letter could not be written.
EXIT_UNDELIVERED = 75
#: Errors that say one record is too large for the broker: that record's fault, not the broker's.
TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)

#: Called after a batch's documents were produced: returns further sends to await (claims uses it).
AfterBatch = Callable[[list[Document]], Awaitable[list[Awaitable[Any]]]]


@dataclass
class StageSpec:
    """How one service is wired: its topics, its model and its batch limits."""

    service: str
    input_topic: str
    output_topic: str
    load_model: Callable[[], StageModel]
    #: Optional: given the Faust app and the model, set up tables and return an AfterBatch hook.
    setup: Callable[[faust.App, StageModel], AfterBatch] | None = None
    #: Most messages the stage's agent takes into one model batch.
    max_batch: int = 32
    #: Takes of the other agents `setup` adds to the app (claims: the group agent's).
    other_takes: tuple[int, ...] = ()

    @classmethod
    def of(cls, name: str, settings: Settings, load_model: Callable[[], StageModel],
           setup: Callable[[faust.App, StageModel], AfterBatch] | None = None,
           other_takes: tuple[int, ...] = ()) -> StageSpec:
        """The spec of stage `name`, its topics from the stage table (`settings.STAGES`)."""
        wiring = stage(name)
        return cls(name, wiring.input_topic(settings), wiring.output_topic(settings), load_model, setup,
                   max_batch=settings.max_batch, other_takes=other_takes)

    @property
    def stream_buffer(self) -> int:
        """Messages Faust may hold ahead of an agent: `STREAM_BUFFER_TAKES` of the largest take
        (at least 64). Bounded, so a slow model slows consumption instead of filling memory."""
        return max(STREAM_BUFFER_TAKES * max((self.max_batch, *self.other_takes)), 64)


#: How many takes the stream buffer holds ahead of an agent.
STREAM_BUFFER_TAKES = 4


def raw_topic(app: faust.App, name: str) -> Any:
    """Topic `name` of `app` with bytes keys and values: the stages decode messages themselves."""
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def _is_broker_error(exc: BaseException) -> bool:
    """A Kafka client error (the broker or the connection), as opposed to one document's fault."""
    return type(exc).__module__.startswith(("aiokafka", "kafka"))


def faust_broker_url(settings: Settings) -> str:
    return ";".join(f"kafka://{server}" for server in settings.bootstrap_servers().split(","))


def broker_credentials(settings: Settings) -> Any:
    """Faust's form of the TLS/SASL settings (None for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings) if protocol.endswith("SSL") else None
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism, ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def make_app(settings: Settings, service: str, stream_buffer: int) -> faust.App:
    """A Faust app for `service` whose consumer group is `<group_prefix>-<service>`; each of its
    streams holds at most `stream_buffer` messages ahead of its agent."""
    return faust.App(
        f"{settings.group_prefix}-{service}",
        broker=faust_broker_url(settings),
        broker_credentials=broker_credentials(settings),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        datadir=str(Path(settings.data_dir) / service),
        web_enabled=True,
        web_bind=settings.metrics_host,
        web_host=settings.metrics_host,
        web_port=settings.port_for(service),
        broker_session_timeout=settings.session_timeout,
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_interval=settings.commit_interval,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=settings.max_message_bytes,
        consumer_max_fetch_size=settings.max_message_bytes,
        stream_buffer_maxsize=stream_buffer,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
    )


async def consume_batches(
    stream: Any, max_batch: int, max_wait: float, service: str,
    process: Callable[[Sequence[Any]], Awaitable[None]],
) -> None:
    """Feed `process` batches of events; if it fails, exit before the batch is acknowledged.

    Leaving the loop with an exception would acknowledge the batch (Faust's take_events acks
    in a `finally`), and Faust would commit offsets of documents never delivered. So the
    process exits instead, and the batch is read again by the restarted worker or another
    member of the group.
    """
    async for events in stream.take_events(max_batch, within=max_wait):
        try:
            await process(events)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                log.warning("%s: stopped in the middle of a batch of %d; it will be read again", service, len(events))
                code = 0
            else:
                log.critical("%s: batch of %d not delivered (%s: %s); exiting without committing",
                             service, len(events), type(exc).__name__, exc, exc_info=exc)
                code = EXIT_UNDELIVERED
            logging.shutdown()
            os._exit(code)


class StageWorker:
    """One service's Faust worker: the agent, the DLQ, metrics and health pages."""

    def __init__(self, spec: StageSpec, settings: Settings, model: StageModel | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.model = model if model is not None else spec.load_model()
        self.ready = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{spec.service}-model")
        self.app = make_app(settings, spec.service, spec.stream_buffer)
        self.input = raw_topic(self.app, spec.input_topic)
        self.output = raw_topic(self.app, spec.output_topic)
        self.dlq = raw_topic(self.app, settings.dlq_topic(spec.input_topic))
        self.after_batch: AfterBatch | None = spec.setup(self.app, self.model) if spec.setup else None

        self.app.agent(self.input, name=f"{spec.service}.process")(self._consume)
        self.app.timer(interval=5.0, name=f"{spec.service}.lag")(self._record_lag)
        self._add_pages()
        self.app.on_partitions_assigned.connect(self._on_assigned)

        metrics.MODEL_INFO.labels(spec.service, self.model.model_name, self.model.provider).set(1)

    # -- web pages ---------------------------------------------------------
    def _add_pages(self) -> None:
        # Faust turns a plain function into a view's GET handler, called with (view, request).
        def add(path: str) -> None:
            async def answer(view: Any, request: Any) -> Any:
                status, body, content_type = health.page(path, self.spec.service, self.ready)
                return view.bytes(body, status=status, headers={"Content-Type": content_type})

            self.app.page(path)(answer)

        for path in health.PATHS:
            add(path)

    async def _on_assigned(self, app: Any, assigned: Any = None, /, *args: Any, **kwargs: Any) -> None:
        self.ready = True

    # -- processing --------------------------------------------------------
    async def _consume(self, stream: Any) -> None:
        await consume_batches(stream, self.spec.max_batch, self.settings.max_wait, self.spec.service, self.process)

    async def _send_dlq(self, message: Any, rejection: Rejection) -> Awaitable[Any]:
        return await send_dead_letter(self.dlq, message, rejection, self.spec.service, self.settings.max_message_bytes)

    async def _predict(self, docs: list[Document]) -> list[Document | Rejection]:
        """Run the model on a batch in the model thread (heartbeats and /metrics keep answering)."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        results = await loop.run_in_executor(self._executor, predict_each, self.model, docs)
        metrics.INFERENCE_SECONDS.labels(self.spec.service, self.model.model_name, self.model.provider).observe(
            time.perf_counter() - started
        )
        metrics.BATCH_SIZE.labels(self.spec.service).observe(len(docs))
        return results

    async def process(self, events: Sequence[Any]) -> None:
        """Take in, predict, produce and wait for every output of one batch.

        One message's failure anywhere on the way becomes its dead letter; raises
        UndeliveredError only when something could not be written at all.
        """
        dead: list[tuple[Any, Rejection]] = []
        valid: list[tuple[Any, Document]] = []
        for event in events:
            message = event.message
            received_ms = message.timestamp * 1000 if message.timestamp else None
            admitted = admit(message.value, self.settings.max_text_chars, received_ms)
            if isinstance(admitted, Rejection):
                dead.append((message, admitted))
            else:
                valid.append((message, admitted))

        sent: list[tuple[Any, Document, Awaitable[Any]]] = []
        if valid:
            results = await self._predict([doc for _, doc in valid])
            for (message, _), result in zip(valid, results, strict=True):
                if isinstance(result, Rejection):
                    dead.append((message, result))
                    continue
                try:
                    mark_processed(result, self.spec.service)
                    value = encode_document(result, self.settings.output_encoding)
                    sent.append((message, result, await self.output.send(key=result.id.encode("utf-8"), value=value)))
                except TOO_LARGE as exc:
                    dead.append((message, Rejection("output_too_large", f"{type(exc).__name__}: {exc}")))
                except Exception as exc:  # encoding this one document failed: its fault alone
                    if _is_broker_error(exc):
                        raise UndeliveredError(f"output for {result.id}") from exc
                    dead.append((message, Rejection("processing_error", f"output: {type(exc).__name__}: {exc}")))

        # Wait for the broker to acknowledge every output before Faust acks the inputs.
        delivered: list[Document] = []
        for message, doc, ack in sent:
            try:
                await ack
            except TOO_LARGE as exc:
                dead.append((message, Rejection("output_too_large", f"{type(exc).__name__}: {exc}")))
                continue
            except Exception as exc:
                raise UndeliveredError(f"output for {doc.id}") from exc
            delivered.append(doc)
        pending = [await self._send_dlq(message, rejection) for message, rejection in dead]
        if self.after_batch is not None and delivered:
            pending.extend(await self.after_batch(delivered))
        try:
            await asyncio.gather(*pending)
        except Exception as exc:
            raise UndeliveredError("dead letters or claim outputs of a batch") from exc
        now = time.time()
        for doc in delivered:
            latency = now - doc.ingested_at.ToMilliseconds() / 1000
            metrics.STAGE_LATENCY.labels(self.spec.service).observe(max(0.0, latency))
        metrics.MESSAGES.labels(self.spec.service, "ok").inc(len(delivered))

    async def _record_lag(self) -> None:
        consumer = self.app.consumer
        for tp in consumer.assignment():
            if tp.topic != self.spec.input_topic:
                continue
            # Typed as int, but None until the first fetch of the partition has returned.
            highwater: int | None = consumer.highwater(tp)
            # Faust keeps the committed offsets privately; the public position() is the fetch
            # position, which runs ahead of processing.
            committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # noqa: SLF001
            if highwater is None:
                continue
            lag = highwater - (committed if committed is not None else 0)
            metrics.CONSUMER_LAG.labels(self.spec.service, tp.topic, str(tp.partition)).set(max(0, lag))

    def run(self) -> None:
        """Run the worker until SIGINT/SIGTERM (blocks)."""
        ensure_topics(self.settings)
        Path(self.settings.data_dir, self.spec.service).mkdir(parents=True, exist_ok=True)
        log.info(
            "%s: model %s on %s; %s -> %s; metrics on http://%s:%d/metrics",
            self.spec.service, self.model.model_name, self.model.provider, self.spec.input_topic,
            self.spec.output_topic, self.settings.metrics_host, self.settings.port_for(self.spec.service),
        )
        # Faust keeps the process's logging (core/logs.py) instead of installing its own format, and
        # prints nothing by itself (no spinner, no "-INT-" on Ctrl-C): every line is a log record.
        worker = faust.Worker(self.app, redirect_stdouts=False, override_logging=False, quiet=True)
        worker.spinner = None  # so Faust logs "Ready" rather than printing "OK ^"
        try:
            worker.execute_from_commandline()
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self.model.close()


def serve(spec: StageSpec, settings: Settings) -> None:
    """Load the model (failing fast with a clear message), warm it up, and run the worker."""
    model = spec.load_model()
    model.warmup()
    StageWorker(spec, settings, model).run()
