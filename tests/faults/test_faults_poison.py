"""Poison in the middle of a batch, for every stage: the poison ends as a dead letter with its reason,
every good document around it is delivered, and the worker keeps running.

Each trigger once took a worker's whole batch down with it (committed, with no output and no
dead letter): a published_at whose UTC form leaves the years 0001-9999, a Kafka record timestamp
after the year 9999, and a message just under the size limit whose dead letter (with headers)
is larger than the limit.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from claimstream.kafka.clients import make_producer
from claimstream.kafka.deadletters import list_dlq

from tests.fixtures.hostile import KINDS, hostile_text

from .conftest import FaultPipeline, fault_services, make_documents, service_input_topic

pytestmark = pytest.mark.faults


def send(faults: FaultPipeline, topic: str, messages: list[tuple[str, bytes, int | None]]) -> None:
    """Produce (key, value, timestamp_ms) to `topic` in one burst, so they share a batch."""
    producer = make_producer(faults.settings)
    try:
        futures = [producer.send(topic, key=key.encode(), value=value, timestamp_ms=stamp)
                   for key, value, stamp in messages]
        for future in futures:
            future.get(timeout=60)
    finally:
        producer.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("service", fault_services())
def test_poison_in_the_middle_of_a_batch_loses_no_good_document(faults: FaultPipeline, service: str) -> None:
    settings = faults.settings
    topic = service_input_topic(settings, service)
    tag = os.urandom(3).hex()
    good = make_documents(24, f"poison-{service}")
    overflow = (f"overflow-{tag}", json.dumps({"id": f"overflow-{tag}", "text": "Flood in Assam.",
                                               "published_at": "9999-12-31T23:59:59-14:00"}).encode(), None)
    future_stamp = (f"future-{tag}", json.dumps({"id": f"future-{tag}", "text": "The river rose in Assam."}).encode(),
                    253402300800000)
    # Just under the limit, so the dead letter with its headers would not fit as it is.
    shell = json.dumps({"id": f"huge-{tag}", "text": ""}).encode()
    huge_value = shell[:-2] + b"x" * (settings.max_message_bytes - 200 - len(shell)) + shell[-2:]
    huge = (f"huge-{tag}", huge_value, None)
    messages = [(i, v, None) for i, v in good[:8]] + [overflow] + [(i, v, None) for i, v in good[8:16]]
    messages += [future_stamp, huge] + [(i, v, None) for i, v in good[16:]]
    process = faults.process(service)
    send(faults, topic, messages)

    good_ids = [i for i, _ in good] + [future_stamp[0]]
    missing = faults.final.wait_for(good_ids, 120)
    assert not missing, f"good documents lost behind the poison: {sorted(missing)[:5]}\n{faults.log_tails()}"
    assert process.poll() is None, f"the {service} worker died"

    dlq_topic = settings.dlq_topic(topic)
    deadline = time.monotonic() + 60
    letters = {}
    while len(letters) < 2 and time.monotonic() < deadline:
        letters = {d.key: d for d in list_dlq(settings, [dlq_topic]) if d.key in (b"overflow-" + tag.encode(),
                                                                                  b"huge-" + tag.encode())}
        time.sleep(0.5)
    assert set(letters) == {f"overflow-{tag}".encode(), f"huge-{tag}".encode()}, letters
    late = letters[f"overflow-{tag}".encode()]
    assert late.reason == "invalid_schema" and "0001-9999" in late.detail and late.stage == service
    assert late.value == overflow[1]  # the original bytes
    big = letters[f"huge-{tag}".encode()]
    assert big.reason == "text_too_large" and big.stage == service
    assert big.truncated_from == len(huge_value) and huge_value.startswith(big.value) and big.value


@pytest.mark.timeout(300)
def test_hostile_texts_at_the_size_limit_hold_no_stage_for_long(faults: FaultPipeline) -> None:
    """Valid documents at the pipeline's text limit built to make a stage's work explode go through
    every stage, and the good documents sent after them arrive within the usual deadline."""
    settings = faults.settings
    tag = os.urandom(3).hex()
    hostile = []
    for n, kind in enumerate(KINDS):
        body = {"id": f"hostile-{tag}-{n}", "text": hostile_text(kind, settings.max_text_chars)}
        hostile.append((body["id"], json.dumps(body, ensure_ascii=False).encode(), None))
    good = make_documents(20, "after-hostile")
    send(faults, settings.topic_ingest, hostile + [(i, v, None) for i, v in good])
    missing = faults.final.wait_for([i for i, _ in good] + [k for k, _, _ in hostile], 150)
    assert not missing, f"not through the pipeline: {sorted(missing)}\n{faults.log_tails()}"
    assert all(p.process.poll() is None for p in faults.pipeline.processes)
