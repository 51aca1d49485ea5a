"""Table data for claim normalization, loaded once per process.

Every table is a JSON file beside this module, so adding a language means
editing data, not code. `spellings` produces the variants that one word is
written with in practice (nukta or not, Arabic or Farsi yeh and kaf, ZWNJ,
space or nothing), so each lexicon lists a word once.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

_NUKTA = "\u093c"
_ZWNJ = "\u200c"
# Precomposed Devanagari letters with nukta and their decomposed spelling.
_NUKTA_LETTERS = {"\u0958": "क", "\u0959": "ख", "\u095a": "ग", "\u095b": "ज", "\u095c": "ड", "\u095d": "ढ",
                  "\u095e": "फ", "\u095f": "य"}


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed JSON table `name` (without .json)."""
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def spellings(word: str) -> set[str]:
    """Spelling variants of one lexicon entry, lower-cased."""
    word = word.lower()
    out = {word}
    # Devanagari: with and without nukta, precomposed or not.
    decomposed = "".join(_NUKTA_LETTERS[c] + _NUKTA if c in _NUKTA_LETTERS else c for c in word)
    out |= {decomposed, decomposed.replace(_NUKTA, "")}
    composed = decomposed
    for pre, base in _NUKTA_LETTERS.items():
        composed = composed.replace(base + _NUKTA, pre)
    out.add(composed)
    # Arabic script: Farsi yeh/kaf vs Arabic yeh/kaf; ZWNJ vs space vs nothing.
    for w in list(out):
        if any("\u0600" <= c <= "\u06ff" for c in w):
            out |= {w.replace("ی", "ي").replace("ک", "ك"), w.replace("ي", "ی").replace("ك", "ک")}
    for w in list(out):
        if _ZWNJ in w:
            out |= {w.replace(_ZWNJ, " "), w.replace(_ZWNJ, "")}
        elif " " in w and any("\u0600" <= c <= "\u06ff" for c in w):
            out.add(w.replace(" ", _ZWNJ))
    # Hindi/Urdu/Persian hyphenated and spaced forms ("कम-से-कम").
    for w in list(out):
        if "-" in w and " " not in w:
            out.add(w.replace("-", " "))
    return out
