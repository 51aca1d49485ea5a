"""langid throughput: the stage's model against raw fastText on the same documents, and over Kafka.

    python -m benchmarks.langid [--quick] [--rounds 5]

In-process, in interleaved rounds over the same documents (examples/news.jsonl repeated), each
system once per round, in turn (the order rotating), so a neighbour's load on the shared CPU hits
every system alike; a row gives the median over the rounds, with the slowest and fastest round:

- the stage: `LanguageModel.predict` on batches of 32 (title read apart from body, each segment
  predicted and weighted by its script, alternatives reported);
- the stage with `langid_segments=lines` (one fastText call per line, not per sentence: faster, but
  blind to a sentence of another language inside a paragraph, see benchmarks/langid_quality.py);
- raw fastText, one line per document: the same lid.176 "lite" model file, loaded with
  `fasttext.load_model`, its `predict(line, k)` once per document, where line is the title and
  body joined by a space with every line break replaced by a space (fastText reads one line) and
  k is the stage's (alternatives + 2); nothing else, no lowercasing, no script detection;
- raw fastText on the stage's lines: the same `predict(line, k)` on exactly the lines the stage
  hands fastText (`LanguageModel.fasttext_lines`: each segment that weighs something, title first),
  prepared beforehand: the floor of the stage's design, one prediction per segment;
- langdetect one document at a time (the baseline the stage replaced), on the first third of them.

vs_raw_fasttext is a row's documents/s over raw fastText's (one line per document) in the same
round (median, min-max).
Then the stage over Kafka on the embedded broker, once.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import fasttext
import langdetect
from claimstream.core.schema import Document
from claimstream.core.settings import Settings
from claimstream.langid.model import lite_model_path, load

from benchmarks.corpus import batches, sample_documents
from benchmarks.harness import interleaved_rounds, machine_note, print_table, save_results, spread
from benchmarks.stream import measure_stream

STAGE = "claimstream langid model, batch 32"
STAGE_LINES = "the same, langid_segments=lines"
RAW = "raw fastText predict, one line per document"
RAW_LINES = "raw fastText predict, the stage's lines"
BASELINE = "langdetect, one at a time (baseline)"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 documents, 3 rounds")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default 5, 3 with --quick)")
    args = parser.parse_args(argv)
    count = 300 if args.quick else 3000
    rounds = args.rounds or (3 if args.quick else 5)
    docs = sample_documents(count)
    settings = Settings()
    model = load(settings)
    by_lines = load(Settings(langid_segments="lines"))
    raw = fasttext.load_model(lite_model_path())
    k = settings.langid_alternatives + 2
    lines = [f"{d.title} {d.text}".replace("\n", " ") for d in docs]
    stage_lines = [line.removesuffix("\n") for d in docs for line in model.fasttext_lines(d)]
    baseline_docs = docs[: count // 3]
    langdetect.DetectorFactory.seed = 0

    def stage() -> None:
        for batch in batches(docs, 32):
            model.predict(batch)

    def stage_by_lines() -> None:
        for batch in batches(docs, 32):
            by_lines.predict(batch)

    def raw_fasttext() -> None:
        for line in lines:
            raw.predict(line, k=k)

    def raw_fasttext_stage_lines() -> None:
        for line in stage_lines:
            raw.predict(line, k=k)

    def naive() -> None:
        for doc in baseline_docs:
            langdetect.detect(f"{doc.title}\n{doc.text}")

    systems: dict[str, Callable[[], object]] = {
        STAGE: stage, STAGE_LINES: stage_by_lines, RAW: raw_fasttext, RAW_LINES: raw_fasttext_stage_lines,
        BASELINE: naive,
    }
    sizes = {STAGE: docs, STAGE_LINES: docs, RAW: docs, RAW_LINES: docs, BASELINE: baseline_docs}
    for run in systems.values():  # warm-up: first calls, caches
        run()
    seconds = interleaved_rounds(systems, rounds)
    load_average = os.getloadavg()

    def chars(items: Sequence[Document]) -> int:
        return sum(len(d.title) + len(d.text) for d in items)

    def ratio(of: str, to: str) -> str:
        """`of`'s documents/s over `to`'s, round by round."""
        n_of, n_to = len(sizes[of]), len(sizes[to])
        return spread([(n_of / o) / (n_to / t) for o, t in zip(seconds[of], seconds[to], strict=True)], 2)

    rows: list[dict[str, Any]] = []
    for name, values in seconds.items():
        n, c = len(sizes[name]), chars(sizes[name])
        rows.append({
            "name": name,
            "docs": n,
            "docs_per_s": spread([n / v for v in values]),
            "chars_per_s": f"{c / statistics.median(values):.0f}",
            "vs_raw_fasttext": ratio(name, RAW),
        })
    rows.append(measure_stream("langid over Kafka (embedded broker)", ["langid"], docs, settings.topic_langid))
    note = (f"{count} sample documents (examples/news.jsonl repeated), {rounds} interleaved rounds: docs/s is "
            f"the median (slowest-fastest round), vs_raw_fasttext the docs/s ratio to raw fastText in the same "
            f"round. Raw fastText is the same lid.176 lite model's fasttext predict(line, k={k}), one line per "
            f"document: title + ' ' + body with line breaks as spaces ({len(docs)} lines); the stage's lines are the "
            f"{len(stage_lines)} segments it predicts. The Kafka row is one run. Stage against raw fastText: "
            f"{ratio(STAGE, RAW)} (one line per document), {ratio(STAGE, RAW_LINES)} (the stage's lines); "
            f"load average at the end of the rounds "
            f"{load_average[0]:.1f}/{load_average[1]:.1f}/{load_average[2]:.1f}")
    print_table("langid", rows)
    print(f"\n{machine_note()}. {note}")
    save_results("langid", rows, note)


if __name__ == "__main__":
    main()
