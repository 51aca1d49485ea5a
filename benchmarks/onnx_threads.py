"""ONNX Runtime thread settings: spinning on and off, on a quiet CPU and on a busy one.

    python -m benchmarks.onnx_threads [--rounds 5] [--skip-translate] [--hogs N]

Two workloads, the package's real sessions: the e5 encoder (the claims embedder and the
ner tagger's encoder) over the encoder benchmark's texts in calls of 16, and the
OPUS-MT-sized Marian int8 translation graph (random weights, built once by
`benchmarks.translate` into its cache) over its sample sentences. Each runs with
`inference_spinning` on and off, in alternating rounds, so load from elsewhere hits both
alike; a row gives the median texts/s over the rounds with the slowest and fastest. The
"busy" condition starts `--hogs` processes (default: one per core) that spin on the CPU
as another stage or a neighbour would; "quiet" runs beside whatever else the machine runs
(the load average is in every row). The default of `CLAIMSTREAM_INFERENCE_SPINNING` is
chosen from this table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.harness import machine_note, print_table, save_results

CALL = 16


def _hog() -> None:
    while True:
        pass


@contextmanager
def hogs(count: int) -> Iterator[None]:
    """`count` processes that keep a core busy each, for the `with` block."""
    procs = [multiprocessing.Process(target=_hog, daemon=True) for _ in range(count)]
    for p in procs:
        p.start()
    try:
        time.sleep(1.0)
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(5)


def encoder_workload(spinning: bool, threads: int) -> tuple[Callable[[], int], str]:
    from claimstream.encoder.model import Encoder
    from claimstream.runtime.onnx import Threads

    from benchmarks.encoder import texts

    sentences = ["passage: " + t for t in texts()]
    encoder = Encoder(threads=Threads(intra=threads, spinning=spinning), provider="cpu")

    def run() -> int:
        for i in range(0, len(sentences), CALL):
            encoder.embed(sentences[i:i + CALL])
        return len(sentences)

    return run, f"e5 encoder, {len(sentences)} texts in calls of {CALL}"


def translate_workload(spinning: bool, threads: int) -> tuple[Callable[[], int], str]:
    from claimstream.runtime.onnx import Threads
    from claimstream.translate.model import OnnxTranslator
    from claimstream.translate.search import SearchOptions

    from benchmarks.translate import _prepare
    from tests.fixtures.tiny_marian import CORPUS

    paths = _prepare(Path.home() / ".cache" / "claimstream" / "bench-translate")
    model = OnnxTranslator(paths["onnx-int8"], ["CPUExecutionProvider"], Threads(intra=threads, spinning=spinning))
    sources = [model.wrap(ids, "") for ids in model.tokenize(CORPUS)]
    opts = SearchOptions(beam_size=1, max_new_tokens=32)

    def run() -> int:
        for i in range(0, len(sources), 8):
            model.search.generate(sources[i:i + 8], opts)
        return len(sources)

    return run, f"OPUS-MT-sized int8, {len(sources)} sentences in calls of 8, 32 new tokens"


def compare(name: str, make: Callable[[bool, int], tuple[Callable[[], int], str]], rounds: int, threads: int,
            condition: str) -> list[dict[str, Any]]:
    runs = {spin: make(spin, threads) for spin in (False, True)}
    for run, _ in runs.values():
        run()  # warm-up
    rates: dict[bool, list[float]] = {False: [], True: []}
    for r in range(rounds):
        for spin in ((False, True) if r % 2 == 0 else (True, False)):
            t0 = time.perf_counter()
            n = runs[spin][0]()
            rates[spin].append(n / (time.perf_counter() - t0))
    load = os.getloadavg()[0]
    off = statistics.median(rates[False])
    rows = []
    for spin in (False, True):
        values = rates[spin]
        rows.append({
            "workload": name, "condition": condition, "spinning": "on" if spin else "off",
            "texts_per_s": round(statistics.median(values), 1),
            "min-max": f"{min(values):.1f}-{max(values):.1f}",
            "vs_off": round(statistics.median(values) / off, 2),
            "load_avg": round(load, 2), "what": runs[spin][1],
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: one per core)")
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip-translate", action="store_true")
    args = parser.parse_args()
    workloads: list[tuple[str, Callable[[bool, int], tuple[Callable[[], int], str]]]] = [
        ("encoder", encoder_workload)]
    if not args.skip_translate:
        workloads.append(("translate int8", translate_workload))
    rows: list[dict[str, Any]] = []
    for name, make in workloads:
        rows += compare(name, make, args.rounds, args.threads, "quiet")
        with hogs(args.hogs):
            rows += compare(name, make, args.rounds, args.threads, f"busy ({args.hogs} spinning processes)")
        print_table("ONNX Runtime spinning", rows)
    note = (f"{args.rounds} alternating rounds per condition, median texts/s (min-max); intra-op threads "
            f"{args.threads or 'one per core'}; the machine: {machine_note()}.")
    save_results("onnx_threads", rows, note)


if __name__ == "__main__":
    main()
