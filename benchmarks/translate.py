"""Translate benchmark: target tokens/s and docs/s of the ONNX path against transformers and CTranslate2.

The model has OPUS-MT's architecture (d_model 512, 6+6 layers, 8 heads, 58,101-token
vocabulary), randomly initialised because no trained model can be downloaded here;
it is built once into the cache directory with `tests/fixtures/tiny_marian.py`,
exported with `export_model` (fp32, int8) and converted with CTranslate2's own
converter (float32, int8). Every system decodes greedily with the output length
fixed (min = max new tokens), so all runs do the same work. Each row is the best of
`--repeat` passes (the CPU may be shared), and the note records the load average.

    python -m benchmarks.translate [--quick] [--threads 2] [--repeat 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from claimstream.runtime.batching import token_batches
from claimstream.translate.export import EXPORT_REVISION, export_model
from claimstream.translate.model import OnnxTranslator
from claimstream.translate.search import SearchOptions
from claimstream.translate.segment import Piece

from benchmarks.harness import measure, print_table, save_results
from tests.fixtures.tiny_marian import CORPUS, build_opus_mt_sized


def _prepare(cache: Path) -> dict[str, Path]:
    """Checkpoint, ONNX fp32/int8 and CTranslate2 float32/int8 directories, built once."""
    import ctranslate2

    paths = {"hf": build_opus_mt_sized(cache / "opus-mt-sized")}
    for dtype in ("fp32", "int8"):
        out = cache / f"onnx-{dtype}"
        manifest = out / "manifest.json"
        if not manifest.is_file() or json.loads(manifest.read_text()).get("export_revision") != EXPORT_REVISION:
            export_model(paths["hf"], out, dtype)  # missing, or exported by older code
        paths[f"onnx-{dtype}"] = out
    for quant in ("float32", "int8"):
        out = cache / f"ct2-{quant}"
        if not (out / "model.bin").is_file():
            ctranslate2.converters.TransformersConverter(str(paths["hf"])).convert(str(out), quantization=quant,
                                                                                   force=True)
        paths[f"ct2-{quant}"] = out
    return paths


def _chunks(items: Sequence[list[int]], size: int) -> list[list[list[int]]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer documents (under a minute once cached)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for every system")
    parser.add_argument("--repeat", type=int, default=0, help="passes per row, best kept (default 3, 1 with --quick)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "claimstream" / "bench-translate")
    args = parser.parse_args(argv)

    import ctranslate2
    import torch
    from transformers import MarianMTModel, MarianTokenizer

    torch.set_num_threads(args.threads)
    paths = _prepare(args.cache)
    n_docs, length, naive_docs = (32, 16, 1) if args.quick else (192, 48, 12)
    budgets = (2048,) if args.quick else (1024, 2048, 4096)
    repeat = args.repeat or (1 if args.quick else 3)
    chunk = 32 if args.quick else 48  # documents handed to one call, as the stage runner hands a batch to predict()
    tokenizer = MarianTokenizer.from_pretrained(paths["hf"])
    sources = tokenizer([CORPUS[i % len(CORPUS)] for i in range(n_docs)])["input_ids"]
    docs = _chunks(sources, chunk)
    rows = []

    def units(batch: Sequence[list[int]]) -> int:
        return len(batch) * length

    hf = MarianMTModel.from_pretrained(paths["hf"]).eval()
    params = sum(p.numel() for p in hf.parameters())
    size_mb = {name: sum(f.stat().st_size for f in paths[name].glob("*.onnx")) / 1e6 for name in
               ("onnx-fp32", "onnx-int8")}
    size_mb.update({name: (paths[name] / "model.bin").stat().st_size / 1e6 for name in ("ct2-float32", "ct2-int8")})

    def run(name: str, fn: Callable[[list[list[int]]], object], batches: list[list[list[int]]], model: str) -> None:
        fn(batches[0][:2])  # warm-up
        passes = [measure(name, fn, batches, units=units, unit_name="target_tokens", warmup=0)
                  for _ in range(repeat)]
        row = max(passes, key=lambda r: r["target_tokens_per_s"])
        row["model_mb"] = round(size_mb.get(model, params * 4 / 1e6), 1)
        rows.append(row)

    def hf_generate(batch: list[list[int]]) -> object:
        padded = tokenizer.pad({"input_ids": batch}, return_tensors="pt")
        with torch.no_grad():
            return hf.generate(**padded, num_beams=1, min_new_tokens=length, max_new_tokens=length, max_length=None)

    run("transformers generate, one doc at a time", hf_generate,
        [[s] for s in sources[:naive_docs]], "hf")
    hf_batch = 8 if args.quick else 16
    run(f"transformers generate, batch {hf_batch}", hf_generate,
        _chunks(sources[: 8 if args.quick else 96], hf_batch), "hf")

    opts = SearchOptions(max_new_tokens=length, min_new_tokens=length)
    for dtype in ("fp32", "int8"):
        onnx = OnnxTranslator(paths[f"onnx-{dtype}"], ["CPUExecutionProvider"], args.threads)
        for budget in budgets:
            def onnx_translate(batch: list[list[int]], onnx: OnnxTranslator = onnx, budget: int = budget) -> None:
                pieces = [Piece(0, 0, 0, i, 0, ids, "m") for i, ids in enumerate(batch)]
                for group in token_batches(pieces, budget):
                    onnx.search.generate([p.ids for p in group], opts)
            run(f"claimstream ONNX {dtype}, budget {budget}", onnx_translate, docs, f"onnx-{dtype}")
        del onnx

    for quant in ("float32", "int8"):
        translator = ctranslate2.Translator(str(paths[f"ct2-{quant}"]), device="cpu", intra_threads=args.threads,
                                            inter_threads=1)
        for budget in budgets:
            def ct2_translate(batch: list[list[int]], translator: object = translator, budget: int = budget) -> None:
                tokens = [tokenizer.convert_ids_to_tokens(ids) for ids in batch]
                translator.translate_batch(tokens, beam_size=1, min_decoding_length=length,  # type: ignore[attr-defined]
                                           max_decoding_length=length, max_batch_size=budget, batch_type="tokens")
            run(f"CTranslate2 {quant}, budget {budget}", ct2_translate, docs, f"ct2-{quant}")

    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    title = (f"translate: OPUS-MT-sized Marian ({params / 1e6:.1f} M parameters, {params * 4 / 1e6:.0f} MB fp32), "
             f"greedy, {length} target tokens per sentence, {args.threads} threads")
    print_table(title, rows)
    note = (f"OPUS-MT-sized Marian (d_model 512, 6+6 layers, 8 heads, {hf.config.vocab_size:,}-token vocabulary; "
            f"{params / 1e6:.1f} M parameters), random weights; greedy with the output length fixed at {length} "
            f"target tokens per sentence; {n_docs} sentences in calls of {chunk}; {args.threads} threads; "
            f"best of {repeat} passes per row; model_mb = size on disk (ONNX: encoder + decoder files; "
            f"transformers: fp32 parameters); load average at the end {load} (shared CPU)")
    save_results("translate", rows, note)


if __name__ == "__main__":
    main()
