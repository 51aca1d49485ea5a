"""Token-budget batching shared by translation and the e5 encoder (runtime.batching)."""

from __future__ import annotations

from dataclasses import dataclass

from claimstream.runtime.batching import token_batches
from claimstream.translate.segment import Piece


@dataclass
class _Item:
    ids: list[int]
    group: int


def test_token_batches_respect_budget_and_keep_every_piece() -> None:
    pieces = [Piece(doc=i % 3, field=0, block=0, sentence=i, part=0, ids=[1] * (1 + (i * 7) % 23), group="m")
              for i in range(40)]
    batches = token_batches(pieces, 64)
    assert sorted(id(p) for b in batches for p in b) == sorted(id(p) for p in pieces)
    for batch in batches:
        width = max(len(p.ids) for p in batch)
        assert width * len(batch) <= 64 or len(batch) == 1
        assert [len(p.ids) for p in batch] == sorted((len(p.ids) for p in batch), reverse=True)


def test_token_batches_never_mix_models() -> None:
    pieces = [Piece(0, 0, 0, i, 0, [1, 2], "a" if i % 2 else "b") for i in range(6)]
    for batch in token_batches(pieces, 1000):
        assert len({p.group for p in batch}) == 1


def test_special_tokens_count_against_the_budget() -> None:
    items = [_Item([1] * 8, 0) for _ in range(4)]
    assert [len(b) for b in token_batches(items, 40)] == [4]
    # two special tokens per row make each row 10 wide: four rows no longer fit in 36
    assert [len(b) for b in token_batches(items, 36, extra_tokens=2)] == [3, 1]


def test_an_item_over_the_budget_gets_a_batch_of_its_own() -> None:
    items = [_Item([1] * 100, 0), _Item([1] * 3, 0), _Item([1] * 2, 0)]
    batches = token_batches(items, 10)
    assert [[len(i.ids) for i in b] for b in batches] == [[100], [3, 2]]
