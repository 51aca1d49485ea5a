"""Build train.jsonl from the marked-up source files in src/.

Source format: one sentence per line; every annotated number is written inline as
    {surface|code|counted}
Lines that are empty or start with '#' are skipped.  Offsets are computed here,
as code-point offsets into the plain text, so they are never counted by hand.
Usage: python tools/data/claim_numbers/build.py  (writes train.jsonl, prints counts)
"""
import json
import re
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
LANGS = ["en", "hi", "ur", "fa", "ar", "ru", "uk", "zh", "de", "es", "fr", "ko"]
CODES = {
    "k": "people_killed", "i": "people_injured", "d": "people_displaced",
    "m": "people_missing", "a": "people_affected", "r": "people_arrested",
    "h": "homes_damaged", "q": "quake_magnitude", "t": "troops_deployed",
    "deal": "deal_value", "inv": "investment_value", "aid": "aid_pledged",
    "turn": "turnout_percent", "o": "other",
}
PREDICATES = set(CODES.values())
MARK = re.compile(r"\{([^{}|]+)\|([a-z]+)\|([^{}|]+)\}")


def parse_line(line):
    text, numbers, pos = [], [], 0
    out_len = 0
    for m in MARK.finditer(line):
        chunk = line[pos:m.start()]
        text.append(chunk)
        out_len += len(chunk)
        surface, code, counted = m.group(1), m.group(2), m.group(3).strip()
        if code not in CODES:
            raise ValueError(f"unknown code {code!r} in: {line}")
        numbers.append({"start": out_len, "end": out_len + len(surface), "surface": surface,
                        "predicate": CODES[code], "counted": counted})
        text.append(surface)
        out_len += len(surface)
        pos = m.end()
    text.append(line[pos:])
    text = "".join(text)
    if "{" in text or "}" in text or "|" in text:
        raise ValueError(f"unparsed markup in: {line}")
    return text, numbers


def build():
    records = []
    for lang in LANGS:
        n = 0
        p = HERE / "src" / f"{lang}.txt"
        if not p.exists():
            continue
        for raw in (p).read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            text, numbers = parse_line(line)
            if not numbers:
                raise ValueError(f"no numbers in: {line}")
            n += 1
            records.append({"id": f"{lang}-{n:04d}", "lang": lang, "text": text, "numbers": numbers})
    with open(HERE / "train.jsonl", "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def validate():
    by_lang, by_pred, by_lang_num = Counter(), Counter(), Counter()
    texts = set()
    with open(HERE / "train.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            r = json.loads(line)
            assert r["lang"] in LANGS, (i, r["lang"])
            assert r["id"].startswith(r["lang"] + "-"), (i, r["id"])
            assert r["text"] not in texts, ("duplicate text", i)
            texts.add(r["text"])
            assert r["numbers"], i
            last = -1
            for n in r["numbers"]:
                assert r["text"][n["start"]:n["end"]] == n["surface"], (i, n)
                assert n["surface"] == n["surface"].strip(), (i, n)
                assert n["predicate"] in PREDICATES, (i, n)
                assert n["counted"], (i, n)
                assert n["start"] >= last, ("overlap", i, n)
                last = n["end"]
                by_pred[n["predicate"]] += 1
                by_lang_num[r["lang"]] += 1
            by_lang[r["lang"]] += 1
    print(f"sentences {sum(by_lang.values())}  numbers {sum(by_pred.values())}")
    for lang in LANGS:
        print(f"  {lang}: {by_lang[lang]} sentences, {by_lang_num[lang]} numbers")
    total = sum(by_pred.values())
    for p, c in by_pred.most_common():
        print(f"  {p}: {c} ({100 * c / total:.1f}%)")
    return by_lang, by_lang_num, by_pred


if __name__ == "__main__":
    build()
    validate()
