"""Bad input on a real pipeline: every bad message lands in the DLQ with a reason, none disappears,
no worker crashes, and `claimstream dlq` lists and replays them."""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from contextlib import redirect_stdout

import pytest
from claimstream.core.deadletters import dlq_headers
from claimstream.core.dlq import add_dlq_command, list_dlq, replay_dlq
from claimstream.core.kafka import make_producer
from claimstream.core.schema import REASONS, Document, encode_document

from .conftest import FaultPipeline, make_documents, produce

pytestmark = pytest.mark.faults

# One message per way an ingest message can be wrong, with the reason the first stage must give.
BAD = {
    b"": "empty_message",
    b'{"id": "x", "text": "cut off': "invalid_json",
    b'{"text": "\xff\xfe broken"}': "invalid_utf8",
    b"\x08\x96\x01\xff\xff\xff": "invalid_protobuf",
    b'["not", "an", "object"]': "invalid_schema",
    b'{"id": "n", "text": 12345}': "invalid_schema",
    b'{"id": "m", "title": "no text"}': "missing_text",
    b'{"id": "w", "text": " \\n\\t "}': "empty_text",
    b'{"id": "d", "text": "ok", "published_at": "yesterday-ish"}': "invalid_schema",
}


def wait_for_letters(faults: FaultPipeline, keys: set[bytes], times: int = 1, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        letters = [d for d in list_dlq(faults.settings) if d.key in keys]
        per_key = {k: sum(1 for d in letters if d.key == k) for k in keys}
        if all(n >= times for n in per_key.values()) or time.monotonic() > deadline:
            return letters
        time.sleep(0.5)


@pytest.mark.timeout(150)
def test_bad_messages_land_in_the_dlq_with_reasons_and_replay_sends_them_back(faults: FaultPipeline) -> None:
    tag = os.urandom(4).hex()
    keyed = {f"bad-{tag}-{i}".encode(): (value, reason) for i, (value, reason) in enumerate(BAD.items())}
    good = make_documents(5, "dlq-good")
    producer = make_producer(faults.settings)
    for key, (value, _) in keyed.items():
        producer.send(faults.settings.topic_ingest, key=key, value=value)
    producer.flush()
    producer.close()
    produce(faults.settings, good)

    letters = wait_for_letters(faults, set(keyed))
    got = {d.key: d for d in letters}
    assert set(got) == set(keyed), f"missing from the DLQ: {set(keyed) - set(got)}"
    for key, (value, reason) in keyed.items():
        letter = got[key]
        assert letter.value == value  # the original bytes, unchanged
        assert letter.reason == reason, (value, letter.detail)
        assert letter.reason in REASONS and letter.detail
        assert letter.stage == faults.services[0]
        assert letter.source_topic == faults.settings.topic_ingest
        assert letter.topic == faults.settings.dlq_topic(faults.settings.topic_ingest)
    # Bad input did not stop the stream.
    assert not faults.final.wait_for([d for d, _ in good], 90)
    assert all(p.process.poll() is None for p in faults.pipeline.processes)

    # Replaying a message that still fails lands it in the DLQ again: nothing is lost either way.
    sent = replay_dlq(faults.settings, reasons=["missing_text"])
    assert sent >= 1
    missing_text = {k for k, (_, reason) in keyed.items() if reason == "missing_text"}
    again = wait_for_letters(faults, missing_text, times=2)
    assert sum(1 for d in again if d.key in missing_text) == 2


@pytest.mark.timeout(120)
def test_replay_after_a_fix_delivers_the_document(faults: FaultPipeline) -> None:
    """A document that failed in a stage (say a model bug, since fixed) goes through when replayed."""
    settings = faults.settings
    doc = Document(id=f"fixed-{os.urandom(4).hex()}", text="The river rose above the danger mark on Tuesday.")
    dlq_topic = settings.dlq_topic(settings.topic_ingest)
    producer = make_producer(settings)
    headers = dlq_headers("processing_error", "RuntimeError: model bug", faults.services[0],
                          settings.topic_ingest, 0, 0)
    producer.send(dlq_topic, key=doc.id.encode(), value=encode_document(doc, "protobuf"), headers=headers).get(30)
    producer.close()

    assert replay_dlq(settings, topics=[dlq_topic], reasons=["processing_error"]) >= 1
    assert not faults.final.wait_for([doc.id], 90), f"{doc.id} did not reach {faults.final_topic}"


@pytest.mark.timeout(60)
def test_dlq_command_prints_a_table_of_entries(faults: FaultPipeline) -> None:
    key = f"cli-{os.urandom(4).hex()}".encode()
    producer = make_producer(faults.settings)
    producer.send(faults.settings.topic_ingest, key=key, value=json.dumps({"id": "cli"}).encode()).get(30)
    producer.close()
    wait_for_letters(faults, {key})

    parser = argparse.ArgumentParser()
    add_dlq_command(parser.add_subparsers(dest="command"), [])
    args = parser.parse_args(["dlq", faults.settings.dlq_topic(faults.settings.topic_ingest),
                              "--reason", "missing_text"])
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.func(args, faults.settings) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["topic", "offset", "reason", "detail", "value"]
    assert any("missing_text" in line and '{"id": "cli"}' in line for line in lines[1:])
    assert all("missing_text" in line for line in lines[1:])
    bad = parser.parse_args(["dlq", "docs.ingest"])
    assert bad.func(bad, faults.settings) == 2  # not a DLQ topic: a clear error, not an empty table
