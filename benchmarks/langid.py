"""langid throughput: the model in-process (batched) against langdetect one document at a time,
and the stage over Kafka. `python -m benchmarks.langid [--quick]`."""

from __future__ import annotations

import argparse

from claimstream.core.settings import Settings
from claimstream.langid.model import load

from benchmarks.corpus import batches, sample_documents
from benchmarks.harness import measure, print_table, save_results
from benchmarks.stream import measure_stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 300 if args.quick else 3000
    docs = sample_documents(count)
    model = load(Settings())
    chars = lambda batch: sum(len(d.title) + len(d.text) for d in batch)  # noqa: E731

    import langdetect

    langdetect.DetectorFactory.seed = 0

    def naive(batch):
        for doc in batch:
            langdetect.detect(f"{doc.title}\n{doc.text}")

    rows = [
        measure("langdetect, one at a time (baseline)", naive, batches(docs[: count // 3], 1), chars),
        measure("claimstream langid model, batch 32", model.predict, batches(docs, 32), chars),
        measure_stream("langid over Kafka (embedded broker)", ["langid"], docs, Settings().topic_langid),
    ]
    print_table("langid", rows)
    save_results("langid", rows, f"{count} sample documents (examples/news.jsonl repeated).")


if __name__ == "__main__":
    main()
