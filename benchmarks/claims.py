"""Claims stage, in-process: docs/s and claims/s of ClaimModel.predict, and group merges/s.

    python -m benchmarks.claims [--quick]

Input: the sample documents (examples/news.jsonl, 12 languages), repeated; language
codes from `lang_hint` or the id, no entities (the ner stage is not run), so the
numbers measure extraction, normalization and the embedding fallback alone.
Over Kafka: the claims worker alone on the embedded broker, from docs.entities to
docs.enriched (it writes claims.normalized and merges claims.groups as it goes).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from claimstream.claims.model import load
from claimstream.claims.store import ClaimGroups
from claimstream.core.schema import Document, document_from_dict
from claimstream.core.settings import Settings

from benchmarks.harness import measure, print_table, save_results
from benchmarks.stream import measure_stream

NEWS = Path(__file__).resolve().parents[1] / "examples" / "news.jsonl"
LANGS = ("hi", "fa", "en", "ur", "zh", "ko", "ru", "uk", "ar", "de", "fr", "es")


def sample_documents() -> list[Document]:
    """The sample news with a language code each, as the langid stage would set it."""
    docs = []
    for line in NEWS.read_text(encoding="utf-8").splitlines():
        doc = document_from_dict(json.loads(line))
        if not isinstance(doc, Document):
            continue
        doc.language.code = doc.lang_hint or next((p for p in doc.id.split("-") if p in LANGS), "und")
        docs.append(doc)
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run (under a minute)")
    args = parser.parse_args()
    rounds, batch_size = (3, 8) if args.quick else (20, 32)

    docs = sample_documents()
    model = load(Settings())
    model.warmup()
    pool = [copy.deepcopy(d) for _ in range(rounds) for d in docs]
    batches = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]

    def run(batch: list[Document]) -> list[object]:
        return model.predict(batch)  # type: ignore[return-value]

    rows = [measure("claims predict", run, batches, units=lambda b: sum(len(d.claims) for d in b),
                    unit_name="claims")]

    enriched = [d for batch in batches for d in batch]
    store = ClaimGroups(tolerance=Settings().claims_conflict_tolerance)
    merge_batches = [enriched[i : i + batch_size] for i in range(0, len(enriched), batch_size)]

    def merge(batch: list[Document]) -> None:
        for doc in batch:
            store.merge_document(doc)

    rows.append(measure("group merge", merge, merge_batches, units=lambda b: sum(len(d.claims) for d in b),
                        unit_name="claims", warmup=0))
    stream_docs = pool[: len(docs) * (2 if args.quick else 5)]
    for n, doc in enumerate(stream_docs):
        del doc.claims[:]
        doc.id = f"{doc.id}-{n}"  # one output per input: the stream benchmark counts distinct ids
    settings = Settings()
    rows.append(measure_stream("claims over Kafka (embedded broker)", ["claims"], stream_docs, settings.topic_enriched,
                               input_topic=settings.topic_entities, unit_name="claims"))
    print_table("claims (units = claims)", rows)
    note = (f"Batch {batch_size}, {len(pool)} docs ({len(docs)} samples x {rounds}) in-process, {len(stream_docs)} "
            "over Kafka (docs.entities -> docs.enriched, claims.normalized and claims.groups written too); "
            "no entities; "
            "latency is per batch in-process, per document from produce to docs.enriched over Kafka.")
    save_results("claims", rows, note)


if __name__ == "__main__":
    main()
