"""The gRPC gateway against the embedded broker, called with a real grpcio client."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from claimstream.core.schema import Claim, ClaimGroup, Document, Language, decode_document
from claimstream.core.settings import Settings, SettingsError
from claimstream.gateway.server import start_gateway, start_health_server
from claimstream.kafka.clients import ensure_topics, make_consumer, make_producer, read_to_end
from claimstream.local.broker import EmbeddedBroker, free_port
from claimstream.runtime.pipeline import Pipeline
from claimstream.v1.gateway_pb2 import IngestSummary, WatchEvent, WatchRequest
from claimstream.v1.gateway_pb2_grpc import GatewayStub
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from kafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError, TopicAuthorizationFailedError
from kafka.future import Future

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024  # grpc_max_message_bytes in these tests


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    with EmbeddedBroker(port=0) as broker:
        settings = Settings(bootstrap=broker.bootstrap, grpc_port=0, max_text_chars=2000,
                            grpc_max_message_bytes=LIMIT, partitions=2)
        ensure_topics(settings, create=True)
        yield settings


@pytest.fixture(scope="module")
def pipeline(settings: Settings) -> Pipeline:
    try:
        return Pipeline.load(settings, stages=["langid"])
    except ModuleNotFoundError:
        pytest.skip("the langid stage is not installed")


@pytest.fixture(scope="module")
def channel(settings: Settings, pipeline: Pipeline) -> Iterator[grpc.Channel]:
    server, port = start_gateway(settings, pipeline)
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 8 * LIMIT)]) as ch:
        yield ch
    server.stop(grace=None)


def read_topic(settings: Settings, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = make_consumer(settings, [topic], from_beginning=True, consumer_timeout_ms=5000)
    try:
        found: list[tuple[bytes, bytes]] = []
        for record in consumer:
            found.append((record.key, record.value))
            if len(found) == count:
                break
        return found
    finally:
        consumer.close()


def test_ingest_produces_valid_documents_and_counts_the_rest_by_reason(
    settings: Settings, channel: grpc.Channel
) -> None:
    good = [Document(id=f"doc-{i}", text=f"Flood displaces {i * 1000} people in Assam.") for i in range(3)]
    no_id = Document(text="Un texto sin identificador.")
    requests = [
        good[0].SerializeToString(),
        Document(id="blank", text="   ").SerializeToString(),
        good[1].SerializeToString(),
        Document(id="huge", text="x" * 2001).SerializeToString(),
        b"\xff\xff\xff\xff",  # not a protobuf message
        good[2].SerializeToString(),
        no_id.SerializeToString(),
    ]
    # The raw-bytes method lets the test send what a broken client would.
    ingest = channel.stream_unary("/claimstream.v1.Gateway/Ingest", response_deserializer=IngestSummary.FromString)
    summary = ingest(iter(requests), timeout=30)

    assert summary.accepted == 4
    assert summary.rejected == 3
    assert dict(summary.rejected_by_reason) == {"empty_text": 1, "text_too_large": 1, "invalid_protobuf": 1}
    assert [(r.index, r.id, r.reason) for r in summary.rejections] == [
        (1, "blank", "empty_text"), (3, "huge", "text_too_large"), (4, "", "invalid_protobuf"),
    ]
    assert summary.topic == settings.topic_ingest

    produced = read_topic(settings, settings.topic_ingest, 4)
    docs = {key.decode(): decode_document(value) for key, value in produced}
    assert set(docs) >= {"doc-0", "doc-1", "doc-2"}
    assert docs["doc-1"].text == good[1].text
    assert docs["doc-1"].HasField("ingested_at")
    derived = [key for key in docs if key.startswith("sha256-")]
    assert len(derived) == 1 and docs[derived[0]].text == no_id.text


def test_enrich_runs_the_pipeline_in_process(channel: grpc.Channel) -> None:
    stub = GatewayStub(channel)
    doc = stub.Enrich(
        Document(id="de-1", text="Das Hochwasser hat mehr als zwanzigtausend Menschen aus ihren Häusern vertrieben."),
        timeout=30,
    )
    assert doc.id == "de-1"
    assert doc.language.code == "de"
    assert "langid" in doc.processed_at
    assert doc.content_hash


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (Document(id="e", text="").SerializeToString(), "empty_text"),
        (Document(id="t", text="y" * 2001).SerializeToString(), "text_too_large"),
        (b"\x0a\xff", "not a valid claimstream.v1.Document"),
        (Document(id="big", text="z" * (LIMIT + 10)).SerializeToString(), "CLAIMSTREAM_GRPC_MAX_MESSAGE_BYTES"),
        # Over twice the limit, where gRPC's own receive cap used to answer RESOURCE_EXHAUSTED.
        (Document(id="3x", text="z" * (3 * LIMIT)).SerializeToString(), f"the gateway accepts at most {LIMIT:,}"),
    ],
    ids=["empty", "too-long-text", "malformed", "over-message-limit", "three-times-the-limit"],
)
def test_enrich_refuses_bad_requests_with_invalid_argument(
    channel: grpc.Channel, request_bytes: bytes, expected: str
) -> None:
    enrich = channel.unary_unary("/claimstream.v1.Gateway/Enrich", response_deserializer=Document.FromString)
    with pytest.raises(grpc.RpcError) as caught:
        enrich(request_bytes, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in caught.value.details()


def test_watch_streams_new_documents_of_the_requested_language(settings: Settings, channel: grpc.Channel) -> None:
    stub = GatewayStub(channel)
    stream = stub.Watch(WatchRequest(stream=WatchRequest.DOCUMENTS, languages=["de"]), timeout=30)
    stream.initial_metadata()  # the server has fixed its start position: what we produce now is seen
    producer = make_producer(settings)
    for doc_id, lang in [("w-fr", "fr"), ("w-de", "de")]:
        doc = Document(id=doc_id, text="...", language=Language(code=lang))
        producer.send(settings.topic_enriched, key=doc_id.encode(), value=doc.SerializeToString())
    producer.flush(10)
    producer.close()
    event = next(stream)
    stream.cancel()
    assert event.document.id == "w-de"
    assert event.topic == settings.topic_enriched


def test_watch_replays_claim_groups_filtered_by_key(settings: Settings, channel: grpc.Channel) -> None:
    producer = make_producer(settings)
    for key in ["people_displaced|assam", "deaths|assam"]:
        group = ClaimGroup(key=key, predicate=key.split("|")[0], languages=["hi", "en"], doc_ids=["a", "b"])
        producer.send(settings.topic_groups, key=key.encode(), value=group.SerializeToString())
    doc = Document(id="with-claim", text="...", claims=[Claim(key="deaths|assam")])
    producer.send(settings.topic_enriched, key=b"with-claim", value=doc.SerializeToString())
    producer.flush(10)
    producer.close()

    stub = GatewayStub(channel)
    groups = stub.Watch(
        WatchRequest(stream=WatchRequest.CLAIM_GROUPS, claim_keys=["deaths|assam"], from_beginning=True), timeout=30
    )
    first: WatchEvent = next(groups)
    groups.cancel()
    assert first.group.key == "deaths|assam" and list(first.group.languages) == ["hi", "en"]

    docs = stub.Watch(WatchRequest(claim_keys=["deaths|assam"], from_beginning=True), timeout=30)
    found = next(docs)
    docs.cancel()
    assert found.document.id == "with-claim"


def test_watch_of_a_missing_topic_says_how_to_create_it(settings: Settings) -> None:
    server, port = start_gateway(settings.replace(topic_enriched="no.such.topic"))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.RpcError) as caught:
                next(GatewayStub(ch).Watch(WatchRequest(), timeout=30))
    finally:
        server.stop(grace=None)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "claimstream topics create" in caught.value.details()


def test_ingest_without_a_broker_is_unavailable(settings: Settings) -> None:
    server, port = start_gateway(settings.replace(bootstrap=f"127.0.0.1:{free_port()}"))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.RpcError) as caught:
                GatewayStub(ch).Ingest(iter([Document(id="a", text="hello")]), timeout=30)
    finally:
        server.stop(grace=None)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "CLAIMSTREAM_BOOTSTRAP" in caught.value.details()


def test_health_and_reflection_are_served(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "claimstream.v1.Gateway"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert {"claimstream.v1.Gateway", "grpc.health.v1.Health"} <= set(services)


def test_http_health_pages(settings: Settings) -> None:
    ready = {"now": False}
    local = settings.replace(metrics_port=free_port())
    httpd = start_health_server(local, lambda: ready["now"])
    base = f"http://127.0.0.1:{local.metrics_port}"
    try:
        assert urllib.request.urlopen(base + "/healthz", timeout=5).status == 200
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(base + "/readyz", timeout=5)
        assert not_ready.value.code == 503
        ready["now"] = True
        assert urllib.request.urlopen(base + "/readyz", timeout=5).status == 200
        assert b"claimstream_messages_total" in urllib.request.urlopen(base + "/metrics", timeout=5).read()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_prober_that_gives_up_leaves_no_traceback(settings: Settings, capfd: pytest.CaptureFixture[str]) -> None:
    # `up` probes /readyz with a 0.2 s timeout while the gateway loads its models; a probe that
    # hangs up before the answer is written must not print a BrokenPipe traceback.
    import socket
    import struct
    import threading

    answering = threading.Event()

    def slow_ready() -> bool:
        answering.set()
        time.sleep(0.3)
        return False

    local = settings.replace(metrics_port=free_port())
    httpd = start_health_server(local, slow_ready)
    try:
        for _ in range(3):
            answering.clear()
            probe = socket.create_connection(("127.0.0.1", local.metrics_port), timeout=5)
            probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answering.wait(5)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # hang up hard
            probe.close()
            time.sleep(0.5)  # the answer is written to nobody
        assert urllib.request.urlopen(f"http://127.0.0.1:{local.metrics_port}/healthz", timeout=5).status == 200
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception occurred" not in err, err


# ---- capacity, deadlines and sizes ------------------------------------------------------------------------------

def keys_in(settings: Settings, topic: str) -> set[str]:
    """Every key in `topic` now: read from the beginning up to the end offsets."""
    return {r.key.decode() for r in read_to_end(settings, [topic], idle_timeout=20) if r.key}


def wait_for_key(settings: Settings, topic: str, key: str, timeout: float = 20.0) -> None:
    consumer = make_consumer(settings, [topic], from_beginning=True)
    try:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            for records in consumer.poll(timeout_ms=200).values():
                if any(r.key == key.encode() for r in records):
                    return
    finally:
        consumer.close()
    raise AssertionError(f"{key} did not reach {topic} within {timeout} s")


def open_watch(stub: GatewayStub, timeout: float) -> tuple[Any, grpc.RpcError | None]:
    """A Watch stream once the gateway answered it: (stream, None) when open, (stream, error) when refused."""
    stream = stub.Watch(WatchRequest(), timeout=timeout)
    if "claimstream-topic" in dict(stream.initial_metadata() or ()):
        return stream, None
    with pytest.raises(grpc.RpcError) as refused:
        next(stream)
    return stream, refused.value


def open_when_admitted(stub: GatewayStub, within: float) -> Any:
    """A Watch stream, retried while the gateway refuses it for being full, for `within` seconds at most."""
    give_up = time.monotonic() + within
    while True:
        stream, refused = open_watch(stub, timeout=60)
        if refused is None:
            return stream
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused.details()
        assert time.monotonic() < give_up, "a Watch stream that ended still holds its place"
        time.sleep(0.1)


def test_idle_watch_streams_cannot_starve_health_checks_ingest_or_enrich(
    settings: Settings, pipeline: Pipeline
) -> None:
    # 4 worker threads: at most 2 Watch streams (half), at most 3 gateway calls (one worker kept for health).
    local = settings.replace(grpc_max_workers=4)
    server, port = start_gateway(local, pipeline)
    resume = threading.Event()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub, health = GatewayStub(ch), health_pb2_grpc.HealthStub(ch)
            first, refused = open_watch(stub, timeout=60)
            assert refused is None
            second, refused = open_watch(stub, timeout=60)
            assert refused is None
            # As many idle streams as there are workers took the whole pool before: now the rest are refused.
            for _ in range(2):
                _stream, refused = open_watch(stub, timeout=20)
                assert refused is not None and refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "Watch refused" in refused.details()
                assert "CLAIMSTREAM_GRPC_MAX_WATCH_STREAMS=2" in refused.details()

            serving = health_pb2.HealthCheckResponse.SERVING
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == serving
            enriched = stub.Enrich(Document(id="busy-1", text="The river burst its banks overnight."), timeout=10)
            assert enriched.language.code == "en"
            assert stub.Ingest(iter([Document(id="busy-2", text="Roads were closed.")]), timeout=10).accepted == 1

            # A slow Ingest takes the last worker gateway calls may have: Enrich is refused, health still answers.
            def slow() -> Iterator[Document]:
                yield Document(id="busy-slow", text="Schools are shut until Monday.")
                resume.wait(30)

            pending = stub.Ingest.future(slow(), timeout=30)
            wait_for_key(local, local.topic_ingest, "busy-slow")
            with pytest.raises(grpc.RpcError) as caught:
                stub.Enrich(Document(id="busy-3", text="More rain is expected."), timeout=10)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "at capacity" in caught.value.details() and "CLAIMSTREAM_GRPC_MAX_WORKERS" in caught.value.details()
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == serving
            resume.set()
            assert pending.result(timeout=30).accepted == 1

            # A cancelled stream gives its place back...
            first.cancel()
            replacement = open_when_admitted(stub, within=10)
            # ...and so does one whose caller's deadline passed.
            second.cancel()
            expiring, refused = open_watch(stub, timeout=2)
            assert refused is None
            _stream, refused = open_watch(stub, timeout=20)
            assert refused is not None and refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            with pytest.raises(grpc.RpcError) as expired:
                next(expiring)
            assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            open_when_admitted(stub, within=10).cancel()
            replacement.cancel()
    finally:
        resume.set()
        server.stop(grace=None)


def test_as_many_idle_watch_streams_as_default_workers_leave_the_gateway_responsive(
    settings: Settings, pipeline: Pipeline
) -> None:
    defaults = Settings()
    local = settings.replace(grpc_max_workers=defaults.grpc_max_workers,
                             grpc_max_watch_streams=defaults.grpc_max_watch_streams)
    server, port = start_gateway(local, pipeline)
    streams = []
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = GatewayStub(ch)
            answers = [open_watch(stub, timeout=60) for _ in range(local.grpc_max_workers)]
            streams = [stream for stream, _refused in answers]
            refused = [error for _stream, error in answers if error is not None]
            assert len(refused) == local.grpc_max_workers // 2
            assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
            assert "CLAIMSTREAM_GRPC_MAX_WATCH_STREAMS=8" in refused[0].details()
            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            assert stub.Enrich(Document(id="idle-1", text="The bridge has reopened."), timeout=10).language.code
            assert stub.Ingest(iter([Document(id="idle-2", text="Trains run again.")]), timeout=10).accepted == 1
    finally:
        for stream in streams:
            stream.cancel()
        server.stop(grace=None)


def test_ingest_ends_at_the_server_deadline_while_a_slow_client_is_still_sending(settings: Settings) -> None:
    local = settings.replace(grpc_deadline=2.0)
    server, port = start_gateway(local)
    resume = threading.Event()

    def stalling() -> Iterator[Document]:
        yield Document(id="stall-0", text="The first report arrived.")
        yield Document(id="stall-1", text="So did the second.")
        resume.wait(8)  # the client stalls past the gateway's 2 s deadline (its own is 30 s)
        yield Document(id="stall-2", text="This one comes too late.")

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.RpcError) as caught:
                GatewayStub(ch).Ingest(stalling(), timeout=30)
    finally:
        resume.set()
        server.stop(grace=None)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    details = caught.value.details()
    assert "the gateway's deadline of 2 s (CLAIMSTREAM_GRPC_DEADLINE)" in details
    assert "read 2 documents (indexes 0-1) and produced 2: the broker acknowledged 2" in details
    assert "it produced nothing after index 1" in details
    keys = keys_in(local, local.topic_ingest)
    assert {"stall-0", "stall-1"} <= keys and "stall-2" not in keys
    # The thread that waited for the client's next message ended with the call.
    give_up = time.monotonic() + 10
    while any(t.name == "gateway-ingest-reader" for t in threading.enumerate()):
        assert time.monotonic() < give_up, "the Ingest reader thread outlived its call"
        time.sleep(0.05)


def test_a_document_just_under_the_gateway_limit_that_kafka_cannot_take_is_invalid_argument(
    settings: Settings,
) -> None:
    # As by default, Kafka's message limit equals the gateway's request limit: this document fits the
    # gateway's, but not Kafka's once the gateway has added its content hash and ingest time.
    local = settings.replace(max_message_bytes=LIMIT, max_text_chars=LIMIT)
    near = Document(id="near-limit", text="n" * (LIMIT - 40))
    assert len(near.SerializeToString()) <= LIMIT
    stream = [Document(id="before-near", text="A small one first."), near, Document(id="after-near", text="Then.")]
    server, port = start_gateway(local)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 8 * LIMIT)]) as ch:
            with pytest.raises(grpc.RpcError) as caught:
                GatewayStub(ch).Ingest(iter(stream), timeout=30)
    finally:
        server.stop(grace=None)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    assert "document 1 (near-limit) is too large for Kafka" in details
    assert f"Kafka takes at most {LIMIT:,} bytes (CLAIMSTREAM_MAX_MESSAGE_BYTES)" in details
    assert "cannot succeed" in details and "send the stream again" not in details.lower()
    assert "Before that, the gateway read 2 documents (indexes 0-1) and produced 1: the broker acknowledged 1" \
        in details
    keys = keys_in(local, local.topic_ingest)
    assert "before-near" in keys and not {"near-limit", "after-near"} & keys


class BrokerWithALowerLimit:
    """The real producer, except that it fails a message over `limit` with `error`, as a broker would.

    A broker whose message.max.bytes is below the producer's max_request_size refuses a large
    message only in its produce response; the embedded (Tansu) broker enforces no size limit, so
    this stands in for that response. The future fails at once, so the test knows what was read.
    """

    def __init__(self, settings: Settings, limit: int, error: KafkaError) -> None:
        self._producer = make_producer(settings)
        self._limit = limit
        self._error = error

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        if len(value) > self._limit:
            return Future().failure(self._error)
        return self._producer.send(topic, key=key, value=value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


@pytest.mark.parametrize(
    ("error", "code", "expected"),
    [
        (MessageSizeTooLargeError(), grpc.StatusCode.INVALID_ARGUMENT, "the broker refused it ([Error 10] Message"),
        (KafkaTimeoutError("Batch for docs.ingest-0 containing 1 record(s) expired"), grpc.StatusCode.UNAVAILABLE,
         "Send the stream again"),
        (TopicAuthorizationFailedError(), grpc.StatusCode.FAILED_PRECONDITION, "sending it again does not change"),
    ],
    ids=["too-large", "transient", "not-authorized"],
)
def test_a_produce_failure_is_unavailable_only_when_sending_again_can_help(
    settings: Settings, error: KafkaError, code: grpc.StatusCode, expected: str
) -> None:
    local = settings.replace(max_text_chars=LIMIT)
    factory: Callable[[Settings], Any] = lambda s: BrokerWithALowerLimit(s, 10_000, error)  # noqa: E731
    server, port = start_gateway(local, producer_factory=factory)
    name = f"broker-{code.name.lower()}"
    stream = [Document(id=f"{name}-0", text="Small enough."), Document(id=f"{name}-big", text="b" * 20_000)]
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.RpcError) as caught:
                GatewayStub(ch).Ingest(iter(stream), timeout=30)
    finally:
        server.stop(grace=None)
    assert caught.value.code() == code
    details = caught.value.details()
    assert expected in details and f"document 1 ({name}-big)" in details
    assert "read 2 documents (indexes 0-1) and produced 2: the broker acknowledged 1" in details
    assert "1 failed" in details
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert re.search(r"20,\d{3} bytes as a Kafka message", details)  # its size with what the gateway adds
        assert f"the gateway's own limit is {local.max_message_bytes:,} bytes" in details
        assert "send the stream again" not in details.lower()


def test_oversized_requests_get_invalid_argument_up_to_the_hard_cap(channel: grpc.Channel) -> None:
    ingest = channel.stream_unary("/claimstream.v1.Gateway/Ingest", response_deserializer=IngestSummary.FromString)
    big = Document(id="size-3x", text="z" * (3 * LIMIT))
    summary = ingest(iter([Document(id="size-a", text="Before it.").SerializeToString(), big.SerializeToString(),
                           Document(id="size-b", text="After it.").SerializeToString()]), timeout=30)
    assert summary.accepted == 2 and dict(summary.rejected_by_reason) == {"text_too_large": 1}
    assert summary.rejections[0].index == 1 and "CLAIMSTREAM_GRPC_MAX_MESSAGE_BYTES" in summary.rejections[0].detail

    # Over the hard cap (grpc_max_receive_bytes, here 0: four times the limit) gRPC refuses it itself.
    enrich = channel.unary_unary("/claimstream.v1.Gateway/Enrich", response_deserializer=Document.FromString)
    with pytest.raises(grpc.RpcError) as caught:
        enrich(Document(id="size-5x", text="z" * (5 * LIMIT)).SerializeToString(), timeout=30)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"vs. {4 * LIMIT}" in caught.value.details()


def test_a_40_mib_request_under_the_default_limits_gets_invalid_argument(settings: Settings) -> None:
    defaults = Settings()
    local = settings.replace(grpc_max_message_bytes=defaults.grpc_max_message_bytes,
                             grpc_max_receive_bytes=defaults.grpc_max_receive_bytes)
    server, port = start_gateway(local)  # no pipeline: the size is refused before one would load
    huge = Document(id="huge", text="h" * (40 * 1024 * 1024)).SerializeToString()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            enrich = ch.unary_unary("/claimstream.v1.Gateway/Enrich", response_deserializer=Document.FromString)
            with pytest.raises(grpc.RpcError) as caught:
                enrich(huge, timeout=60)
    finally:
        server.stop(grace=None)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"the message is {len(huge):,} bytes; the gateway accepts at most 16,777,216" in caught.value.details()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"grpc_max_receive_bytes": LIMIT}, "CLAIMSTREAM_GRPC_MAX_RECEIVE_BYTES"),
        ({"grpc_max_workers": 4, "grpc_max_watch_streams": 3}, "CLAIMSTREAM_GRPC_MAX_WATCH_STREAMS"),
        ({"grpc_max_workers": 2}, "CLAIMSTREAM_GRPC_MAX_WORKERS"),
    ],
    ids=["hard-cap-not-above-limit", "watches-leave-no-worker", "too-few-workers"],
)
def test_limits_the_gateway_cannot_keep_are_refused_at_start(
    settings: Settings, changes: dict[str, int], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        start_gateway(settings.replace(**changes))
