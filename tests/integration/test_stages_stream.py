"""translate, ner and claims over a real (embedded) broker, each stage alone on its input topic."""

from __future__ import annotations

import time

import pytest
from claimstream.core.schema import (
    Claim,
    ClaimGroup,
    Document,
    Translation,
    decode_document,
    encode_document,
    parse_message,
)
from claimstream.core.settings import Settings
from claimstream.kafka.clients import make_producer
from claimstream.local.broker import free_port
from claimstream.local.inputs import read_records
from claimstream.local.launcher import LocalPipeline
from claimstream.runtime.pipeline import Pipeline

from tests.conftest import EXAMPLES, collect, stream_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def produce(settings, topic, docs):
    producer = make_producer(settings)
    for key, value in docs:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def with_language(doc_id, text, code):
    doc = Document(id=doc_id, text=text)
    doc.language.code = code
    return doc


def test_translate_writes_ok_source_is_target_and_no_model(tmp_path, tiny_onnx):
    settings = stream_settings(tmp_path, translate_models=f"hi={tiny_onnx}", translate_max_length=12)
    docs = [
        with_language("hi-1", "असम में बाढ़ से लगभग बीस हज़ार लोग विस्थापित हुए।", "hi"),
        with_language("en-1", "About 18,000 people were displaced.", "en"),
        with_language("ko-1", "홍수로 약 2만 명이 대피했다.", "ko"),
    ]
    with LocalPipeline(settings, ["translate"], log_dir=tmp_path / "logs", ports={"translate": free_port()}) as lp:
        live = settings.replace(bootstrap=lp.bootstrap)
        items = [(d.id, encode_document(d, "protobuf")) for d in docs]
        blank = encode_document(with_language("blank", " ", "hi"), "protobuf")
        items += [("broken", b"\x0a\xff\xff\xff"), ("blank", blank)]
        produce(live, live.topic_langid, items)
        records = collect(live, live.topic_translated, {d.id for d in docs})
        out = {r.key.decode(): decode_document(r.value) for r in records}
        dead = collect(live, live.dlq_topic(live.topic_langid), 2)
    assert out["hi-1"].translation.status == Translation.OK
    assert out["hi-1"].translation.text and out["hi-1"].translation.target_tokens > 0
    assert out["hi-1"].translation.model and out["hi-1"].translation.source_language == "hi"
    assert out["en-1"].translation.status == Translation.SOURCE_IS_TARGET
    assert out["ko-1"].translation.status == Translation.NO_MODEL and "ko" in out["ko-1"].translation.detail
    assert out["ko-1"].text == docs[2].text  # passed through untranslated
    reasons = {r.key.decode(): dict(r.headers)["x-claimstream-reason"].decode() for r in dead}
    assert reasons == {"broken": "invalid_protobuf", "blank": "empty_text"}


def test_ner_links_entities_in_untranslated_hindi_and_persian(tmp_path):
    settings = stream_settings(tmp_path)
    docs = [
        with_language("hi-ner", "भारत और ईरान ने चाबहार बंदरगाह पर समझौता किया। नरेंद्र मोदी ने इसकी सराहना की।", "hi"),
        with_language("fa-ner", "ایران و هند روز دوشنبه توافق بندر چابهار را امضا کردند.", "fa"),
    ]
    for doc in docs:
        doc.translation.status = Translation.NO_MODEL
    with LocalPipeline(settings, ["ner"], log_dir=tmp_path / "logs", ports={"ner": free_port()}) as lp:
        live = settings.replace(bootstrap=lp.bootstrap)
        produce(live, live.topic_translated, [(d.id, encode_document(d, "json")) for d in docs])
        records = collect(live, live.topic_entities, {"hi-ner", "fa-ner"})
        out = {r.key.decode(): decode_document(r.value) for r in records}
    linked = {doc_id: {e.canonical_id for e in doc.entities} for doc_id, doc in out.items()}
    assert {"country:IN", "country:IR", "person:narendra-modi"} <= linked["hi-ner"]
    assert {"country:IN", "country:IR"} <= linked["fa-ner"]
    for doc in out.values():
        for entity in doc.entities:
            assert doc.text[entity.start:entity.end] == entity.text


@pytest.fixture(scope="module")
def entity_docs():
    """The sample documents as the ner stage emits them (in-process, for the claims stage's input)."""
    records = [r.result for r in read_records([str(EXAMPLES / "news.jsonl")]) if isinstance(r.result, Document)]
    pipeline = Pipeline.load(Settings(), stages=["langid", "translate", "ner"])
    docs = [d for d in pipeline.enrich(records) if isinstance(d, Document)]
    pipeline.close()
    return docs


def latest_groups(records):
    latest = {}
    for record in records:
        group = parse_message(ClaimGroup, record.value)
        assert group is not None
        latest[record.key.decode()] = group
    return latest


def test_claims_writes_enriched_docs_claims_and_groups_and_a_replay_changes_nothing(tmp_path, entity_docs):
    settings = stream_settings(tmp_path)
    ids = {d.id for d in entity_docs}
    expected = Pipeline.load(settings, stages=["claims"])
    for doc in entity_docs:
        copy = Document()
        copy.CopyFrom(doc)
        expected.enrich([copy])
    expected_groups = {g.key: g for g in expected.groups.groups()}
    with LocalPipeline(settings, ["claims"], log_dir=tmp_path / "logs", ports={"claims": free_port()}) as lp:
        live = settings.replace(bootstrap=lp.bootstrap)
        payload = [(d.id, encode_document(d, "protobuf")) for d in entity_docs]
        produce(live, live.topic_entities, payload)
        enriched = collect(live, live.topic_enriched, ids)
        total_claims = sum(1 for r in enriched for c in decode_document(r.value).claims if c.key)
        claims = [parse_message(Claim, r.value) for r in collect(live, live.topic_claims, total_claims)]
        collect(live, live.topic_groups, len(expected_groups))
        time.sleep(3)  # let any late group update arrive
        groups_first = collect(live, live.topic_groups, 10_000, timeout=5)

        produce(live, live.topic_entities, payload)  # the same documents again
        collect(live, live.topic_enriched, 2 * len(ids), timeout=120)
        time.sleep(3)
        groups_after = collect(live, live.topic_groups, 10_000, timeout=5)

    assert {decode_document(r.value).id for r in enriched} == ids
    assert len(claims) == total_claims > 0
    bad = [c for c in claims if c is None or c.doc_id not in ids or not c.key or not c.predicate]
    assert not bad, bad[:3]
    got = latest_groups(groups_first)
    assert set(got) == set(expected_groups)
    for key, group in got.items():
        assert group.conflict == expected_groups[key].conflict, key
        assert sorted(group.doc_ids) == sorted(expected_groups[key].doc_ids), key
    assert any(g.conflict for g in got.values())
    assert len(groups_after) == len(groups_first), "a replay of the same documents changed claim groups"
