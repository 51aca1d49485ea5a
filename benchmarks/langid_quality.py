"""langid accuracy: which language the stage gives documents, plain, under a title in another language,
and with a sentence of another language inside, against raw fastText on the same documents.

    python -m benchmarks.langid_quality [--per-language 40] [--seed 7] [--data ../shared/ner-train]

Two sets, both built here and nothing tuned on them:

- **sentences**: documents assembled, with a fixed seed, from sentences of the dev splits of
  ../shared/ner-train (16 languages; Wikipedia sentences of WikiANN and the IL-NER news sentences; only
  sentences of at least 8 words, at most half of them inside a name, no redirect markers). Each
  language gets `--per-language` documents of each kind:
  `plain` (3 sentences, one paragraph), `one-sentence` (1 sentence), `titled` (a sentence of another
  language cut to at most 10 words as the title over 3 sentences: English for every language but
  English, which gets another language's), `mixed` (4 sentences with one sentence of another language as
  the third, one paragraph, the other language weighing at most half of the rest in words) and
  `mixed-lines` (the same with a line break after every sentence).
- **news**: the 175 news documents of the claims sets (benchmarks/data/claims_*.jsonl, 10 languages,
  written for the project), as written (`news`), and with the title of an English report of another
  event over the body (`news-en-title`, the non-English ones).

A document is right when the language is the one its body is written in; for `titled`, `mixed` and
`mixed-lines` the table also gives how often the other language is among the alternatives
(`other_found`). Systems: the stage (`LanguageModel.predict`, batches of 32) with each
`langid_segments` setting, and raw fastText (the same lid.176 lite model, one line per document:
title and body joined, line breaks as spaces, its best label).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import fasttext
from claimstream.core.schema import Document
from claimstream.core.settings import Settings
from claimstream.langid.model import SEGMENTATIONS, LanguageModel, lite_model_path

from benchmarks.corpus import batches
from benchmarks.harness import machine_note, print_table, save_results

NER_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "ner-train"
DATA = Path(__file__).resolve().parent / "data"
NEWS_SETS = ("claims_gold", "claims_heldout", "claims_heldout2")
_UNSPACED = {"zh"}  # tokens are characters: joined without spaces
_MARKERS = ("#", "REDIRECT", "رجوع_مکرر", "تحويل", "重定向", "перенаправление")
_MIN_WORDS, _TITLE_WORDS = 8, 10


def _sentences(data: Path, lang: str) -> list[str]:
    """Usable sentences of one language's dev split, in file order."""
    out = []
    with gzip.open(data / f"{lang}.dev.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            tokens, tags = row["tokens"], row["tags"]
            words = len(tokens) if lang not in _UNSPACED else len(tokens) / 2  # about 2 characters a word
            if words < _MIN_WORDS or any(m in t for t in tokens for m in _MARKERS):
                continue
            if sum(tag != "O" for tag in tags) > len(tags) / 2:
                continue
            out.append(("" if lang in _UNSPACED else " ").join(tokens))
    return out


def _words(sentence: str, lang: str) -> float:
    return len(sentence) / 2 if lang in _UNSPACED else len(sentence.split())


def _cut(sentence: str, lang: str, words: int) -> str:
    if lang in _UNSPACED:
        return sentence[: words * 2]
    return " ".join(sentence.split()[:words])


Case = tuple[str, str, Document, str]  # kind, expected language, the document, the other language ("" if none)


def sentence_cases(data: Path, per_language: int, seed: int) -> list[Case]:
    """The documents of the sentences set, the same for the same seed."""
    rng = random.Random(seed)
    langs = sorted(p.name.split(".")[0] for p in data.glob("*.dev.jsonl.gz"))
    if not langs:
        raise SystemExit(f"no <lang>.dev.jsonl.gz in {data}: pass --data DIR (the ner-train corpora)")
    pools = {lang: _sentences(data, lang) for lang in langs}
    cases: list[Case] = []
    for lang in langs:
        pool, others = pools[lang], [o for o in langs if o != lang]

        def take(n: int, pool: list[str] = pool) -> list[str]:
            return rng.sample(pool, min(n, len(pool)))

        for i in range(per_language):
            body = take(3)
            cases.append(("plain", lang, Document(id=f"{lang}-plain-{i}", text=" ".join(body)), ""))
            cases.append(("one-sentence", lang, Document(id=f"{lang}-one-{i}", text=take(1)[0]), ""))
            title_lang = "en" if lang != "en" else rng.choice(others)
            title = _cut(rng.choice(pools[title_lang]), title_lang, _TITLE_WORDS)
            cases.append(("titled", lang, Document(id=f"{lang}-titled-{i}", title=title, text=" ".join(take(3))),
                          title_lang))
            body = take(4)
            other = rng.choice(others)
            room = sum(_words(s, lang) for s in body) / 2
            fitting = [s for s in rng.sample(pools[other], min(50, len(pools[other]))) if _words(s, other) <= room]
            if not fitting:
                continue
            mixed = [*body[:2], fitting[0], *body[2:]]
            cases.append(("mixed", lang, Document(id=f"{lang}-mixed-{i}", text=" ".join(mixed)), other))
            cases.append(("mixed-lines", lang, Document(id=f"{lang}-mixedl-{i}", text="\n".join(mixed)), other))
    return cases


def news_cases() -> list[Case]:
    """The news documents of the claims sets, as written and under an English title of another event."""
    rows = [json.loads(line) for name in NEWS_SETS for line in (DATA / f"{name}.jsonl").open(encoding="utf-8")]
    english = [r for r in rows if r["lang"] == "en"]
    cases: list[Case] = []
    for n, row in enumerate(rows):
        doc = Document(id=row["id"], title=row["title"], text=row["text"])
        cases.append(("news", row["lang"], doc, ""))
        if row["lang"] != "en":
            titles = [r["title"] for r in english if r["event"] != row["event"]]
            titled = Document(id=row["id"] + "-en-title", title=titles[n % len(titles)], text=row["text"])
            cases.append(("news-en-title", row["lang"], titled, "en"))
    return cases


Guess = tuple[str, list[str]]  # language, alternatives


def stage_guesses(model: LanguageModel) -> Callable[[list[Document]], Iterator[Guess]]:
    def guess(docs: list[Document]) -> Iterator[Guess]:
        for batch in batches(docs, 32):
            for doc in model.predict([Document.FromString(d.SerializeToString()) for d in batch]):
                assert isinstance(doc, Document)
                yield doc.language.code, [a.code for a in doc.language.alternatives]
    return guess


def raw_guesses(k: int) -> Callable[[list[Document]], Iterator[Guess]]:
    raw = fasttext.load_model(lite_model_path())

    def guess(docs: list[Document]) -> Iterator[Guess]:
        for doc in docs:
            labels, _ = raw.predict(f"{doc.title} {doc.text}".replace("\n", " "), k=k)
            codes = [label.removeprefix("__label__") for label in labels]
            yield codes[0], codes[1:]
    return guess


def score(cases: Sequence[Case], guesses: Iterator[Guess]) -> dict[tuple[str, str], dict[str, int]]:
    """Counts per (kind, language): documents, right, with another language, and it found."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (kind, lang, _, other), (code, alternatives) in zip(cases, guesses, strict=True):
        for key in ((kind, lang), (kind, "all")):
            c = counts[key]
            c["docs"] += 1
            c["right"] += code == lang
            if other:
                c["other"] += 1
                c["other_found"] += other in alternatives or other == code
    return counts


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else ""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-language", type=int, default=40, help="documents of each kind per language")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=NER_TRAIN, help="the ner-train corpora (../shared/ner-train)")
    args = parser.parse_args(argv)
    settings = Settings()
    cases = sentence_cases(args.data, args.per_language, args.seed) + news_cases()
    docs = [doc for _, _, doc, _ in cases]
    systems: dict[str, Callable[[list[Document]], Iterator[Guess]]] = {
        f"stage, segments={name}": stage_guesses(LanguageModel(settings.langid_min_chars, settings.langid_alternatives,
                                                                 segments=name))
        for name in SEGMENTATIONS
    }
    systems["raw fastText, one line per document"] = raw_guesses(settings.langid_alternatives + 1)
    results = {name: score(cases, guess(docs)) for name, guess in systems.items()}
    kinds = list(dict.fromkeys(kind for kind, _, _, _ in cases))
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        row: dict[str, Any] = {"kind": kind, "docs": results[next(iter(results))][(kind, "all")]["docs"]}
        for name, counts in results.items():
            c = counts[(kind, "all")]
            row[f"{name}: right %"] = _pct(c["right"], c["docs"])
            if c["other"]:
                row[f"{name}: other_found %"] = _pct(c["other_found"], c["other"])
        rows.append(row)
    for row in rows:  # every row has every column, blank where a kind has no other language
        for name in results:
            row.setdefault(f"{name}: other_found %", "")
    shipped = f"stage, segments={settings.langid_segments}"
    langs = sorted({lang for _, lang, _, _ in cases})
    per_language = []
    for lang in langs:
        row = {"language": lang}
        for name, counts in results.items():
            right = sum(c["right"] for (kind, code), c in counts.items() if code == lang)
            total = sum(c["docs"] for (kind, code), c in counts.items() if code == lang)
            row[f"{name}: right %"] = _pct(right, total)
        per_language.append(row)
    worst = sorted(per_language, key=lambda r: float(r[f"{shipped}: right %"] or 0))[:3]
    note = (f"{len(cases)} documents ({args.per_language} of each sentence kind per language, seed {args.seed}, from "
            f"the ner-train dev splits; plus the claims sets' news). right = the body's language; other_found = the "
            f"title's or inserted sentence's language among the alternatives (or the answer). The shipped setting is "
            f"langid_segments={settings.langid_segments}; its weakest languages: "
            + ", ".join(f"{r['language']} {r[f'{shipped}: right %']}%" for r in worst))
    print_table("langid quality", rows)
    print_table("langid quality per language (all kinds)", per_language)
    print(f"\n{machine_note()}. {note}")
    save_results("langid_quality", rows, note)
    save_results("langid_quality_languages", per_language, note)
    print(f"median over languages of the shipped setting (all kinds): "
          f"{statistics.median(float(r[f'{shipped}: right %'] or 0) for r in per_language):.1f}%")


if __name__ == "__main__":
    main()
