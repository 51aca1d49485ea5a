"""Faults on a real pipeline: worker SIGKILL, broker SIGSTOP, a consumer group losing a member, replays.

What is asserted, precisely:
- docs.* topics are at least once: every ingested id reaches the furthest topic; an id
  may arrive more than once (a worker killed before committing redoes its batch).
- claim groups are idempotent and order-free: the groups on claims.groups (latest state per
  key) are, byte for byte minus update times, those of the same documents merged once each in
  another order (an undisturbed run), however often a document was redelivered. Checked only
  when the claims service exists.
"""

from __future__ import annotations

import signal
import time

import pytest
from claimstream.core.schema import Document, decode_document

from tests.fixtures.ingest import metric_sum

from .conftest import (
    BackgroundProducer,
    FaultPipeline,
    fault_services,
    groups_on_topic,
    make_documents,
    produce,
    whole_groups,
    whole_groups_on_topic,
)

pytestmark = pytest.mark.faults

ARRIVAL_TIMEOUT = 120.0


def assert_all_arrived(faults: FaultPipeline, ids: list[str], times: int = 1) -> None:
    missing = faults.final.wait_for(ids, ARRIVAL_TIMEOUT, times)
    assert not missing, (
        f"{len(missing)}/{len(ids)} documents never reached {faults.final_topic} "
        f"(e.g. {sorted(missing)[:3]})\n{faults.log_tails()}"
    )


def undisturbed_groups(faults: FaultPipeline, ids: list[str]) -> dict[str, bytes]:
    """The whole claim groups touching `ids` had every enriched document of the session (earlier
    tests' too: they share the groups) been merged exactly once, in the order of its id."""
    from claimstream.claims.store import ClaimGroups

    store = ClaimGroups(tolerance=faults.settings.claims_conflict_tolerance)
    latest = faults.final.all_latest()
    for doc_id in ids:
        assert doc_id in latest, f"{doc_id} has no enriched document"
    for doc_id in sorted(latest):
        doc = decode_document(latest[doc_id])
        assert isinstance(doc, Document), doc
        store.merge_document(doc)
    return whole_groups(store.groups(), ids)


def assert_groups_idempotent(faults: FaultPipeline, ids: list[str]) -> None:
    """The groups on claims.groups equal, byte for byte minus update times, those of an undisturbed
    run in another order: redelivery added nothing and arrival order changed nothing."""
    if faults.groups is None:
        return  # the claims service is not part of this pipeline: no groups to compare
    deadline = time.monotonic() + 30  # group updates follow the documents by a batch
    while True:
        expected, actual = undisturbed_groups(faults, ids), whole_groups_on_topic(faults, ids)
        if actual == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    differing = sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))
    assert not differing, f"{len(differing)} group(s) differ from an undisturbed run, e.g. {differing[:3]}"


@pytest.mark.timeout(200)
@pytest.mark.parametrize("service", fault_services())
def test_sigkill_mid_stream_then_restart_loses_nothing(faults: FaultPipeline, service: str) -> None:
    docs = make_documents(240, f"kill-{service}")
    ids = [doc_id for doc_id, _ in docs]
    producer = BackgroundProducer(faults.settings, docs, rate=60)
    producer.start()
    # Kill once the service has produced part of the stream: it holds a batch and uncommitted offsets.
    watcher = faults.outputs[service]
    deadline = time.monotonic() + 60
    while watcher.count(ids) < 20:
        assert time.monotonic() < deadline, f"{service} produced nothing\n{faults.log_tails()}"
        time.sleep(0.05)
    faults.pipeline.kill(service, signal.SIGKILL)
    done_at_kill = watcher.count(ids)
    assert done_at_kill < len(ids), "the kill came after the whole stream was processed"

    producer.finish()
    faults.restart(service)
    assert_all_arrived(faults, ids)
    assert_groups_idempotent(faults, ids)


@pytest.mark.timeout(240)
def test_broker_frozen_30s_workers_recover_without_restart(faults: FaultPipeline) -> None:
    during = make_documents(180, "freeze-during")
    after = make_documents(60, "freeze-after")
    ids = [doc_id for doc_id, _ in during + after]
    pids = {p.name: p.process.pid for p in faults.pipeline.processes}
    # Freeze while documents are in flight: the producer and the workers all hang on the broker.
    producer = BackgroundProducer(faults.settings, during, rate=60)
    producer.start()
    deadline = time.monotonic() + 60
    while faults.final.count(ids) < 10:
        assert time.monotonic() < deadline, f"nothing reached {faults.final_topic}\n{faults.log_tails()}"
        time.sleep(0.05)
    assert faults.pipeline.broker is not None
    faults.pipeline.broker.freeze()
    try:
        done_at_freeze = faults.final.count(ids)
        time.sleep(30)
    finally:
        faults.pipeline.broker.thaw()
    assert done_at_freeze < len(during), "the freeze came after the stream was processed"
    producer.finish()
    produce(faults.settings, after)
    assert_all_arrived(faults, ids)
    # Recovered by themselves: the same processes, none exited or restarted.
    assert {p.name: p.process.pid for p in faults.pipeline.processes} == pids
    assert all(p.process.poll() is None for p in faults.pipeline.processes), faults.log_tails()
    assert_groups_idempotent(faults, ids)


@pytest.mark.timeout(240)
def test_second_worker_takes_over_partitions_of_a_killed_one(faults: FaultPipeline) -> None:
    service = faults.services[0]
    survivor, survivor_port = faults.start_second_worker(service)
    # Let the group settle with two members before the stream starts.
    faults.pipeline.wait_ready(60)
    first = make_documents(120, f"pair-{service}")
    produce(faults.settings, first, rate=60)
    assert_all_arrived(faults, [d for d, _ in first])
    handled_before = metric_sum(survivor_port, "claimstream_messages_total", service=service, outcome="ok")

    faults.pipeline.kill(service, signal.SIGKILL)  # the survivor is now the only member of the group
    second = make_documents(120, f"pair-{service}-after")
    produce(faults.settings, second)
    assert_all_arrived(faults, [d for d, _ in second])
    assert survivor.poll() is None
    handled_after = metric_sum(survivor_port, "claimstream_messages_total", service=service, outcome="ok")
    # Keys spread over every partition, so the survivor must now own all of them.
    assert handled_after - handled_before >= len(second)


@pytest.mark.timeout(200)
def test_replaying_the_same_input_changes_no_result(faults: FaultPipeline) -> None:
    docs = make_documents(54, "replay")
    ids = [doc_id for doc_id, _ in docs]
    produce(faults.settings, docs)
    assert_all_arrived(faults, ids)
    # Group updates follow the documents by a batch: wait until they settled, as an undisturbed run's.
    assert_groups_idempotent(faults, ids)
    groups_once = groups_on_topic(faults, ids) if faults.groups else None
    updates_once = sum(faults.groups.counts.values()) if faults.groups else 0
    counts_once = faults.final.snapshot(ids)

    produce(faults.settings, docs)
    # Every id went through a second time (at least once: the topic now holds it twice or more) ...
    missing = faults.final.wait_for(ids, ARRIVAL_TIMEOUT, times=2)
    assert not missing, f"replayed documents did not come through again: {sorted(missing)[:3]}"
    assert all(faults.final.snapshot(ids)[i] >= counts_once[i] + 1 for i in ids)
    # ... and the idempotent effects did not move: same claim groups, same member counts.
    if faults.groups is not None:
        time.sleep(3 * faults.settings.max_wait + 2)  # room for any group update the replay would cause
        assert groups_on_topic(faults, ids) == groups_once
        assert sum(faults.groups.counts.values()) == updates_once, "the replay wrote group updates"
