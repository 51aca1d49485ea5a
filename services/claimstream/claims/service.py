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
from collections.abc import Awaitable
from functools import partial
from typing import Any

import faust

from claimstream.claims.groups import IndexedGroup
from claimstream.claims.model import load
from claimstream.claims.store import GroupStore
from claimstream.core.model import StageModel
from claimstream.core.schema import Claim, ClaimGroup, Document, Rejection, encode_message, parse_message
from claimstream.core.settings import Settings
from claimstream.kafka.deadletters import UndeliveredError, send_dead_letter
from claimstream.runtime.worker import AfterBatch, StageSpec, consume_batches, raw_topic


def claim_document(claim: Claim) -> Document:
    """The document context a group member needs, from a self-contained claim."""
    doc = Document(id=claim.doc_id, source=claim.doc_source)
    if claim.HasField("published_at"):
        doc.published_at.CopyFrom(claim.published_at)
    return doc


class GroupAgent:
    """The second agent: claims.normalized -> the group store -> claims.groups (dead letters to
    claims.normalized.dlq). `publish_claims` is the first agent's after-batch hook, which feeds it."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.settings = settings
        self.claims_topic = raw_topic(app, settings.topic_claims)
        self.groups_topic = raw_topic(app, settings.topic_groups)
        self.claims_dlq = raw_topic(app, settings.dlq_topic(settings.topic_claims))
        self.store = GroupStore(settings)
        app.on_partitions_revoked.connect(self.on_revoked)
        app.agent(self.claims_topic, name="claims.groups")(self.group_claims)

    async def on_revoked(self, sender: Any, revoked: Any = None, /, *args: Any, **kwargs: Any) -> None:
        self.store.drop({tp.partition for tp in revoked or () if tp.topic == self.settings.topic_claims})

    async def group_claims(self, stream: Any) -> None:
        await consume_batches(stream, self.settings.group_max_batch, self.settings.max_wait, "claims",
                              self.merge_batch)

    async def merge_batch(self, events: Any) -> None:
        """Merge every claim of the batch, send one update per changed group, and wait for all the
        acknowledgements together before the batch is acked (like the stage runner). A claim that
        cannot be read or merged becomes its own dead letter; the batch goes on."""
        changed: dict[tuple[int, bytes], ClaimGroup] = {}
        dead: list[tuple[Any, Rejection]] = []
        for event in events:
            rejection = await self._merge(event.message, changed)
            if rejection is not None:
                dead.append((event.message, rejection))
        pending: list[Awaitable[Any]] = []
        for message, rejection in dead:
            pending.append(await send_dead_letter(self.claims_dlq, message, rejection, "claims",
                                                  self.settings.max_message_bytes))
        for (partition, key), group in changed.items():
            value = encode_message(group, self.settings.output_encoding)
            pending.append(await self.groups_topic.send(key=key, value=value, partition=partition))
        try:
            await asyncio.gather(*pending)
        except Exception as exc:
            raise UndeliveredError("claim-group updates") from exc
        if changed:
            self.store.record_metrics()

    async def _merge(self, message: Any, changed: dict[tuple[int, bytes], ClaimGroup]) -> Rejection | None:
        """Merge one claims.normalized message into its group (noted in `changed`); why not, if it cannot be."""
        claim = parse_message(Claim, message.value)
        if claim is None or not message.key:
            return Rejection("invalid_protobuf", "not a claimstream.v1.Claim with a key")
        groups = self.store.loaded(message.partition)
        if groups is None:
            groups = await asyncio.get_running_loop().run_in_executor(None, self.store.load, message.partition)
        indexed = groups.get(message.key) or IndexedGroup(self.settings.claims_conflict_tolerance)
        try:
            merged = indexed.merge(claim, claim_document(claim))
        except Exception as exc:  # this claim's fault: the group keeps its state
            return Rejection("processing_error", f"merge: {type(exc).__name__}: {exc}")
        if merged:  # else already merged: a replay
            groups[message.key] = indexed
            # The group itself, which later claims of the batch update in place: one update per group.
            changed[(message.partition, message.key)] = indexed.group
        return None

    async def publish_claims(self, docs: list[Document]) -> list[Awaitable[Any]]:
        """Each keyed claim of the delivered documents to claims.normalized, keyed by its claim key."""
        pending = []
        for doc in docs:
            for claim in doc.claims:
                if claim.key:
                    value = encode_message(claim, self.settings.output_encoding)
                    pending.append(await self.claims_topic.send(key=claim.key.encode("utf-8"), value=value))
        return pending


def _setup(settings: Settings, app: faust.App, model: StageModel) -> AfterBatch:
    return GroupAgent(app, settings).publish_claims


def spec(settings: Settings) -> StageSpec:
    return StageSpec.of("claims", settings, lambda: load(settings), setup=partial(_setup, settings),
                        other_takes=(settings.group_max_batch,))
