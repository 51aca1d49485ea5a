"""langid over a real (embedded) broker: docs.ingest -> docs.langid, DLQ, crash recovery."""

from __future__ import annotations

import json
import signal
import time

import pytest
from claimstream.core.schema import Document, decode_document
from claimstream.kafka.clients import make_producer
from claimstream.local.broker import free_port
from claimstream.local.launcher import LocalPipeline

from tests.conftest import collect, stream_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

HINDI = "असम में बाढ़ के कारण लगभग बीस हज़ार लोगों को अपने घर छोड़कर राहत शिविरों में जाना पड़ा है।"
PERSIAN = "سیل در ایالت آسام هند حدود ۲۰،۰۰۰ نفر را آواره کرد و دولت برای کمک به آسیب‌دیدگان اقدام کرد."
ENGLISH = "Officials said about 18,000 people were displaced by the floods in Assam on Thursday."


@pytest.fixture
def langid(tmp_path):
    settings = stream_settings(tmp_path)
    with LocalPipeline(settings, ["langid"], log_dir=tmp_path / "logs", ports={"langid": free_port()}) as pipeline:
        yield pipeline, settings.replace(bootstrap=pipeline.bootstrap)


def produce(settings, items):
    producer = make_producer(settings)
    for key, value in items:
        producer.send(settings.topic_ingest, key=key.encode() if key else None, value=value)
    producer.flush()
    producer.close()


def test_json_and_protobuf_documents_come_out_with_their_language(langid):
    _, settings = langid
    proto = Document(id="fa-proto", text=PERSIAN).SerializeToString()
    produce(settings, [
        ("hi-json", json.dumps({"id": "hi-json", "text": HINDI}, ensure_ascii=False).encode()),
        ("fa-proto", proto),
        ("en-json", json.dumps({"id": "en-json", "text": ENGLISH, "title": "Floods"}).encode()),
    ])
    records = collect(settings, settings.topic_langid, {"hi-json", "fa-proto", "en-json"})
    languages = {}
    for record in records:
        doc = decode_document(record.value)
        assert isinstance(doc, Document)
        languages[doc.id] = doc.language.code
        assert doc.content_hash and doc.HasField("ingested_at") and "langid" in doc.processed_at
    assert languages == {"hi-json": "hi", "fa-proto": "fa", "en-json": "en"}


def test_bad_inputs_land_in_the_dlq_with_reasons_and_good_ones_still_come_through(langid):
    _, settings = langid
    huge = json.dumps({"id": "huge", "text": "flood " * 900_000}).encode()  # ~5.4 MB
    good = [(f"good-{i}", json.dumps({"id": f"good-{i}", "text": ENGLISH}).encode()) for i in range(4)]
    bad = [
        ("bad-json", b'{"id": "bad-json", "text": "unterminated'),
        ("bad-utf8", b'{"id": "bad-utf8", "text": "caf\xe9 \xff"}'),
        ("no-text", b'{"id": "no-text", "title": "only a title"}'),
        ("huge", huge),
        ("empty", b'{"id": "empty", "text": "   "}'),
    ]
    produce(settings, [good[0], bad[0], bad[1], good[1], bad[2], bad[3], good[2], bad[4], good[3]])

    out = collect(settings, settings.topic_langid, {k for k, _ in good})
    assert {r.key.decode() for r in out} == {k for k, _ in good}

    dead = collect(settings, settings.dlq_topic(settings.topic_ingest), len(bad))
    by_key = {r.key.decode(): r for r in dead}
    reasons = {key: dict(r.headers)["x-claimstream-reason"].decode() for key, r in by_key.items()}
    assert reasons == {
        "bad-json": "invalid_json", "bad-utf8": "invalid_utf8", "no-text": "missing_text",
        "huge": "text_too_large", "empty": "empty_text",
    }
    for key, original in bad:
        record = by_key[key]
        headers = dict(record.headers)
        assert record.value == original  # the original bytes, for replay
        assert headers["x-claimstream-stage"] == b"langid"
        assert headers["x-claimstream-topic"] == settings.topic_ingest.encode()
        assert int(headers["x-claimstream-offset"]) >= 0
        assert headers["x-claimstream-detail"]


def test_sigkill_mid_stream_then_restart_loses_nothing(tmp_path):
    settings = stream_settings(tmp_path, max_batch=4)
    ids = [f"doc-{i:04d}" for i in range(400)]
    with LocalPipeline(settings, ["langid"], log_dir=tmp_path / "logs", ports={"langid": free_port()}) as pipeline:
        live = settings.replace(bootstrap=pipeline.bootstrap)
        texts = [HINDI, PERSIAN, ENGLISH]
        produce(live, [(i, json.dumps({"id": i, "text": texts[n % 3]}).encode()) for n, i in enumerate(ids)])
        # Kill as soon as part of the stream has been processed.
        first = collect(live, live.topic_langid, 20, timeout=60)
        assert len(first) >= 20
        pipeline.kill("langid", signal.SIGKILL)
        seen_before_restart = {r.key.decode() for r in collect(live, live.topic_langid, len(ids), timeout=3)}
        assert len(seen_before_restart) < len(ids), "the worker finished before it was killed; nothing was tested"
        time.sleep(1)
        pipeline.start_service("langid")
        pipeline.wait_ready(90)
        records = collect(live, live.topic_langid, set(ids), timeout=120)
    assert {r.key.decode() for r in records} >= set(ids)
