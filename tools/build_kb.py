"""Build the shipped knowledge base, services/claimstream/ner/data/kb.jsonl.

Sources:
- every country, territory and region in the Unicode CLDR (through Babel), with its
  name in every CLDR locale (`babel.Locale(...).territories`);
- the hand-written services/claimstream/ner/data/curated.jsonl: colloquial country
  names, capitals and major cities, international organisations, news agencies,
  and political and military figures, with aliases in many languages and scripts.
  Curated objects with a CLDR id (`country:IR`) extend that country.

CLDR names that are stop words in some language (spaCy's stop-word lists) are left
out, because they would match ordinary words. Run from the repository root:

    python tools/build_kb.py            # writes the file and prints a summary
    python tools/build_kb.py --check    # exit 1 when the shipped file is out of date
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path

import babel
from babel import Locale
from babel.localedata import locale_identifiers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from claimstream.ner.kb import KBError, load_kb, parse_line  # noqa: E402
from claimstream.ner.normalize import normalize  # noqa: E402

DATA = ROOT / "services" / "claimstream" / "ner" / "data"
CURATED = DATA / "curated.jsonl"
OUTPUT = DATA / "kb.jsonl"

# CLDR codes that are not places one reports on, or that the curated file models as organisations.
_SKIP_TERRITORIES = {"ZZ", "XA", "XB", "QO", "001", "UN", "EU", "EZ"}
_STOPWORD_LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "pl", "tr", "id", "fa", "ar", "hi",
                   "ur", "ko", "sv", "da", "nb", "fi", "hu", "ro", "cs", "hr", "sr", "ca", "tl", "ms")


def _stop_words() -> set[str]:
    """Normalized stop words of many languages (spaCy's lists): CLDR names equal to one are dropped."""
    words: set[str] = set()
    for lang in _STOPWORD_LANGS:
        try:
            module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
        except ImportError:
            continue
        words.update(normalize(w) for w in module.STOP_WORDS)
    words.discard("")
    return words


def _name_forms(name: str) -> list[str]:
    """A CLDR name and its usable parts: "Myanmar (Burma)" -> also "Myanmar", "Burma"."""
    forms = [name]
    m = re.fullmatch(r"\s*(.+?)\s*[(（](.+?)[)）]\s*", name)
    if m:
        forms.extend([m.group(1), m.group(2)])
    return forms


def cldr_territories(stop_words: set[str]) -> list[dict[str, object]]:
    """One KB object per CLDR territory with its names in all locales, grouped by language."""
    names: dict[str, dict[str, list[str]]] = {}
    for ident in sorted(locale_identifiers()):
        try:
            locale = Locale.parse(ident)
        except (ValueError, babel.UnknownLocaleError):
            continue
        lang = locale.language + (f"-{locale.script}" if locale.script else "")
        for code, name in locale.territories.items():
            if code in _SKIP_TERRITORIES:
                continue
            per_lang = names.setdefault(code, {}).setdefault(lang, [])
            for form in _name_forms(name):
                norm = normalize(form)
                if lang != "en" and norm in stop_words:
                    continue
                # A lowercase name ("région") matches ordinary words in any case policy.
                if form[:1].islower():
                    continue
                if form not in per_lang:
                    per_lang.append(form)
    english = Locale("en").territories
    objects = []
    for code in sorted(names):
        numeric = code.isdigit()
        objects.append({
            "id": f"region:{code}" if numeric else f"country:{code}",
            "type": "LOC" if numeric or code == "AQ" else "GPE",
            "name": english.get(code, code),
            "aliases": {lang: v for lang, v in sorted(names[code].items()) if v},
            **({} if numeric else {"country": code}),
        })
    return objects


def build() -> str:
    """The KB file's text: CLDR territories merged with the curated file."""
    objects = cldr_territories(_stop_words())
    cldr_ids = {o["id"] for o in objects}
    curated = [json.loads(line) for line in CURATED.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_id = {o["id"]: o for o in objects}
    # A CLDR name that is a curated name of another entity loses: "संयुक्त राष्ट्र" is the United
    # Nations in Hindi even though one locale writes the United Kingdom that way.
    curated_names = {normalize(a): o["id"] for o in curated for v in o.get("aliases", {}).values() for a in v}
    for obj in objects:
        for forms in obj["aliases"].values():  # type: ignore[union-attr]
            forms[:] = [f for f in forms if curated_names.get(normalize(f), obj["id"]) == obj["id"]]
    for obj in curated:
        if obj["id"] in cldr_ids:
            target = by_id[obj["id"]]
            for key in ("type", "name", "country", "prior"):
                if key in obj:
                    target[key] = obj[key]
            aliases = target.setdefault("aliases", {})
            for lang, extra in obj.get("aliases", {}).items():
                known = aliases.setdefault(lang, [])
                known.extend(a for a in extra if a not in known)
        else:
            objects.append(obj)
            by_id[obj["id"]] = obj
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objects)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when the shipped file differs from a rebuild")
    args = parser.parse_args()
    try:
        # validate the hand-written file with the same rules users' files get
        for lineno, line in enumerate(CURATED.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                parse_line(CURATED, lineno, line)
    except KBError as exc:
        print(f"curated file is malformed: {exc}", file=sys.stderr)
        return 1
    text = build()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python tools/build_kb.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    entities = load_kb([OUTPUT])
    n_aliases = sum(len(v) for e in entities.values() for v in e.aliases.values())
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(entities)} entities, {n_aliases} aliases, "
          f"{OUTPUT.stat().st_size / 1e6:.2f} MB (babel {babel.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
