"""claims stream wiring.

Two agents in one worker, the Kafka Streams repartition pattern:

1. docs.entities -> the claim model -> docs.enriched (the stage runner), and each
   keyed claim -> claims.normalized, keyed by its claim key;
2. claims.normalized -> the claim groups -> claims.groups whenever a group changes,
   written to the same partition number. A claim key therefore always lands in one
   partition of both topics, and the one worker that owns that partition merges it,
   whichever document and worker the claim came from.

The groups of a partition are the latest value of each key on that partition of
claims.groups (the topic is the group store's changelog). A worker rebuilds a
partition's groups from it the first time it merges a claim from that partition,
and drops them when the partition is revoked. Merging is idempotent by (document id,
claim span), so a replay after a crash, or the same documents ingested twice,
changes no group and emits nothing.

Why not a Faust table: its changelog recovery never completes on the embedded
broker (Tansu reports a partition's end offset as the last batch's base offset + 1,
and Faust's recovery waits for events that never come), which would hang every
restarted claims worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

import faust
from kafka import TopicPartition

from claimstream.claims.groups import IndexedGroup
from claimstream.claims.model import load
from claimstream.core import metrics
from claimstream.core.kafka import make_consumer
from claimstream.core.model import StageModel
from claimstream.core.runner import AfterBatch, StageSpec, UndeliveredError, consume_batches, send_dead_letter
from claimstream.core.schema import Claim, ClaimGroup, Document, Rejection, encode_message, parse_message
from claimstream.core.settings import Settings

log = logging.getLogger(__name__)


def claim_document(claim: Claim) -> Document:
    """The document context a group member needs, from a self-contained claim."""
    doc = Document(id=claim.doc_id, source=claim.doc_source)
    if claim.HasField("published_at"):
        doc.published_at.CopyFrom(claim.published_at)
    return doc


class GroupStore:
    """The claim groups of the claims.groups partitions this worker owns."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: each key's group with its indexes (a merge costs O(value classes + log members), not O(members))
        self.partitions: dict[int, dict[bytes, IndexedGroup]] = {}

    def loaded(self, partition: int) -> dict[bytes, IndexedGroup] | None:
        return self.partitions.get(partition)

    def load(self, partition: int, quiet_polls: int = 2) -> dict[bytes, IndexedGroup]:
        """Read the partition of claims.groups to its end: the latest group of each key.

        The end is where the broker's end offset has been passed and polls come back
        empty (the embedded broker's end offset can be lower than its last record).
        """
        started = time.monotonic()
        consumer = make_consumer(self.settings, [], from_beginning=True)
        tp = TopicPartition(self.settings.topic_groups, partition)
        groups: dict[bytes, IndexedGroup] = {}
        try:
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp])[tp]
            empty = 0
            while empty < quiet_polls:
                records = consumer.poll(timeout_ms=200).get(tp, [])
                for record in records:
                    group = parse_message(ClaimGroup, record.value)
                    if group is not None and record.key:
                        groups[record.key] = IndexedGroup(self.settings.claims_conflict_tolerance, group)
                if records:
                    empty = 0
                elif consumer.position(tp) >= end:
                    empty += 1
        finally:
            consumer.close()
        self.partitions[partition] = groups
        log.info(
            "claims: %d group(s) of %s[%d] loaded in %.1f s", len(groups), tp.topic, partition,
            time.monotonic() - started,
        )
        return groups

    def drop(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.partitions.pop(partition, None)

    def record_metrics(self) -> None:
        flags = [g.group.conflict for groups in self.partitions.values() for g in groups.values()]
        metrics.CLAIM_GROUPS.labels("true").set(sum(flags))
        metrics.CLAIM_GROUPS.labels("false").set(len(flags) - sum(flags))


def _wire_groups(settings: Settings) -> Any:
    def setup(app: faust.App, model: StageModel) -> AfterBatch:
        def raw_topic(name: str) -> Any:
            return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

        claims_topic = raw_topic(settings.topic_claims)
        groups_topic = raw_topic(settings.topic_groups)
        claims_dlq = raw_topic(settings.dlq_topic(settings.topic_claims))
        store = GroupStore(settings)

        async def on_revoked(sender: Any, revoked: Any = None, /, *args: Any, **kwargs: Any) -> None:
            store.drop({tp.partition for tp in revoked or () if tp.topic == settings.topic_claims})

        app.on_partitions_revoked.connect(on_revoked)

        async def merge_batch(events: Any) -> None:
            # In batches, like the stage runner: merge every claim of the batch, send one update per
            # changed group, and wait for all the acknowledgements together before the batch is acked.
            # A claim that cannot be read or merged becomes its own dead letter; the batch goes on.
            loop = asyncio.get_running_loop()
            pending: list[Awaitable[Any]] = []
            changed: dict[tuple[int, bytes], ClaimGroup] = {}
            dead: list[tuple[Any, Rejection]] = []
            for event in events:
                message = event.message
                claim = parse_message(Claim, message.value)
                if claim is None or not message.key:
                    dead.append((message, Rejection("invalid_protobuf", "not a claimstream.v1.Claim with a key")))
                    continue
                groups = store.loaded(message.partition)
                if groups is None:
                    groups = await loop.run_in_executor(None, store.load, message.partition)
                indexed = groups.get(message.key) or IndexedGroup(settings.claims_conflict_tolerance)
                try:
                    merged = indexed.merge(claim, claim_document(claim))
                except Exception as exc:  # this claim's fault: the group keeps its state
                    dead.append((message, Rejection("processing_error", f"merge: {type(exc).__name__}: {exc}")))
                    continue
                if not merged:
                    continue  # already merged: a replay
                groups[message.key] = indexed
                # The group itself, which later claims of the batch update in place: one update per group.
                changed[(message.partition, message.key)] = indexed.group
            for message, rejection in dead:
                pending.append(await send_dead_letter(claims_dlq, message, rejection, "claims",
                                                      settings.max_message_bytes))
            for (partition, key), group in changed.items():
                value = encode_message(group, settings.output_encoding)
                pending.append(await groups_topic.send(key=key, value=value, partition=partition))
            try:
                await asyncio.gather(*pending)
            except Exception as exc:
                raise UndeliveredError("claim-group updates") from exc
            if changed:
                store.record_metrics()

        async def group_claims(stream: Any) -> None:
            await consume_batches(stream, settings.max_batch * 4, settings.max_wait, "claims", merge_batch)

        app.agent(claims_topic, name="claims.groups")(group_claims)

        async def publish_claims(docs: list[Document]) -> list[Awaitable[Any]]:
            pending = []
            for doc in docs:
                for claim in doc.claims:
                    if not claim.key:
                        continue
                    value = encode_message(claim, settings.output_encoding)
                    pending.append(await claims_topic.send(key=claim.key.encode("utf-8"), value=value))
            return pending

        return publish_claims

    return setup


def spec(settings: Settings) -> StageSpec:
    return StageSpec.of("claims", settings, lambda: load(settings), setup=_wire_groups(settings))
