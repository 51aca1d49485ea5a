"""Bad input on a real pipeline: every bad message lands in the DLQ with a reason, none disappears,
no worker crashes, and `claimstream dlq` lists and replays them."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest
from claimstream.cli.deadletters import add_dlq_command
from claimstream.core.schema import REASONS, Document, encode_document
from claimstream.kafka.clients import make_producer
from claimstream.kafka.deadletters import dlq_headers, list_dlq, replay_dlq

from tests.conftest import collect

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
    sent = replay_dlq(faults.settings, reasons=["missing_text"]).sent
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

    assert replay_dlq(settings, topics=[dlq_topic], reasons=["processing_error"]).sent >= 1
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
    assert lines[0].split() == ["topic", "partition", "offset", "state", "reason", "detail", "value"]
    assert any("missing_text" in line and '{"id": "cli"}' in line for line in lines[1:])
    assert all("missing_text" in line for line in lines[1:])
    bad = parser.parse_args(["dlq", "docs.ingest"])
    assert bad.func(bad, faults.settings) == 2  # not a DLQ topic: a clear error, not an empty table


@pytest.mark.timeout(150)
def test_replaying_twice_sends_each_entry_once_and_a_new_failure_is_a_new_entry(faults: FaultPipeline) -> None:
    settings = faults.settings
    dlq_topic = settings.dlq_topic(settings.topic_ingest)
    key = f"empty-{os.urandom(4).hex()}".encode()
    producer = make_producer(settings)
    producer.send(settings.topic_ingest, key=key, value=b"").get(30)
    [first] = wait_for_letters(faults, {key})
    assert first.reason == "empty_message" and first.state == "pending"

    # The first stage is held still while both replays run, so the second one sees exactly what the first left.
    stage = faults.process(faults.services[0])
    stage.send_signal(signal.SIGSTOP)
    try:
        once = replay_dlq(settings, topics=[dlq_topic], reasons=["empty_message"])
        twice = replay_dlq(settings, topics=[dlq_topic], reasons=["empty_message"])
    finally:
        stage.send_signal(signal.SIGCONT)
    assert once.sent >= 1
    assert twice.sent == 0 and twice.already >= 1  # nothing went back a second time
    log = [r for r in collect(settings, settings.topic_dlq_replays, {first.coordinates}, timeout=10)
           if r.key == first.coordinates.encode()]
    assert len(log) == 1
    replayed_to = json.loads(log[0].value)
    assert replayed_to["to"] == settings.topic_ingest

    # The replayed message failed again: one new entry naming the first, pending; 2 dead letters, not 4.
    wait_for_letters(faults, {key}, times=2)
    # A sentinel behind the replayed message in its ingest partition: once its dead letter is there, the stage
    # has read everything the replays sent to that partition.
    sentinel = f"sentinel-{os.urandom(4).hex()}".encode()
    producer.send(settings.topic_ingest, key=sentinel, value=b"", partition=replayed_to["partition"]).get(30)
    producer.close()
    wait_for_letters(faults, {sentinel})
    letters = [d for d in list_dlq(settings, [dlq_topic]) if d.key == key]
    assert len(letters) == 2
    old, new = letters
    assert (old.offset, old.state) == (first.offset, "replayed")
    assert new.state == "pending" and new.reason == "empty_message" and new.replayed_from == first.coordinates

    # The new entry may be replayed once itself; the table shows both with partition, offset and state.
    assert replay_dlq(settings, topics=[dlq_topic], reasons=["empty_message"]).sent >= 1
    parser = argparse.ArgumentParser()
    add_dlq_command(parser.add_subparsers(dest="command"), [])
    args = parser.parse_args(["dlq", dlq_topic, "--reason", "empty_message"])
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert args.func(args, settings) == 0
    rows = [line.split() for line in out.getvalue().splitlines()[1:]]
    mine = {(int(r[1]), int(r[2])): r[3] for r in rows if r[0] == dlq_topic}
    assert mine[(old.partition, old.offset)] == "replayed" and mine[(new.partition, new.offset)] == "replayed"
    assert " pending, " in err.getvalue() and " replayed, " in err.getvalue()
