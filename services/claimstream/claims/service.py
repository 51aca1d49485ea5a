"""claims stream wiring.

Two agents in one worker, the Kafka Streams repartition pattern:

1. docs.entities -> the claim model -> docs.enriched (the stage runner), and each
   keyed claim -> claims.normalized, keyed by its claim key;
2. claims.normalized -> the claim-group table (keyed by claim key, so a group is
   always merged in the one partition that owns it, whichever document and worker
   its claims came from) -> claims.groups whenever a group changes.

Merging is idempotent by (document id, claim span), so a replay after a crash, or
the same documents ingested twice, changes no group and emits nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import faust

from claimstream.claims.groups import merge_claim
from claimstream.claims.model import load
from claimstream.core import metrics
from claimstream.core.model import ModelLoadError, StageModel
from claimstream.core.runner import AfterBatch, StageSpec
from claimstream.core.schema import Claim, ClaimGroup, Document, encode_message, parse_message
from claimstream.core.settings import Settings

log = logging.getLogger(__name__)

TABLE_NAME = "claim-groups"


def claim_document(claim: Claim) -> Document:
    """The document context a group member needs, from a self-contained claim."""
    doc = Document(id=claim.doc_id, source=claim.doc_source)
    if claim.HasField("published_at"):
        doc.published_at.CopyFrom(claim.published_at)
    return doc


def _table_store(settings: Settings) -> str:
    if settings.claims_store == "memory":
        return "memory://"
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        raise ModelLoadError(
            "CLAIMSTREAM_CLAIMS_STORE=rocksdb needs the rocksdict package: pip install 'claimstream[rocksdb]'"
        ) from None
    return "rocksdb://"


def _wire_groups(settings: Settings) -> Any:
    def setup(app: faust.App, model: StageModel) -> AfterBatch:
        def raw_topic(name: str) -> Any:
            return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

        claims_topic = raw_topic(settings.topic_claims)
        groups_topic = raw_topic(settings.topic_groups)
        table = app.Table(
            TABLE_NAME, default=None, partitions=settings.partitions, store=_table_store(settings),
            schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
            help="claim key -> serialized ClaimGroup",
        )
        conflicts: dict[bytes, bool] = {}

        async def group_claims(stream: Any) -> None:
            async for event in stream.events():
                key = event.message.key
                claim = parse_message(Claim, event.message.value)
                if claim is None or not key:
                    log.warning("claims.groups: skipping an unreadable claim at offset %d", event.message.offset)
                    continue
                stored = table.get(key)
                before = parse_message(ClaimGroup, stored) if stored else None
                after = merge_claim(before, claim, claim_document(claim), settings.claims_conflict_tolerance)
                if before is not None and after.updated_at == before.updated_at:
                    continue  # already merged: a replay
                table[key] = after.SerializeToString()
                conflicts[key] = after.conflict
                metrics.CLAIM_GROUPS.labels("true").set(sum(conflicts.values()))
                metrics.CLAIM_GROUPS.labels("false").set(len(conflicts) - sum(conflicts.values()))
                sent = await groups_topic.send(key=key, value=encode_message(after, settings.output_encoding))
                await sent  # acknowledged before this claim's offset can be committed

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
    return StageSpec(
        service="claims",
        input_topic=settings.topic_entities,
        output_topic=settings.topic_enriched,
        load_model=lambda: load(settings),
        setup=_wire_groups(settings),
    )
