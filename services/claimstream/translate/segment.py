"""Cutting documents into translatable pieces and packing them into batches.

A document becomes blocks (lines, with the exact whitespace between them kept),
blocks become sentences (`core.sentences`, script-aware: Latin `.?!`, Hindi danda
`।`/`॥`, Arabic and Persian `؟` and Urdu `۔`, CJK `。！？`), and a sentence longer than the model
takes is cut at token level on a word boundary. Pieces are sorted by length and
packed into batches under a padded-token budget (`runtime.batching`); `reassemble` puts the
translations back in document order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from claimstream.core.sentences import sentence_spans

# Tokens after which a cut is least harmful, when a sentence must be cut.
CLAUSE_MARKS = frozenset(",;:،؛、，；：-–—")

_BLOCK_SEPARATOR = re.compile(r"[ \t\r]*\n\s*")


def _has_letters(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def needs_model(text: str) -> bool:
    """Whether a sentence has anything to translate: only digits/punctuation/symbols pass through."""
    return _has_letters(text)


def split_blocks(text: str) -> tuple[list[str], list[str]]:
    """Lines of `text` and the exact separators between them (`len(seps) == len(blocks) - 1`).

    Leading/trailing whitespace of the whole text is kept as separators around empty blocks,
    so `join_blocks(*split_blocks(t)) == t` for every `t`.
    """
    blocks: list[str] = []
    seps: list[str] = []
    pos = 0
    for match in _BLOCK_SEPARATOR.finditer(text):
        blocks.append(text[pos:match.start()])
        seps.append(match.group(0))
        pos = match.end()
    blocks.append(text[pos:])
    return blocks, seps


def join_blocks(blocks: Sequence[str], seps: Sequence[str]) -> str:
    """Inverse of `split_blocks`."""
    out = [blocks[0]]
    for sep, block in zip(seps, blocks[1:], strict=True):
        out.append(sep)
        out.append(block)
    return "".join(out)


def split_sentences(block: str) -> list[str]:
    """Sentences of one line of text, each stripped; empty input gives no sentences
    (`core.sentences`: the splitter every stage shares)."""
    return [block[start:end] for start, end in sentence_spans(block)]


def cut_tokens(
    ids: Sequence[int], limit: int, is_word_start: Callable[[int], bool], is_clause_end: Callable[[int], bool]
) -> list[list[int]]:
    """Cut a token sequence into runs of at most `limit` tokens.

    Each cut goes after the last clause mark (comma, semicolon, ...) that keeps the run
    within the limit, else before the last token that starts a word, else at the limit
    (a single "word" longer than the limit, e.g. a very long number).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    runs: list[list[int]] = []
    pos = 0
    n = len(ids)
    while n - pos > limit:
        window_end = pos + limit
        cut = 0
        for i in range(window_end - 1, pos, -1):
            if is_clause_end(ids[i - 1]) and is_word_start(ids[i]):
                cut = i
                break
        # A clause cut that leaves a tiny run is worse than a word cut near the limit.
        if cut - pos < limit // 2:
            cut = 0
            for i in range(window_end, pos, -1):
                if i < n and is_word_start(ids[i]):
                    cut = i
                    break
        if cut <= pos:
            cut = window_end
        runs.append(list(ids[pos:cut]))
        pos = cut
    if pos < n:
        runs.append(list(ids[pos:]))
    return runs


@dataclass
class Piece:
    """One unit the model translates: source token ids and where the result goes."""

    doc: int          # index of the document in the batch
    field: int        # 0: text, 1: title
    block: int        # line within the field
    sentence: int     # sentence within the line
    part: int         # run within an over-long sentence
    ids: list[int]    # source token ids, without special tokens
    group: str        # model key (pieces of different models never share a batch)
    source_lang: str = ""

