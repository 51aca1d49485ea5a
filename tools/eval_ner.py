"""Entity-level F1 of the shipped NER head on the ner-train dev splits, per language and per type.

    python tools/eval_ner.py results.json [--data ../shared/ner-train] [--limit 500] [--langs hi,fa]
                             [--head-dir DIR] [--update-head] [--system tagger|stage|spacy|gazetteer]

Each dev sentence's tokens are joined into a text as `tools/train_ner.py` does (one space
between tokens; no space for character-tokenized data such as zh, detected from the data),
`TransformerTagger` tags the text, and each predicted character span becomes the token span
of the tokens it overlaps. A prediction counts when its token span and type equal a gold
entity's (exact match, CoNLL style). `--limit N` takes the first N sentences of each dev
file (deterministic, so runs compare). Prints a markdown table and writes the figures as
JSON; `--update-head` also stores them in the head's JSON description.

`--system` scores something else on the same sentences: `stage` is the whole ner stage as
services load it (tagger, spaCy on English, the gazetteer's safe names), `spacy` is spaCy
alone, `gazetteer` the knowledge-base gazetteer alone; their labels map to the data's types
(PERSON -> PER; GPE, LOC, FAC -> LOC; others are not scored).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from claimstream.ner.transformer import CONFIG_FILE, HEAD_DIR, TYPES, TransformerTagger, join_words  # noqa: E402
from train_ner import LANGS, is_spaced, read_split  # noqa: E402

Span = tuple[int, int, str]


def gold_spans(tags: list[str]) -> set[Span]:
    """(first token, end token, type) of each IOB2 entity."""
    spans: set[Span] = set()
    start, kind = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        if tag.startswith("I-") and kind == tag[2:]:
            continue
        if kind:
            spans.add((start, i, kind))
        start, kind = (i, tag[2:]) if tag != "O" else (-1, "")
    return spans


def to_token_spans(spans: list[Any], word_spans: list[tuple[int, int]]) -> set[Span]:
    """Predicted character spans as (first token, end token, type) over the tokens they overlap."""
    out: set[Span] = set()
    for span in spans:
        hit = [i for i, (a, b) in enumerate(word_spans) if a < span.end and span.start < b]
        if hit:
            out.add((hit[0], hit[-1] + 1, span.label))
    return out


def prf(c: Counter) -> dict[str, float]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
            "tp": c["tp"], "fp": c["fp"], "fn": c["fn"]}


def count(gold: set[Span], pred: set[Span], into: dict[str, Counter]) -> None:
    for kind in ("all", *TYPES):
        g = {s for s in gold if kind in ("all", s[2])}
        p = {s for s in pred if kind in ("all", s[2])}
        into[kind]["tp"] += len(g & p)
        into[kind]["fp"] += len(p - g)
        into[kind]["fn"] += len(g - p)


_TYPE_OF = {"PER": "PER", "PERSON": "PER", "ORG": "ORG", "LOC": "LOC", "GPE": "LOC", "FAC": "LOC"}


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    label: str


def _system(args: argparse.Namespace) -> tuple[Callable[[list[str], str], list[list[Any]]], Callable[[], Any]]:
    """(tag texts of a language, describe) for the `--system` scored."""
    if args.system == "tagger":
        tagger = TransformerTagger(args.head_dir, args.cache_dir)
        return (lambda texts, _lang: tagger.tag(texts)), (lambda: tagger.describe() | {"dev": None})
    from claimstream.core.schema import Document
    from claimstream.core.settings import Settings
    from claimstream.ner.gazetteer import load_gazetteer
    from claimstream.ner.kb import kb_paths
    from claimstream.ner.model import EntityModel, load, load_spacy

    settings = Settings()
    if args.system == "spacy":
        nlp = load_spacy(settings.ner_spacy_model)

        def spacy_tag(texts: list[str], _lang: str) -> list[list[Any]]:
            return [[_Found(e.start_char, e.end_char, _TYPE_OF[e.label_]) for e in d.ents if e.label_ in _TYPE_OF]
                    for d in nlp.pipe(texts, batch_size=64)]

        return spacy_tag, lambda: {"name": "spacy " + settings.ner_spacy_model}
    model = load(settings) if args.system == "stage" else EntityModel(load_gazetteer(kb_paths("")))

    def stage_tag(texts: list[str], lang: str) -> list[list[Any]]:
        docs = []
        for n, text in enumerate(texts):
            doc = Document(id=str(n), text=text)
            doc.language.code = lang
            docs.append(doc)
        out = []
        for start in range(0, len(docs), 64):
            for doc in model.predict(docs[start:start + 64]):
                out.append([_Found(e.start, e.end, _TYPE_OF[e.label]) for e in doc.entities if e.label in _TYPE_OF])
        return out

    return stage_tag, lambda: {"name": model.model_name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json_out", type=Path, help="where to write the figures (JSON)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "ner-train",
                        help="directory of <lang>.dev.jsonl.gz (default ../shared/ner-train)")
    parser.add_argument("--limit", type=int, default=0, help="first N dev sentences per language (0: all)")
    parser.add_argument("--langs", default=",".join(LANGS))
    parser.add_argument("--head-dir", type=Path, default=None, help="head to evaluate (default: the shipped one)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="graph cache (default: the encoder's)")
    parser.add_argument("--update-head", action="store_true", help="store the figures in the head's JSON")
    parser.add_argument("--system", choices=["tagger", "stage", "spacy", "gazetteer"], default="tagger",
                        help="what to score (default: the transformer tagger alone)")
    args = parser.parse_args(argv)

    tag_texts, describe = _system(args)
    results: dict[str, Any] = {"languages": {}, "limit": args.limit or None}
    totals: dict[str, Counter] = {k: Counter() for k in ("all", *TYPES)}
    started = time.perf_counter()
    for lang in [x for x in args.langs.split(",") if x]:
        sentences = read_split(args.data, lang, "dev")
        spaced = is_spaced(sentences)
        if args.limit:
            sentences = sentences[: args.limit]
        joined = [join_words(s["tokens"], spaced) for s in sentences]
        tagged = tag_texts([text for text, _ in joined], lang)
        counts: dict[str, Counter] = {k: Counter() for k in ("all", *TYPES)}
        for sentence, (_, word_spans), spans in zip(sentences, joined, tagged, strict=True):
            gold = gold_spans(sentence["tags"])
            pred = to_token_spans(spans, word_spans)
            count(gold, pred, counts)
            count(gold, pred, totals)
        results["languages"][lang] = {"sentences": len(sentences), "spaced": spaced,
                                      **{k: prf(c) for k, c in counts.items()}}
        print(f"{lang}: F1 {results['languages'][lang]['all']['f1']:.3f} ({len(sentences)} sentences, "
              f"{time.perf_counter() - started:.0f} s)", file=sys.stderr)
    results["micro"] = {k: prf(c) for k, c in totals.items()}
    langs = results["languages"]
    results["macro_f1"] = round(sum(v["all"]["f1"] for v in langs.values()) / max(len(langs), 1), 4)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["system"] = args.system
    results["tagger"] = describe()

    print("| lang | sentences | P | R | F1 | PER F1 | ORG F1 | LOC F1 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for lang, v in [*langs.items(), ("**all (micro)**", {"sentences": sum(x["sentences"] for x in langs.values()),
                                                         **results["micro"]})]:
        print(f"| {lang} | {v['sentences']} | {v['all']['precision']:.3f} | {v['all']['recall']:.3f} | "
              f"{v['all']['f1']:.3f} | " + " | ".join(f"{v[t]['f1']:.3f}" for t in TYPES) + " |")
    print(f"\nmacro F1 over languages: {results['macro_f1']:.3f}; {results['seconds']:.0f} s")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.update_head and args.system == "tagger":
        path = (args.head_dir or HEAD_DIR) / CONFIG_FILE
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta["dev"] = {"limit_per_lang": args.limit or None, "macro_f1": results["macro_f1"],
                       "micro": {k: v["f1"] for k, v in results["micro"].items()},
                       "f1": {lang: v["all"]["f1"] for lang, v in langs.items()}}
        path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
