"""What the gateway's /metrics shows about its gRPC calls: how many ended with each status code, per method,
how long they took, and how many are in progress.

The metrics registry is the process's, shared with every other test, so each test compares a scrape after its
calls with one before them.
"""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import pytest
from claimstream.core.schema import Document
from claimstream.core.settings import Settings
from claimstream.gateway.server import start_gateway, start_health_server
from claimstream.kafka.clients import ensure_topics
from claimstream.local.broker import EmbeddedBroker, free_port
from claimstream.runtime.pipeline import Pipeline
from claimstream.v1.gateway_pb2 import WatchRequest
from claimstream.v1.gateway_pb2_grpc import GatewayStub
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

INGEST = "claimstream.v1.Gateway/Ingest"
ENRICH = "claimstream.v1.Gateway/Enrich"
WATCH = "claimstream.v1.Gateway/Watch"


@dataclass
class GrpcSeries:
    """The claimstream_grpc_* series of service="gateway" in one scrape (or the change between two)."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, code): calls ended
    timed: Counter[str] = field(default_factory=Counter)  # method: calls in the histogram (its _count)
    in_flight: Counter[str] = field(default_factory=Counter)  # method: calls in progress

    def __sub__(self, before: GrpcSeries) -> GrpcSeries:
        methods = self.in_flight.keys() | before.in_flight.keys()
        return GrpcSeries(
            self.calls - before.calls,
            self.timed - before.timed,
            Counter({method: self.in_flight[method] - before.in_flight[method] for method in methods}),
        )


def scrape(url: str) -> GrpcSeries:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    found = GrpcSeries()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("service") != "gateway":
                continue
            if sample.name == "claimstream_grpc_requests_total":
                found.calls[labels["method"], labels["code"]] = int(sample.value)
            elif sample.name == "claimstream_grpc_request_seconds_count":
                found.timed[labels["method"]] = int(sample.value)
            elif sample.name == "claimstream_grpc_in_flight":
                found.in_flight[labels["method"]] = int(sample.value)
    return found


def scrape_until(url: str, before: GrpcSeries, ended: Counter[tuple[str, str]], within: float = 15.0) -> GrpcSeries:
    """The change since `before`, once the `ended` calls are counted in it.

    gRPC ends a cancelled or expired call on a thread of its own, a moment after the
    client saw it end, so the scrape is repeated until the call shows (or `within` s pass).
    """
    end = time.monotonic() + within
    while True:
        delta = scrape(url) - before
        if not ended - delta.calls or time.monotonic() > end:
            return delta
        time.sleep(0.1)


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    with EmbeddedBroker(port=0) as broker:
        # One Watch stream at most, so a second one is refused with RESOURCE_EXHAUSTED.
        settings = Settings(bootstrap=broker.bootstrap, grpc_port=0, metrics_port=free_port(), max_text_chars=2000,
                            grpc_max_workers=4, grpc_max_watch_streams=1)
        ensure_topics(settings, create=True)
        yield settings


@pytest.fixture(scope="module")
def metrics_url(settings: Settings) -> Iterator[str]:
    httpd = start_health_server(settings, lambda: True)
    yield f"http://127.0.0.1:{settings.metrics_port}/metrics"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def channel(settings: Settings) -> Iterator[grpc.Channel]:
    try:
        pipeline = Pipeline.load(settings, stages=["langid"])
    except ModuleNotFoundError:
        pytest.skip("the langid stage is not installed")
    server, port = start_gateway(settings, pipeline)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(grace=None)


def test_calls_are_counted_by_method_and_status_code_and_timed(channel: grpc.Channel, metrics_url: str) -> None:
    stub = GatewayStub(channel)
    before = scrape(metrics_url)

    assert stub.Enrich(Document(id="m-1", text="Flood displaces 2,000 people in Assam."), timeout=30).id == "m-1"
    with pytest.raises(grpc.RpcError) as empty:
        stub.Enrich(Document(id="m-2", text=""), timeout=30)
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert stub.Ingest(iter([Document(id="m-3", text="Flood in Assam.")]), timeout=30).accepted == 1
    watch = stub.Watch(WatchRequest(), timeout=60)
    watch.initial_metadata()  # the stream is open on the server
    watch.cancel()
    with pytest.raises(grpc.RpcError) as cancelled:
        next(watch)
    assert cancelled.value.code() == grpc.StatusCode.CANCELLED

    delta = scrape_until(metrics_url, before, Counter({(WATCH, "CANCELLED"): 1}))
    assert delta.calls == {
        (ENRICH, "OK"): 1, (ENRICH, "INVALID_ARGUMENT"): 1, (INGEST, "OK"): 1, (WATCH, "CANCELLED"): 1,
    }
    assert delta.timed == {ENRICH: 2, INGEST: 1, WATCH: 1}
    assert delta.in_flight[WATCH] == 0 and delta.in_flight[ENRICH] == 0


def test_an_open_watch_is_in_flight_and_a_watch_past_its_deadline_is_deadline_exceeded(
    channel: grpc.Channel, metrics_url: str
) -> None:
    before = scrape(metrics_url)
    watch = GatewayStub(channel).Watch(WatchRequest(), timeout=2)
    watch.initial_metadata()
    assert (scrape(metrics_url) - before).in_flight[WATCH] == 1
    with pytest.raises(grpc.RpcError) as expired:
        next(watch)
    assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    delta = scrape_until(metrics_url, before, Counter({(WATCH, "DEADLINE_EXCEEDED"): 1}))
    assert delta.calls == {(WATCH, "DEADLINE_EXCEEDED"): 1}
    assert delta.timed == {WATCH: 1}
    assert delta.in_flight[WATCH] == 0


def test_a_watch_over_the_stream_limit_is_resource_exhausted(channel: grpc.Channel, metrics_url: str) -> None:
    stub = GatewayStub(channel)
    before = scrape(metrics_url)
    first = stub.Watch(WatchRequest(), timeout=60)
    first.initial_metadata()
    with pytest.raises(grpc.RpcError) as refused:
        next(stub.Watch(WatchRequest(), timeout=30))
    first.cancel()
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    delta = scrape_until(metrics_url, before, Counter({(WATCH, "CANCELLED"): 1}))
    assert delta.calls == {(WATCH, "RESOURCE_EXHAUSTED"): 1, (WATCH, "CANCELLED"): 1}


def test_a_missing_topic_and_an_unexpected_error_end_with_their_codes(settings: Settings, metrics_url: str) -> None:
    def broken_producer(_settings: Settings) -> KafkaProducer:
        raise RuntimeError("a bug in the producer factory")

    before = scrape(metrics_url)
    server, port = start_gateway(settings.replace(topic_enriched="no.such.topic"), producer_factory=broken_producer)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = GatewayStub(ch)
            with pytest.raises(grpc.RpcError) as missing:
                next(stub.Watch(WatchRequest(), timeout=30))
            with pytest.raises(grpc.RpcError) as bug:
                stub.Ingest(iter([Document(id="u", text="hello")]), timeout=30)
    finally:
        server.stop(grace=None)
    assert (missing.value.code(), bug.value.code()) == (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNKNOWN)

    delta = scrape(metrics_url) - before
    assert delta.calls == {(WATCH, "NOT_FOUND"): 1, (INGEST, "UNKNOWN"): 1}
    assert delta.timed == {WATCH: 1, INGEST: 1}
