"""The gRPC gateway against the embedded broker, called with a real grpcio client."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from claimstream.core.broker import EmbeddedBroker, free_port
from claimstream.core.kafka import ensure_topics, make_consumer, make_producer
from claimstream.core.pipeline import Pipeline
from claimstream.core.schema import Claim, ClaimGroup, Document, Language, decode_document
from claimstream.core.settings import Settings
from claimstream.gateway.server import start_gateway, start_health_server
from claimstream.v1.gateway_pb2 import IngestSummary, WatchEvent, WatchRequest
from claimstream.v1.gateway_pb2_grpc import GatewayStub
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024  # grpc_max_message_bytes in these tests


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    with EmbeddedBroker(port=0) as broker:
        settings = Settings(bootstrap=broker.bootstrap, grpc_port=0, max_text_chars=2000,
                            grpc_max_message_bytes=LIMIT, partitions=2)
        ensure_topics(settings)
        yield settings


@pytest.fixture(scope="module")
def channel(settings: Settings) -> Iterator[grpc.Channel]:
    try:
        pipeline = Pipeline.load(settings, stages=["langid"])
    except ModuleNotFoundError:
        pytest.skip("the langid stage is not installed")
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
    ],
    ids=["empty", "too-long-text", "malformed", "over-message-limit"],
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
