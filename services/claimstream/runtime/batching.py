"""Packing tokenized items into batches under a padded-token budget.

Every batched ONNX model of the package (translation, the e5 encoder) packs its inputs here:
a batch costs rows x longest row, so items are sorted longest first within their group, and
a batch closes when the next item would take it over the budget. Items of different groups
(different models, or length classes) never share a batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol, TypeVar


class Tokenized(Protocol):
    """What batching reads of an item: its token ids and the group it may share a batch with."""

    @property
    def ids(self) -> Sequence[int]: ...

    @property
    def group(self) -> Hashable: ...


T = TypeVar("T", bound=Tokenized)


def token_batches(items: Sequence[T], max_batch_tokens: int, extra_tokens: int = 0) -> list[list[T]]:
    """Batches whose padded size (rows x longest row) stays within `max_batch_tokens`.

    Every item lands in exactly one batch; rows of a batch come longest first, so padding is
    small; an item longer than the budget gets a batch of its own. `extra_tokens` counts the
    special tokens a model adds to each row.
    """
    batches: list[list[T]] = []
    by_group: dict[Hashable, list[T]] = {}
    for item in items:
        by_group.setdefault(item.group, []).append(item)
    for group in by_group.values():
        group.sort(key=lambda item: len(item.ids), reverse=True)
        current: list[T] = []
        longest = 0
        for item in group:
            length = len(item.ids) + extra_tokens
            width = max(longest, length)
            if current and width * (len(current) + 1) > max_batch_tokens:
                batches.append(current)
                current, width = [], length
            current.append(item)
            longest = width
        if current:
            batches.append(current)
    return batches
