"""Greedy and beam search over an exported encoder-decoder, with ONNX Runtime.

The encoder runs once per batch. The decoder runs once per generated token with the
past keys/values of every layer, so the prefix is never recomputed; the `reorder`
input picks which past row each new row continues, so beam reordering and dropping
finished rows cost no extra pass. Scoring follows `transformers`' `generate()`
(log-softmax, processors, length penalty, early-stop heuristic with
`early_stopping=False`) so the ONNX path yields the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_NEG = np.float32(-np.inf)


@dataclass(frozen=True)
class SearchOptions:
    """How to decode: beam size 1 is greedy; lengths count generated tokens (the start token not included)."""

    beam_size: int = 1
    max_new_tokens: int = 256
    min_new_tokens: int = 0
    length_penalty: float = 1.0
    no_repeat_ngram: int = 0
    forced_bos: int | None = None  # target-language token of multilingual models (NLLB, M2M100)


@dataclass
class Vocabulary:
    """The special token ids a decoder needs."""

    pad: int
    eos: int
    decoder_start: int
    forced_eos: int | None = None
    banned: Sequence[int] = field(default_factory=tuple)


def _banned_ngram_tokens(seq: Sequence[int], n: int) -> list[int]:
    """Tokens that would repeat an n-gram already in `seq` (as transformers' NoRepeatNGram)."""
    if len(seq) + 1 < n:
        return []
    prefix = tuple(seq[len(seq) - n + 1:]) if n > 1 else ()
    banned = []
    for i in range(len(seq) - n + 1):
        if tuple(seq[i:i + n - 1]) == prefix:
            banned.append(seq[i + n - 1])
    return banned


def _process(logp: np.ndarray, seqs: Sequence[Sequence[int]], step: int, opts: SearchOptions,
             vocab: Vocabulary) -> np.ndarray:
    """Apply the logits processors to log-probs [rows, vocab] in place; `step` = tokens generated so far."""
    if opts.no_repeat_ngram > 0:
        for row, seq in enumerate(seqs):
            banned = _banned_ngram_tokens(seq, opts.no_repeat_ngram)
            if banned:
                logp[row, banned] = _NEG
    if step < opts.min_new_tokens:
        logp[:, vocab.eos] = _NEG
    if vocab.banned:
        logp[:, list(vocab.banned)] = _NEG
    if step == 0 and opts.forced_bos is not None:
        logp[:] = _NEG
        logp[:, opts.forced_bos] = 0.0
    if step == opts.max_new_tokens - 1 and vocab.forced_eos is not None:
        logp[:] = _NEG
        logp[:, vocab.forced_eos] = 0.0
    return logp


class Decoder:
    """Runs the exported encoder and decoder sessions; `generate` returns generated ids per source."""

    def __init__(self, encoder: Any, decoder: Any, n_layers: int, heads: int, head_dim: int,
                 vocab: Vocabulary) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.n_layers = n_layers
        self.heads = heads
        self.head_dim = head_dim
        self.vocab = vocab
        self.past_names = [f"past_{k}_{i}" for i in range(n_layers) for k in ("k", "v")]
        self.cross_names = [f"cross_{k}_{i}" for i in range(n_layers) for k in ("k", "v")]
        self.output_names = ["log_probs", *(f"present_{k}_{i}" for i in range(n_layers) for k in ("k", "v"))]

    def _encode(self, sources: Sequence[Sequence[int]]) -> tuple[list[np.ndarray], np.ndarray]:
        width = max(len(s) for s in sources)
        ids = np.full((len(sources), width), self.vocab.pad, dtype=np.int64)
        mask = np.zeros((len(sources), width), dtype=np.int64)
        for row, src in enumerate(sources):
            ids[row, :len(src)] = src
            mask[row, :len(src)] = 1
        cross = self.encoder.run(self.cross_names, {"input_ids": ids, "attention_mask": mask})
        return cross, mask

    def _step(self, tokens: np.ndarray, mask: np.ndarray, reorder: np.ndarray, past: list[Any],
              cross: list[np.ndarray]) -> tuple[np.ndarray, list[Any]]:
        """One decoder step: log-probs [rows, vocab] as numpy and the presents as ORT-owned values.

        The presents are handed back to the next step as `OrtValue`s, never converted to numpy:
        `session.run` would copy every layer's whole past out of ONNX Runtime each step (and
        those copies grow with the length). Numpy inputs are wrapped without a copy.
        """
        wrap = self._ort_value
        feeds: dict[str, Any] = {
            "input_ids": wrap(np.ascontiguousarray(tokens.reshape(-1, 1))),
            "encoder_attention_mask": wrap(mask), "reorder": wrap(reorder),
        }
        feeds.update(zip(self.past_names, past, strict=True))
        feeds.update((name, wrap(c)) for name, c in zip(self.cross_names, cross, strict=True))
        out = self.decoder.run_with_ort_values(self.output_names, feeds)
        return out[0].numpy(), list(out[1:])

    @staticmethod
    def _ort_value(array: np.ndarray) -> Any:
        import onnxruntime as ort

        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))

    def _empty_past(self, rows: int) -> list[Any]:
        empty = self._ort_value(np.zeros((rows, self.heads, 0, self.head_dim), dtype=np.float32))
        return [empty] * (2 * self.n_layers)

    def generate(self, sources: Sequence[Sequence[int]], opts: SearchOptions) -> list[list[int]]:
        """Generated token ids (ending with eos when the model ended the sentence) for each source."""
        if not sources:
            return []
        if opts.beam_size <= 1:
            return self._greedy(sources, opts)
        return self._beam(sources, opts)

    def _greedy(self, sources: Sequence[Sequence[int]], opts: SearchOptions) -> list[list[int]]:
        cross, mask = self._encode(sources)
        n = len(sources)
        seqs: list[list[int]] = [[self.vocab.decoder_start] for _ in range(n)]
        active = np.arange(n)
        reorder = np.arange(n, dtype=np.int64)
        past = self._empty_past(n)
        for step in range(opts.max_new_tokens):
            if step == opts.max_new_tokens - 1 and self.vocab.forced_eos is not None:
                # `_process` forces eos at the limit whatever the scores, and no later step needs
                # the cache: this step's decoder pass would be thrown away.
                chosen = np.full(len(active), self.vocab.forced_eos, dtype=np.int64)
            else:
                tokens = np.array([seqs[i][-1] for i in active], dtype=np.int64)
                logp, past = self._step(tokens, mask, reorder, past, cross)
                _process(logp, [seqs[i] for i in active], step, opts, self.vocab)
                chosen = logp.argmax(axis=-1)
            for row, i in enumerate(active):
                seqs[i].append(int(chosen[row]))
            keep = chosen != self.vocab.eos
            if not keep.any():
                break
            if keep.all():
                reorder = np.arange(len(active), dtype=np.int64)
            else:
                # Finished rows leave the batch: later steps compute only the open ones.
                reorder = np.flatnonzero(keep).astype(np.int64)
                active = active[keep]
                mask = mask[keep]
                cross = [c[keep] for c in cross]
        return [seq[1:] for seq in seqs]

    def _beam(self, sources: Sequence[Sequence[int]], opts: SearchOptions) -> list[list[int]]:
        nb = opts.beam_size
        lp = opts.length_penalty
        max_length = opts.max_new_tokens + 1  # transformers counts the start token
        cross, mask = self._encode(sources)
        n = len(sources)
        cross = [np.repeat(c, nb, axis=0) for c in cross]
        mask = np.repeat(mask, nb, axis=0)
        items = list(range(n))  # batch items still searching, in row-block order
        beams: list[list[list[int]]] = [[[self.vocab.decoder_start] for _ in range(nb)] for _ in range(n)]
        scores = np.zeros((n, nb), dtype=np.float32)
        scores[:, 1:] = -1e9
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(n)]
        reorder = np.arange(n * nb, dtype=np.int64)
        past = self._empty_past(n * nb)
        cur_len = 1
        k = 2 * nb
        while True:
            tokens = np.array([beams[i][b][-1] for i in items for b in range(nb)], dtype=np.int64)
            logp, past = self._step(tokens, mask, reorder, past, cross)
            step = cur_len - 1
            _process(logp, [beams[i][b] for i in items for b in range(nb)], step, opts, self.vocab)
            vocab_size = logp.shape[1]
            total = (logp.reshape(len(items), nb, vocab_size) + scores[:, :, None]).reshape(len(items), -1)
            top = np.argpartition(-total, k - 1, axis=1)[:, :k]
            top_scores = np.take_along_axis(total, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            top_scores = np.take_along_axis(top_scores, order, axis=1)
            src_beam, token = top // vocab_size, top % vocab_size
            at_limit = cur_len + 1 >= max_length
            hits = (token == self.vocab.eos) | at_limit
            running = top_scores + hits * np.float32(-1e9)
            pick = np.argsort(-running, axis=1, kind="stable")[:, :nb]
            new_scores = np.take_along_axis(running, pick, axis=1)
            new_beams: list[list[list[int]]] = []
            new_reorder = []
            still_open = []
            for row, i in enumerate(items):
                for c in range(nb):  # only the top num_beams candidates may finish
                    if hits[row, c]:
                        seq = beams[i][src_beam[row, c]] + [int(token[row, c])]
                        score = float(top_scores[row, c]) / (cur_len ** lp)
                        finished[i].append((score, seq))
                finished[i].sort(key=lambda item: -item[0])
                del finished[i][nb:]
                item_beams = []
                for c in pick[row]:
                    item_beams.append(beams[i][src_beam[row, c]] + [int(token[row, c])])
                    new_reorder.append(row * nb + int(src_beam[row, c]))
                new_beams.append(item_beams)
                # transformers' heuristic: stop an item once its best running beam, at the current
                # length, cannot beat the worst of num_beams finished hypotheses.
                best_possible = float(new_scores[row, 0]) / (cur_len ** lp)
                full = len(finished[i]) == nb
                still_open.append(not (full and best_possible <= finished[i][-1][0]))
            cur_len += 1
            for row, i in enumerate(items):
                beams[i] = new_beams[row]
            open_mask = np.array(still_open)
            if at_limit or not open_mask.any():
                break
            reorder = np.array(new_reorder, dtype=np.int64)
            scores = new_scores
            if not open_mask.all():
                rows = np.repeat(open_mask, nb)
                reorder = reorder[rows]
                mask, cross = mask[rows], [c[rows] for c in cross]
                scores = scores[open_mask]
                items = [i for i, keep in zip(items, still_open, strict=True) if keep]
        return [finished[i][0][1][1:] if finished[i] else beams[i][0][1:] for i in range(n)]
