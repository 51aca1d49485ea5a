"""Live means from now: `tail` without --from-beginning and the gateway's live Watch show only what is written
after the call, never records that were already there (on the embedded broker, whose ListOffsets answer
points at the start of a partition's last record batch, so seeking there alone replays that batch)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import grpc
import pytest
from claimstream.core.schema import Document, Language, encode_document
from claimstream.core.settings import Settings
from claimstream.kafka.clients import ensure_topics, make_producer
from claimstream.local.broker import EmbeddedBroker

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def settings():
    with EmbeddedBroker(port=0) as broker:
        settings = Settings(bootstrap=broker.bootstrap, partitions=2, grpc_port=0)
        ensure_topics(settings, create=True)
        yield settings


def write_old(settings: Settings, topic: str, prefix: str, count: int = 60) -> None:
    """`count` documents in as few record batches as the producer makes (not acknowledged one by one)."""
    producer = make_producer(settings, linger_ms=50)
    for i in range(count):
        doc = Document(id=f"{prefix}-{i}", text="written before the call", language=Language(code="de"))
        producer.send(topic, key=doc.id.encode(), value=encode_document(doc, "json"))
    producer.flush(30)
    producer.close()


def keep_writing_new(
    settings: Settings, topic: str, prefix: str, until: Callable[[], bool], timeout: float = 60
) -> int:
    """Write one new document at a time until `until()` says the reader has shown enough; return how many."""
    producer = make_producer(settings)
    sent = 0
    deadline = time.monotonic() + timeout
    try:
        while not until() and time.monotonic() < deadline:
            doc = Document(id=f"{prefix}-{sent}", text="written after the call", language=Language(code="de"))
            producer.send(topic, key=doc.id.encode(), value=encode_document(doc, "json")).get(10)
            sent += 1
            time.sleep(0.3)
    finally:
        producer.close()
    return sent


def test_tail_without_from_beginning_shows_only_records_written_after_it_started(settings):
    write_old(settings, settings.topic_langid, "old-tail")
    tail = subprocess.Popen(
        [sys.executable, "-m", "claimstream.cli", "tail", settings.topic_langid, "--bootstrap", settings.bootstrap,
         "--count", "3", "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        assert keep_writing_new(settings, settings.topic_langid, "new-tail", lambda: tail.poll() is not None)
        out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, err
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert len(ids) == 3 and all(i.startswith("new-tail-") for i in ids), ids

    # --from-beginning still starts at the oldest record.
    first = subprocess.run(
        [sys.executable, "-m", "claimstream.cli", "tail", settings.topic_langid, "--bootstrap", settings.bootstrap,
         "--from-beginning", "--timeout", "3"], capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert {json.loads(line)["id"] for line in first.stdout.splitlines()} >= {f"old-tail-{i}" for i in range(60)}


def test_tail_of_a_topic_that_does_not_exist_says_so(settings):
    result = subprocess.run(
        [sys.executable, "-m", "claimstream.cli", "tail", "docs.nope", "--bootstrap", settings.bootstrap,
         "--timeout", "1"], capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2
    assert "topic 'docs.nope' does not exist" in result.stderr and "Traceback" not in result.stderr


def test_live_watch_shows_only_documents_written_after_it_started(settings):
    from claimstream.gateway.server import start_gateway
    from claimstream.v1.gateway_pb2 import WatchRequest
    from claimstream.v1.gateway_pb2_grpc import GatewayStub

    write_old(settings, settings.topic_enriched, "old-watch")
    server, port = start_gateway(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stream = GatewayStub(channel).Watch(WatchRequest(stream=WatchRequest.DOCUMENTS), timeout=60)
            stream.initial_metadata()  # the gateway has fixed where the watch starts
            seen: list[str] = []

            def read() -> None:
                for event in stream:
                    seen.append(event.document.id)
                    if len(seen) == 3:
                        break

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert keep_writing_new(settings, settings.topic_enriched, "new-watch", lambda: len(seen) >= 3)
            reader.join(10)
            stream.cancel()
    finally:
        server.stop(grace=None)
    assert len(seen) >= 3 and all(i.startswith("new-watch-") for i in seen), seen
