"""PER/ORG/LOC tagging on the project's own encoder: the bundled 4-bit multilingual-e5-small with fine-tuned top layers.

The head in `weights/` (written by `tools/train_ner.py`) holds the top K transformer
layers of multilingual-e5-small after fine-tuning, and a linear classifier over the BIO
tags of every sub-word, stored as fp16 (`ner-e5-head.npz`) with a JSON description
(`ner-e5-head.json`: labels, K, the base weights' SHA-256, training config, dev figures).

At load, `TransformerTagger` builds one ONNX graph: embeddings and the bottom 12-K layers
exactly as `claimstream.encoder.build` builds them (4-bit `MatMulNBits`), then the K
fine-tuned layers (float32 `MatMul`s) and the classifier -> per-token logits. The graph
is cached next to the encoder's builds, under a name made of the head's and the base
weights' hashes, written under a temporary name and renamed (a reader never sees half a
file). A second load finds it and does not rebuild.

Sub-word labels follow the training convention: a word's first sub-word carries its tag,
later sub-words of the same word carry `I-<type>`. So a span can start and end on any
sub-word, which suits scripts without spaces (Chinese, Japanese) and agglutinative ones
(Korean). Tags are decoded per sub-word by Viterbi over the log-probabilities with the
IOB2 constraints (no `I-X` after `O` or after another type), then runs become character
spans through the tokenizer's offsets.

Long texts are cut into overlapping windows (`context` tokens, default 64, at most the
encoder's 510; a new window every `stride` tokens); each token takes its tags from the
window where it is farthest from an edge, so tokens near a cut keep context on both sides.
The head was trained on single sentences: with 510-token windows it lost most entities of
a long text (12 of 60 place names in the test text, all 60 when tagged sentence by sentence).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from claimstream.core.model import ModelLoadError
from claimstream.ner.onnx_tagger import TaggedSpan
from claimstream.runtime.onnx import Threads, select_providers, session_options

log = logging.getLogger(__name__)

LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
TYPES = ("PER", "ORG", "LOC")
HEAD_DIR = Path(__file__).with_name("weights")
HEAD_FILE, CONFIG_FILE = "ner-e5-head.npz", "ner-e5-head.json"
HEAD_FORMAT = "claimstream-ner-e5-head/1"
# Bumped whenever the tagger graph built from the same head changes.
GRAPH_REVISION = 1
GRAPH_FILE = "tagger.onnx"
LOGITS = "logits"
#: the encoder's limit: content tokens of one window at most
WINDOW = 510
#: default tokens per window: the head was trained on single sentences (about 20 tokens),
#: and measured on long texts it loses most entities with 510-token windows
CONTEXT = 64
#: default tokens between window starts (so windows overlap by CONTEXT - STRIDE)
STRIDE = 48


class HeadError(ModelLoadError):
    """The NER head files are missing or corrupt; the message names the file."""


# --- words, sub-words and tags ---------------------------------------------------

def join_words(tokens: Sequence[str], spaced: bool = True) -> tuple[str, list[tuple[int, int]]]:
    """A text from word tokens (joined by one space, or by nothing) and each token's character span."""
    spans, parts, at = [], [], 0
    sep = " " if spaced else ""
    for k, token in enumerate(tokens):
        if k:
            parts.append(sep)
            at += len(sep)
        spans.append((at, at + len(token)))
        parts.append(token)
        at += len(token)
    return "".join(parts), spans


def token_words(offsets: np.ndarray, word_spans: Sequence[tuple[int, int]], length: int) -> np.ndarray:
    """For each sub-word (character offsets [n, 2]) the index of the first word it overlaps, -1 for none."""
    owner = np.full(length + 1, -1, dtype=np.int64)
    for w, (start, end) in enumerate(word_spans):
        owner[start:end] = w
    out = np.full(len(offsets), -1, dtype=np.int64)
    for t, (start, end) in enumerate(offsets.tolist()):
        hit = owner[start:end]
        hit = hit[hit >= 0]
        if len(hit):
            out[t] = hit[0]
    return out


IGNORE = -100  # label id of a sub-word left out of the training loss


def subword_labels(words: np.ndarray, word_tags: Sequence[str]) -> np.ndarray:
    """Label ids of sub-words: a word's first sub-word gets its tag, the rest `I-<type>`.

    A sub-word of no word (a lone "▁" before a word) gets `IGNORE`, left out of the loss:
    labelled O, it would sit inside entities ("Нагибин ▁, Владимир") and teach the model to
    break them; decoding skips such sub-words (see `decode_spans`).
    """
    index = {label: i for i, label in enumerate(LABELS)}
    out = np.zeros(len(words), dtype=np.int64)
    previous = -1
    for t, w in enumerate(words.tolist()):
        if w < 0:
            out[t] = IGNORE
            continue
        tag = word_tags[w]
        if w == previous and tag != "O":
            tag = "I-" + tag[2:]
        out[t] = index.get(tag, 0)
        previous = w
    return out


def _allowed() -> np.ndarray:
    """allowed[a, b]: tag b may follow tag a under IOB2 (row len(LABELS): the start)."""
    n = len(LABELS)
    allowed = np.ones((n + 1, n), dtype=bool)
    for b, tag in enumerate(LABELS):
        if tag.startswith("I-"):
            kind = tag[2:]
            for a in range(n + 1):
                allowed[a, b] = a < n and LABELS[a] in (f"B-{kind}", f"I-{kind}")
    return allowed


_ALLOWED = _allowed()


def viterbi(log_probs: np.ndarray) -> np.ndarray:
    """The best IOB2-valid tag sequence for log-probabilities [n, labels]."""
    n = len(log_probs)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    penalty = np.where(_ALLOWED, 0.0, -1e9)
    score = log_probs[0] + penalty[-1]
    back = np.zeros((n, len(LABELS)), dtype=np.int64)
    for t in range(1, n):
        total = score[:, None] + penalty[:-1]
        back[t] = total.argmax(axis=0)
        score = total.max(axis=0) + log_probs[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _word_char(ch: str) -> bool:
    """A letter, mark or digit of a script written with spaces (Han and kana are written without)."""
    return unicodedata.category(ch)[0] in "LMN" and not _UNSPACED.match(ch)


_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span that starts or ends inside a space-delimited word to the whole word.

    The training data labels whole words, so a span cut inside one (a sub-word tagged O
    after the entity's first sub-words, as in "Китае|м") is a decoding slip, not a finding.
    Scripts written without spaces (Han, kana) are left as they are.
    """
    while start > 0 and _word_char(text[start - 1]) and _word_char(text[start]):
        start -= 1
    while end < len(text) and _word_char(text[end]) and _word_char(text[end - 1]):
        end += 1
    return start, end


def decode_spans(text: str, offsets: np.ndarray, probs: np.ndarray, snap: bool = True) -> list[TaggedSpan]:
    """Entity spans (character offsets, label PER/ORG/LOC, mean max-probability) from sub-word probabilities.

    `snap`: widen spans cut inside a word to the whole word (see `snap_to_words`).
    Sub-words that carry only a space (the tokenizer's lone "▁" before a word it has no
    "▁word" piece for: many Korean and Devanagari words, punctuation after a space) belong to
    no word, so they take no part: they neither end an entity nor start one.
    """
    real = [t for t, (a, b) in enumerate(offsets.tolist()) if text[a:b].strip()]
    if len(real) < len(offsets):
        offsets, probs = offsets[real], probs[real]
    if not len(offsets):
        return []
    tags = viterbi(np.log(np.maximum(probs, 1e-12)))
    best = probs.max(axis=1)
    spans: list[TaggedSpan] = []
    current: list[Any] | None = None  # [start, end, type, scores]

    def close() -> None:
        if current is None:
            return
        start, end = int(current[0]), int(current[1])
        while start < end and text[start].isspace():  # a sub-word's offsets may include the space before it
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            if snap:
                start, end = snap_to_words(text, start, end)
            spans.append(TaggedSpan(start, end, current[2], float(np.mean(current[3]))))

    for t, tag_id in enumerate(tags.tolist()):
        tag = LABELS[tag_id]
        start, end = (int(x) for x in offsets[t])
        if tag == "O":
            close()
            current = None
        elif tag.startswith("B-") or current is None or current[2] != tag[2:]:
            close()
            current = [start, end, tag[2:], [float(best[t])]]
        else:
            current[1] = max(current[1], end)
            current[3].append(float(best[t]))
    close()
    if snap:  # widening can make neighbours overlap: keep the first of each overlapping run
        kept: list[TaggedSpan] = []
        for span in spans:
            if not kept or span.start >= kept[-1].end:
                kept.append(span)
        spans = kept
    return spans


def window_starts(n: int, window: int = WINDOW, stride: int = STRIDE) -> list[int]:
    """Start of each window over n tokens: every `stride` tokens, the last one flush with the end."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window, stride))
    starts.append(n - window)
    return starts


def best_window(n: int, starts: Sequence[int], window: int = WINDOW) -> np.ndarray:
    """For each of n tokens, the index of the window (from `starts`) where it is farthest from an edge."""
    best = np.full(n, -1, dtype=np.int64)
    choice = np.zeros(n, dtype=np.int64)
    for w, start in enumerate(starts):
        end = min(n, start + window)
        position = np.arange(start, end)
        margin = np.minimum(position - start, start + window - 1 - position)
        better = margin > best[start:end]
        best[start:end][better] = margin[better]
        choice[start:end][better] = w
    return choice


# --- the head files ------------------------------------------------------------

def read_head(directory: str | Path | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray], str]:
    """The head's JSON description, its arrays (float32) and a content hash of both files; raises HeadError."""
    root = Path(directory) if directory is not None else HEAD_DIR
    config_path, head_path = root / CONFIG_FILE, root / HEAD_FILE
    fix = "retrain it with `python tools/train_ner.py` or restore the file from the repository"
    for path in (config_path, head_path):
        if not path.is_file():
            raise HeadError(f"{path}: NER head file not found; {fix}")
    try:
        raw_config = config_path.read_bytes()
        config = json.loads(raw_config)
        if config.get("format") != HEAD_FORMAT:
            raise ValueError(f"format is {config.get('format')!r}, expected {HEAD_FORMAT!r}")
        top, bottom = int(config["top_layers"]), int(config["bottom_layers"])
        if tuple(config["labels"]) != LABELS:
            raise ValueError(f"labels {config['labels']} are not {list(LABELS)}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HeadError(f"{config_path}: not a usable NER head description ({exc}); {fix}") from None
    try:
        raw_head = head_path.read_bytes()
        with np.load(head_path, allow_pickle=False) as data:
            arrays = {name: data[name].astype(np.float32) for name in data.files}
    except Exception as exc:  # numpy/zipfile raise many types on a corrupt file
        raise HeadError(f"{head_path}: corrupt NER head ({type(exc).__name__}: {exc}); {fix}") from None
    needed = [f"l{i}.{p}" for i in range(bottom, bottom + top)
              for p in ("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w", "q.b", "k.b", "v.b", "ao.b", "aln.w",
                        "aln.b", "fi.b", "fo.b", "oln.w", "oln.b")] + ["cls.w", "cls.b"]
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise HeadError(f"{head_path}: corrupt NER head, lacks {', '.join(missing[:4])}; {fix}")
    if arrays["cls.w"].shape[0] != len(LABELS) or not all(np.all(np.isfinite(a)) for a in arrays.values()):
        raise HeadError(f"{head_path}: corrupt NER head (classifier shape {arrays['cls.w'].shape} or non-finite "
                        f"values); {fix}")
    digest = hashlib.sha256(raw_config + b"\0" + raw_head).hexdigest()
    return config, arrays, digest


def tagger_graph(weights: Any, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The tagger as an onnx.ModelProto: bundled 4-bit bottom layers, the head's top layers and classifier."""
    from onnx import TensorProto, helper, numpy_helper

    from claimstream.encoder.build import encoder_graph, hidden_after

    bottom, top = int(config["bottom_layers"]), int(config["top_layers"])
    model = encoder_graph(weights, "q4", stop_after=bottom)
    graph = model.graph
    c = weights.config
    counter = iter(range(1_000_000))

    def const(name: str, array: np.ndarray, dtype: Any = np.float32) -> str:
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        return name

    def op(op_type: str, inputs: Sequence[str], outputs: int = 1, domain: str = "", name: str | None = None,
           **attrs: Any) -> Any:
        k = next(counter)
        names = [name] if name else [f"head_{op_type.lower()}_{k}_{i}" for i in range(outputs)]
        graph.node.append(helper.make_node(op_type, list(inputs), names, name=f"head_{op_type}_{k}", domain=domain,
                                           **attrs))
        return names[0] if outputs == 1 else names

    def linear(x: str, prefix: str, weight: np.ndarray, bias: np.ndarray) -> str:
        return op("Add", [op("MatMul", [x, const(f"{prefix}.weight", weight.T)]), const(f"{prefix}.bias", bias)])

    def norm(x: str, prefix: str, a: dict[str, np.ndarray]) -> str:
        return op("LayerNormalization", [x, const(f"{prefix}.w", a[f"{prefix}.w"]), const(f"{prefix}.b",
                                                                                        a[f"{prefix}.b"])],
                  axis=-1, epsilon=c.eps)

    mask = op("Cast", ["attention_mask"], to=TensorProto.INT32)
    x = hidden_after(bottom)
    a = {f"head.{k}": v for k, v in arrays.items()}
    for i in range(bottom, bottom + top):
        p = f"head.l{i}"
        qkv = linear(x, f"{p}.qkv", np.concatenate([a[f"{p}.q.w"], a[f"{p}.k.w"], a[f"{p}.v.w"]]),
                     np.concatenate([a[f"{p}.q.b"], a[f"{p}.k.b"], a[f"{p}.v.b"]]))
        split = const(f"{p}.split", np.array([c.hidden] * 3), np.int64)
        q, k, v = op("Split", [qkv, split], 3, axis=-1)
        context = op("MultiHeadAttention", [q, k, v, "", mask], domain="com.microsoft", num_heads=c.heads)
        x = norm(op("Add", [linear(context, f"{p}.ao", a[f"{p}.ao.w"], a[f"{p}.ao.b"]), x]), f"{p}.aln", a)
        mid = op("Gelu", [linear(x, f"{p}.fi", a[f"{p}.fi.w"], a[f"{p}.fi.b"])], domain="com.microsoft")
        x = norm(op("Add", [linear(mid, f"{p}.fo", a[f"{p}.fo.w"], a[f"{p}.fo.b"]), x]), f"{p}.oln", a)
    logits = op("Add", [op("MatMul", [x, const("head.cls.weight", a["head.cls.w"].T)]),
                        const("head.cls.bias", a["head.cls.b"])], name=LOGITS)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(logits, TensorProto.FLOAT, ["batch", "tokens", len(LABELS)]))
    graph.name = f"multilingual-e5-small-ner-top{top}"
    return model


def build_tagger(head_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 weights: str | Path | None = None) -> tuple[Path, dict[str, Any], bool]:
    """The cached tagger graph for this head and base weights (built if missing): (path, head config, fresh)."""
    from claimstream.encoder.build import default_cache_dir
    from claimstream.encoder.weights import bundled_weights, file_digest

    config, arrays, head_digest = read_head(head_dir)
    source = Path(weights) if weights is not None else bundled_weights()
    base = file_digest(source)
    if config.get("base_sha256") and config["base_sha256"] != base:
        raise HeadError(f"{Path(head_dir or HEAD_DIR) / CONFIG_FILE}: the head was trained on base weights "
                        f"{config['base_sha256'][:16]}..., but {source} has {base[:16]}...; retrain the head "
                        "(`python tools/train_ner.py`) for these weights")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha256(f"{head_digest}:{base}:{GRAPH_REVISION}".encode()).hexdigest()[:20]
    final = root / f"ner-e5-top{config['top_layers']}-{key}" / GRAPH_FILE
    if final.is_file():
        return final, config, False
    try:
        import onnx
    except ImportError:
        raise ModelLoadError(f"{final} is not built yet, and building it needs the onnx package "
                             "(`pip install onnx`)") from None
    from claimstream.encoder.weights import read_weights

    model = tagger_graph(read_weights(source), config, arrays)
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{GRAPH_FILE}.", dir=final.parent)
    os.close(handle)
    try:
        onnx.save_model(model, tmp)
        os.replace(tmp, final)  # atomic: a concurrent build ends with one complete file either way
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("built NER tagger graph %s", final)
    return final, config, True


# --- the tagger ------------------------------------------------------------------

class TransformerTagger:
    """PER/ORG/LOC spans from the e5 encoder with the shipped fine-tuned head, through ONNX Runtime."""

    def __init__(self, head_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 threads: int | Threads = 0,
                 provider: str = "auto", max_batch_tokens: int = 8192, context: int = CONTEXT,
                 stride: int = STRIDE, weights: str | Path | None = None) -> None:
        """Load the head in `head_dir` (default: the shipped one), building the graph on first use.

        `cache_dir`: where graphs live (default the encoder's cache); `threads`: intra-op
        threads (0: one per core); `provider`: auto/cpu/cuda/tensorrt; `max_batch_tokens`:
        padded rows x longest row per ONNX Runtime call; `context`: tokens per window (at most 510);
        `stride`: tokens between the starts of the overlapping windows of a longer text.
        """
        import onnxruntime as ort

        from claimstream.encoder.model import Encoder

        self.graph, self.config, self.built = build_tagger(head_dir, cache_dir, weights)
        # The encoder's tokenizer (engine-identical ids and offsets), as in training.
        self._encoder = Encoder(weights, cache_dir=cache_dir, threads=1, provider="cpu")
        options = session_options(threads)
        try:
            self.session = ort.InferenceSession(str(self.graph), options,
                                                providers=select_providers(provider))
        except Exception as exc:  # ORT raises its own types
            raise ModelLoadError(f"{self.graph}: the NER tagger graph cannot be loaded ({exc}); delete it to "
                                 "rebuild") from None
        self.provider = self.session.get_providers()[0]
        self.max_batch_tokens = max_batch_tokens
        if not 0 < context <= WINDOW or not 0 < stride <= context:
            raise ValueError(f"need 0 < stride <= context <= {WINDOW}, not stride {stride}, context {context}")
        self.context, self.stride = context, stride
        self.name = f"e5-small-q4-ner-top{self.config['top_layers']}"

    def _probs(self, rows: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Label probabilities [len, labels] of each row of content ids (<s>/</s> added), batched by token budget."""
        enc = self._encoder
        order = sorted(range(len(rows)), key=lambda k: len(rows[k]), reverse=True)
        out: list[np.ndarray | None] = [None] * len(rows)
        k = 0
        while k < len(order):
            width = len(rows[order[k]]) + 2
            count = max(1, self.max_batch_tokens // width)
            batch = order[k: k + count]
            k += count
            ids = np.full((len(batch), width), enc.pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for r, j in enumerate(batch):
                n = len(rows[j])
                ids[r, 0], ids[r, 1: n + 1], ids[r, n + 1] = enc.bos, rows[j], enc.eos
                mask[r, : n + 2] = 1
            (logits,) = self.session.run([LOGITS], {"input_ids": ids, "attention_mask": mask})
            logits = logits - logits.max(axis=-1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=-1, keepdims=True)
            for r, j in enumerate(batch):
                out[j] = probs[r, 1: len(rows[j]) + 1]
        return [p for p in out if p is not None]

    def tokenize(self, texts: Sequence[str]) -> list[Any]:
        """Each text's sub-words as the tagger sees them (the encoder's `ids` and character `offsets`)."""
        return self._encoder.tokenize(texts)

    def tag(self, texts: Sequence[str]) -> list[list[TaggedSpan]]:
        """PER/ORG/LOC spans of each text: character offsets (end exclusive), label, mean max-probability."""
        tokens = self.tokenize(texts)
        rows: list[np.ndarray] = []
        plan: list[tuple[list[int], list[int]]] = []  # per text: window starts, row indices
        for tok in tokens:
            starts = window_starts(len(tok.ids), self.context, self.stride)
            plan.append((starts, list(range(len(rows), len(rows) + len(starts)))))
            rows.extend(tok.ids[s: s + self.context] for s in starts)
        probs = self._probs(rows)
        results = []
        for text, tok, (starts, indices) in zip(texts, tokens, plan, strict=True):
            n = len(tok.ids)
            if len(starts) == 1:
                merged = probs[indices[0]]
            else:
                choice = best_window(n, starts, self.context)
                merged = np.stack([probs[indices[w]][t - starts[w]] for t, w in enumerate(choice.tolist())])
            results.append(decode_spans(text, tok.offsets, merged) if n and text.strip() else [])
        return results

    def warmup(self) -> None:
        """One tiny batch, so the first real call pays no lazy initialization."""
        self.tag(["warm-up"])

    def close(self) -> None:
        """Release the sessions."""
        self.session = None
        self._encoder.close()

    def describe(self) -> dict[str, Any]:
        """What is loaded (for logs and benchmarks)."""
        return {"name": self.name, "provider": self.provider, "graph": str(self.graph),
                "top_layers": self.config["top_layers"], "dev": self.config.get("dev", {})}
