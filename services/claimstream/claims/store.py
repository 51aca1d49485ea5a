"""The claim-group stores: claim key -> its group, each kept with its indexes (`groups.IndexedGroup`).

- `ClaimGroups`, in memory: the in-process pipeline (`enrich`, the gateway) and tests;
- `GroupStore`, the stream's: the groups of the claims.groups partitions one claims worker
  owns, rebuilt from that partition of claims.groups (the topic is the store's changelog)
  the first time the worker merges a claim of it, dropped when the partition is revoked.

Both merge with `IndexedGroup.merge`, which says whether the group changed: merging is
idempotent by (document id, claim span), so a replay changes nothing and emits nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from kafka import TopicPartition

from claimstream.claims.groups import IndexedGroup
from claimstream.core import metrics
from claimstream.core.schema import ClaimGroup, Document, parse_message
from claimstream.core.settings import Settings
from claimstream.kafka.clients import iter_to_end

log = logging.getLogger(__name__)


def latest_groups(records: Iterable[Any]) -> dict[bytes, ClaimGroup]:
    """The latest group of each key among claims.groups records (the changelog's current state)."""
    latest: dict[bytes, ClaimGroup] = {}
    for record in records:
        group = parse_message(ClaimGroup, record.value)
        if group is not None and record.key:
            latest[record.key] = group
    return latest


class ClaimGroups:
    """In-memory claim-group store: claim key -> ClaimGroup (each kept with its indexes)."""

    def __init__(self, tolerance: float = 0.10) -> None:
        self.tolerance = tolerance
        self._groups: dict[str, IndexedGroup] = {}

    def get(self, key: str) -> bytes | None:
        """The serialized group under `key` (the table interface)."""
        indexed = self._groups.get(key)
        return indexed.group.SerializeToString() if indexed is not None else None

    def set(self, key: str, value: bytes) -> None:
        group = ClaimGroup()
        group.ParseFromString(value)
        self._groups[key] = IndexedGroup(self.tolerance, group)

    def merge_document(self, doc: Document) -> list[ClaimGroup]:
        """Merge every keyed claim of `doc`; returns the groups that changed (the store's own, which
        later merges update in place)."""
        changed: dict[str, ClaimGroup] = {}
        for claim in doc.claims:
            if not claim.key:
                continue
            indexed = self._groups.get(claim.key)
            if indexed is None:
                indexed = IndexedGroup(self.tolerance)
                if indexed.merge(claim, doc):
                    self._groups[claim.key] = indexed
            elif not indexed.merge(claim, doc):
                continue
            changed[claim.key] = indexed.group
        return list(changed.values())

    def groups(self) -> list[ClaimGroup]:
        """Every group, sorted by key."""
        return sorted((indexed.group for indexed in self._groups.values()), key=lambda g: g.key)

    def __getitem__(self, key: str) -> ClaimGroup:
        return self._groups[key].group

    def __contains__(self, key: object) -> bool:
        return key in self._groups

    def __len__(self) -> int:
        return len(self._groups)


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

        The end is where the broker's end offset has been passed and `quiet_polls` polls came
        back empty (the embedded broker's end offset can be lower than its last record). No idle
        timeout: merging into a partial store would re-emit groups without their history.
        """
        started = time.monotonic()
        tp = TopicPartition(self.settings.topic_groups, partition)
        latest = latest_groups(iter_to_end(self.settings, partitions=[tp], idle_timeout=None, quiet_polls=quiet_polls))
        tolerance = self.settings.claims_conflict_tolerance
        groups = {key: IndexedGroup(tolerance, group) for key, group in latest.items()}
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
