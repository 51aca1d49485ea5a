"""NER throughput: each recognizer alone, all together, and spaCy one document at a time.

    python -m benchmarks.ner [--quick] [--onnx-model DIR]

Rows (docs/s and entities/s; latency per batch):
- `gazetteer`: the KB matcher on every sample document (all languages and scripts);
- `spacy nlp.pipe`: the English pipeline batched, on the English samples;
- `spacy nlp(text)`: the baseline, the same English samples one call per document;
- `e5 tagger`: the transformer tagger (the e5 encoder with the shipped PER/ORG/LOC head) on
  every sample, and on the English samples (the same texts as the spaCy rows), with tokens/s;
- `onnx`: the ONNX tagger on every sample, when --onnx-model (or CLAIMSTREAM_NER_ONNX_MODEL) is set;
- `EntityModel`: the whole stage (recognize, merge, link) on every sample, as services load it.
Load times (KB index from cache and cold, spaCy) are reported too.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from claimstream.core.schema import Document
from claimstream.core.settings import Settings
from claimstream.encoder.model import Encoder
from claimstream.ner.gazetteer import load_gazetteer
from claimstream.ner.kb import kb_paths
from claimstream.ner.model import EntityModel, load_spacy, onnx_providers
from claimstream.ner.onnx_tagger import OnnxTagger
from claimstream.ner.transformer import TransformerTagger

from benchmarks.corpus import batches, sample_documents
from benchmarks.harness import machine_note, measure, print_table, save_results


def _is_english(doc: Document) -> bool:
    letters = [c for c in doc.text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) / len(letters) > 0.95 and (
        doc.lang_hint in ("", "en"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small run (under a minute)")
    parser.add_argument("--onnx-model", default=None, help="directory of an ONNX token-classification model")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    settings = Settings.load()
    n_docs = 270 if args.quick else 2700

    rows: list[dict] = []
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as cold:
        load_gazetteer(kb_paths(settings.ner_kb_paths), cache_dir=Path(cold))
    cold_s = time.perf_counter() - t
    load_gazetteer(kb_paths(settings.ner_kb_paths))  # make sure the user cache exists
    t = time.perf_counter()
    gazetteer = load_gazetteer(kb_paths(settings.ner_kb_paths))
    warm_s = time.perf_counter() - t
    t = time.perf_counter()
    nlp = load_spacy(settings.ner_spacy_model)
    spacy_s = time.perf_counter() - t
    print(f"load: KB index cold {cold_s:.2f} s, from cache {warm_s:.2f} s; spaCy {spacy_s:.2f} s "
          f"({len(gazetteer.entities)} entities, {gazetteer.n_aliases} normalized aliases)")

    docs = sample_documents(n_docs)
    for doc in docs:
        if _is_english(doc):
            doc.language.code = "en"
    # spaCy rows get as many English documents as the others get documents in all
    english_base = [d.text for d in docs if d.language.code == "en"]
    english = [english_base[i % len(english_base)] for i in range(n_docs // 2)]
    chars = sum(len(d.text) for d in docs)

    def entity_count(batch: list[Document]) -> int:
        return sum(len(d.entities) for d in batch)

    gaz_only = EntityModel(gazetteer)
    rows.append(measure("gazetteer", gaz_only.predict, batches(docs, args.batch), units=entity_count,
                        unit_name="entities"))

    found = {"n": 0}

    def pipe(texts: list[str]) -> None:
        found["n"] = sum(len(d.ents) for d in nlp.pipe(texts, batch_size=args.batch))

    def one_by_one(texts: list[str]) -> None:
        found["n"] = sum(len(nlp(text).ents) for text in texts)

    rows.append(measure("spacy nlp.pipe (English)", pipe, batches(english, args.batch),
                        units=lambda _b: found["n"], unit_name="entities"))
    rows.append(measure("spacy nlp(text) per doc (English, baseline)", one_by_one, batches(english, args.batch),
                        units=lambda _b: found["n"], unit_name="entities"))

    t = time.perf_counter()
    transformer = TransformerTagger(settings.ner_head or None, threads=settings.inference_threads,
                                    provider=settings.provider, max_batch_tokens=settings.max_batch_tokens)
    transformer.warmup()
    e5_s = time.perf_counter() - t
    texts_all = [d.text for d in docs] + english
    tokens = {text: len(t.ids) for text, t in zip(texts_all, Encoder(threads=1).tokenize(texts_all), strict=True)}

    def e5(texts: list[str]) -> None:
        found["n"] = sum(len(spans) for spans in transformer.tag(texts))

    for name, texts in (("every language", [d.text for d in docs]), ("English", english)):
        rows.append(measure(f"e5 tagger ({transformer.provider}, {name})", e5, batches(texts, args.batch),
                            units=lambda b: sum(tokens[t] for t in b), unit_name="tokens"))

    onnx_dir = args.onnx_model or settings.ner_onnx_model
    tagger = None
    if onnx_dir:
        tagger = OnnxTagger(onnx_dir, providers=onnx_providers(settings.provider),
                            threads=settings.inference_threads, max_batch_tokens=settings.max_batch_tokens)

        def tag(batch: list[Document]) -> None:
            found["n"] = sum(len(s) for s in tagger.tag([d.text for d in batch]))

        rows.append(measure(f"onnx ({tagger.name})", tag, batches(docs, args.batch),
                            units=lambda _b: found["n"], unit_name="entities"))

    full = EntityModel(gazetteer, nlp, tagger, transformer=transformer)
    rows.append(measure(f"EntityModel ({full.model_name})", full.predict, batches(docs, args.batch),
                        units=entity_count, unit_name="entities"))

    note = (f"{len(docs)} sample documents ({len(english_base)} English; "
            f"spaCy rows: {len(english)} English, {chars / len(docs):.0f} chars on average), "
            f"batches of {args.batch}. Load: KB index {cold_s:.2f} s cold, {warm_s:.2f} s cached; "
            f"spaCy {spacy_s:.2f} s; e5 tagger {e5_s:.2f} s.")
    print_table("ner", rows)
    print(f"\n{machine_note()}. {note}")
    if not args.quick:
        save_results("ner", rows, note)


if __name__ == "__main__":
    main()
