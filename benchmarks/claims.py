"""Claims stage: docs/s and claims/s of ClaimModel.predict against the lexicon rules alone, and group merges/s.

    python -m benchmarks.claims [--quick] [--rounds N]

Input: the sample documents (examples/news.jsonl, 12 languages), repeated; language
codes from `lang_hint` or the id, no entities (the ner stage is not run), so the
numbers measure extraction, normalization and the number classifier alone.
Over Kafka: the claims worker alone on the embedded broker, from docs.entities to
docs.enriched (it writes claims.normalized and merges claims.groups as it goes).
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from claimstream.claims.model import load
from claimstream.claims.store import ClaimGroups
from claimstream.core.schema import Document, document_from_dict
from claimstream.core.settings import Settings

from benchmarks.harness import interleaved_rounds, load_note, machine_note, print_table, save_results, spread
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


DEFAULT = "claims predict (default: classifier fallback)"
RULES = "claims predict, claims_predicate_fallback=off (lexicon rules alone)"
MERGE = "group merge (a fresh store each round)"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (under a minute)")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default 5, 3 with --quick)")
    args = parser.parse_args(argv)
    repeat, batch_size = (3, 8) if args.quick else (20, 32)
    rounds = args.rounds or (3 if args.quick else 5)

    docs = sample_documents()
    models = {DEFAULT: load(Settings()), RULES: load(Settings(claims_predicate_fallback="off"))}
    pools = {name: [copy.deepcopy(d) for _ in range(repeat) for d in docs] for name in models}
    store = ClaimGroups(tolerance=Settings().claims_conflict_tolerance)

    def predictor(name: str) -> Callable[[], object]:
        model, pool = models[name], pools[name]
        return lambda: [model.predict(pool[i : i + batch_size]) for i in range(0, len(pool), batch_size)]

    def merge() -> None:
        nonlocal store
        store = ClaimGroups(tolerance=Settings().claims_conflict_tolerance)
        for doc in pools[DEFAULT]:
            store.merge_document(doc)

    systems: dict[str, Callable[[], object]] = {DEFAULT: predictor(DEFAULT), RULES: predictor(RULES), MERGE: merge}
    for model in models.values():
        model.warmup()
    for run in systems.values():  # warm-up: first calls, caches; the pools get their claims
        run()
    seconds = interleaved_rounds(systems, rounds)
    load_average = load_note()
    claims = {name: sum(len(d.claims) for d in pools[name]) for name in models}
    claims[MERGE] = claims[DEFAULT]
    n = len(pools[DEFAULT])

    rows: list[dict[str, Any]] = []
    for name, values in seconds.items():
        rows.append({
            "name": name,
            "docs": n,
            "claims": claims[name],
            "docs_per_s": spread([n / v for v in values]),
            "claims_per_s": spread([claims[name] / v for v in values], 0),
            "vs_default": spread([d / v for d, v in zip(seconds[DEFAULT], values, strict=True)], 2),
        })

    stream_docs = [copy.deepcopy(d) for _ in range(2 if args.quick else 5) for d in docs]
    for k, doc in enumerate(stream_docs):
        doc.id = f"{doc.id}-{k}"  # one output per input: the stream benchmark counts distinct ids
    settings = Settings()
    rows.append(measure_stream("claims over Kafka (embedded broker)", ["claims"], stream_docs, settings.topic_enriched,
                               input_topic=settings.topic_entities, unit_name="claims"))
    print_table("claims", rows)
    note = (f"{n} docs ({len(docs)} samples x {repeat}) in batches of {batch_size}, {rounds} interleaved rounds: "
            "docs/s and claims/s are the median (slowest-fastest round), vs_default the speed ratio to the default "
            f"in the same round; {load_average} at the end of the rounds. No entities (the ner stage is not run). "
            f"Over Kafka, one run of {len(stream_docs)} docs (docs.entities -> docs.enriched, claims.normalized "
            "and claims.groups written too); its latency is per document from produce to docs.enriched.")
    print(f"\n{machine_note()}. {note}")
    save_results("claims", rows, note)


if __name__ == "__main__":
    main()
