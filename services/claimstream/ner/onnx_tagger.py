"""Transformer NER through ONNX Runtime: BIO token classification with sub-word alignment.

The model directory holds what an export of a Hugging Face token-classification
model (XLM-R, BERT, ...) produces: `model.onnx` (inputs `input_ids`,
`attention_mask`, optionally `token_type_ids`; output logits `[batch, tokens, labels]`),
`tokenizer.json` (a fast tokenizer, which gives each sub-word's character offsets)
and `config.json` with `id2label` (`B-PER`, `I-ORG`, `O`, ...).

A word's label is the label of its first sub-word (the convention these models are
trained with); BIO tags over words become entity spans, which map back to character
offsets through the tokenizer's offset mapping. Long texts are cut into windows of
at most `max_length` tokens; windows of all documents are batched by length under a
token budget.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from claimstream.core.model import ModelLoadError
from claimstream.runtime.onnx import Threads, session_options

# CoNLL/WikiANN tag types -> the labels used in Documents (spaCy's names).
TYPE_MAP = {"PER": "PERSON", "PERSON": "PERSON", "ORG": "ORG", "LOC": "LOC", "GPE": "GPE", "MISC": "MISC"}


@dataclass(frozen=True, slots=True)
class TaggedSpan:
    """An entity a tagger found: code-point offsets into the text, end exclusive."""

    start: int
    end: int
    label: str
    confidence: float


@dataclass(frozen=True, slots=True)
class _Window:
    doc: int
    ids: list[int]  # with special tokens
    words: list[int | None]  # word index of each token, None for special tokens
    offsets: list[tuple[int, int]]


@dataclass(slots=True)
class _OpenSpan:
    """The entity `decode_bio` is reading: its span so far, type and word scores."""

    start: int
    end: int
    kind: str
    scores: list[float]


def decode_bio(
    word_tags: Sequence[str], word_scores: Sequence[float], word_spans: Sequence[tuple[int, int]]
) -> list[TaggedSpan]:
    """Merge per-word BIO tags into spans.

    `B-X` starts an entity, `I-X` continues an entity of type X (or starts one after
    `O` or another type, as taggers sometimes emit), `O` ends it. The confidence of
    a span is the mean probability of its words' tags.
    """
    spans: list[TaggedSpan] = []
    current: _OpenSpan | None = None

    def close() -> None:
        if current is not None:
            label = TYPE_MAP.get(str(current.kind), str(current.kind))
            spans.append(TaggedSpan(int(current.start), int(current.end), label, float(np.mean(current.scores))))

    for tag, score, (start, end) in zip(word_tags, word_scores, word_spans, strict=True):
        prefix, _, kind = tag.partition("-")
        if prefix not in ("B", "I", "E", "S") or not kind:
            close()
            current = None
        elif prefix in ("B", "S") or current is None or current.kind != kind:
            close()
            current = _OpenSpan(start, end, kind, [score])
        else:
            current.end = end
            current.scores.append(score)
    close()
    return spans


class OnnxTagger:
    """Batched ONNX Runtime token classification over whole documents."""

    def __init__(self, model_dir: str | Path, providers: Sequence[str] | None = None, threads: int | Threads = 0,
                 max_batch_tokens: int = 4096) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        directory = Path(model_dir)
        paths = {name: directory / name for name in ("model.onnx", "tokenizer.json", "config.json")}
        missing = [name for name, p in paths.items() if not p.is_file()]
        if missing:
            raise ModelLoadError(
                f"ONNX NER model directory {directory} lacks {', '.join(missing)}: it needs model.onnx, "
                "tokenizer.json and config.json (with id2label), as exported from a token-classification model"
            )
        try:
            config = json.loads(paths["config.json"].read_text(encoding="utf-8"))
            self.id2label = {int(k): str(v) for k, v in config["id2label"].items()}
        except (ValueError, KeyError, AttributeError) as exc:
            raise ModelLoadError(f"{paths['config.json']}: no usable id2label ({exc})") from None
        try:
            self.tokenizer = Tokenizer.from_file(str(paths["tokenizer.json"]))
        except Exception as exc:  # tokenizers raises a bare Exception on bad files
            raise ModelLoadError(f"{paths['tokenizer.json']}: cannot load tokenizer ({exc})") from None
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        options = session_options(threads)
        try:
            self.session = ort.InferenceSession(
                str(paths["model.onnx"]), options, providers=list(providers or ["CPUExecutionProvider"])
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelLoadError(f"{paths['model.onnx']}: cannot load ONNX model ({exc})") from None
        self.provider = self.session.get_providers()[0]
        self.input_names = {i.name for i in self.session.get_inputs()}
        if "input_ids" not in self.input_names:
            raise ModelLoadError(f"{paths['model.onnx']}: the model has no 'input_ids' input")
        n_labels = self.session.get_outputs()[0].shape[-1]
        if isinstance(n_labels, int) and n_labels != len(self.id2label):
            raise ModelLoadError(
                f"{directory}: the model has {n_labels} labels but config.json id2label has {len(self.id2label)}"
            )
        max_positions = int(config.get("max_position_embeddings", 514))
        # XLM-R reserves two positions for the padding offset.
        self.max_length = min(512, max_positions - (2 if config.get("model_type") in ("xlm-roberta", "roberta") else 0))
        self.pad_id = int(config.get("pad_token_id") or 0)
        special = self.tokenizer.encode("").ids  # e.g. [CLS, SEP] or [<s>, </s>]
        self.prefix_ids, self.suffix_ids = special[:1], special[1:]
        self.max_batch_tokens = max_batch_tokens
        self.name = directory.name

    def _windows(self, doc_index: int, text: str) -> list[_Window]:
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        ids, words, offsets = enc.ids, enc.word_ids, enc.offsets
        room = max(8, self.max_length - len(self.prefix_ids) - len(self.suffix_ids))
        windows = []
        start = 0
        while start < len(ids):
            end = min(len(ids), start + room)
            # never cut a word in two: step back to the first sub-word of the word at the cut
            while end < len(ids) and end > start + 1 and words[end] is not None and words[end] == words[end - 1]:
                end -= 1
            pad_words: list[int | None] = [None] * len(self.prefix_ids)
            windows.append(_Window(
                doc_index,
                self.prefix_ids + ids[start:end] + self.suffix_ids,
                pad_words + list(words[start:end]) + [None] * len(self.suffix_ids),
                [(0, 0)] * len(self.prefix_ids) + list(offsets[start:end]) + [(0, 0)] * len(self.suffix_ids),
            ))
            start = end
        return windows

    def _run(self, windows: Sequence[_Window]) -> list[np.ndarray]:
        """Label probabilities [tokens, labels] of each window, in batches under the token budget."""
        order = sorted(range(len(windows)), key=lambda k: len(windows[k].ids))
        probs: list[np.ndarray | None] = [None] * len(windows)
        batch: list[int] = []

        def flush() -> None:
            if not batch:
                return
            width = max(len(windows[k].ids) for k in batch)
            ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, k in enumerate(batch):
                n = len(windows[k].ids)
                ids[row, :n] = windows[k].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids}
            if "attention_mask" in self.input_names:
                feeds["attention_mask"] = mask
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            logits = self.session.run(None, feeds)[0].astype(np.float32)
            exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
            p = exp / exp.sum(axis=-1, keepdims=True)
            for row, k in enumerate(batch):
                probs[k] = p[row, : len(windows[k].ids)]
            batch.clear()

        for k in order:
            width = max([len(windows[j].ids) for j in batch] + [len(windows[k].ids)])
            if batch and width * (len(batch) + 1) > self.max_batch_tokens:
                flush()
            batch.append(k)
        flush()
        return [p for p in probs if p is not None]

    def tag(self, texts: Sequence[str]) -> list[list[TaggedSpan]]:
        """Entity spans of each text (code-point offsets into it)."""
        windows = [w for i, text in enumerate(texts) for w in self._windows(i, text)]
        results: list[list[TaggedSpan]] = [[] for _ in texts]
        if not windows:
            return results
        for window, probs in zip(windows, self._run(windows), strict=True):
            tags: list[str] = []
            scores: list[float] = []
            spans: list[tuple[int, int]] = []
            seen: dict[int, int] = {}
            for t, word in enumerate(window.words):
                if word is None:
                    continue
                start, end = window.offsets[t]
                if word in seen:  # a later sub-word: extend the word's span, keep its first sub-word's tag
                    spans[seen[word]] = (spans[seen[word]][0], end)
                    continue
                seen[word] = len(tags)
                best = int(probs[t].argmax())
                tags.append(self.id2label.get(best, "O"))
                scores.append(float(probs[t, best]))
                spans.append((start, end))
            text = texts[window.doc]
            for span in decode_bio(tags, scores, spans):
                # offsets of SentencePiece tokens may include the space before a word
                start, end = span.start, span.end
                while start < end and text[start].isspace():
                    start += 1
                if start < end:
                    results[window.doc].append(TaggedSpan(start, end, span.label, span.confidence))
        return results
