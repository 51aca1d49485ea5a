"""Other forms of a tagged place span, for linking when the span is not exactly a KB alias.

A tagger's GPE/LOC span often holds more than the name, or the name in a form the
alias index does not fold: a type word ("Guangdong province", "the state of Bihar",
«बिहार राज्य», «霍尔木兹甘省», «Днепропетровской области»), a postposition or
preposition left in the span («ملتان میں», «बिहार में», «در تهران»), an Arabic
conjunction or preposition glued to a name given without its article, or a
Russian/Ukrainian case ending that `normalize.variants` does not map back
(«Дніпрі», «Білорусі»). `Gazetteer.link_match` tries the forms built here in a fixed
order (type words, particles, Arabic prefixes, Slavic endings) and stops at the first
that names a place.

The words are data (`data/place_words.json`), normalized on load like KB aliases. Each
type word has a kind that limits what it may link to ("province" -> a subdivision,
"city" -> a city, "state" -> a subdivision or a country), so "Quebec City" does not
become the province and "New York state" does not become the city.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from claimstream.core.text import script_of
from claimstream.ner.normalize import Token, is_char_script, normalize_token, tokenize

PLACE_WORDS = Path(__file__).parent / "data" / "place_words.json"

#: KB labels a place variant may link to.
PLACE_LABELS = frozenset({"GPE", "LOC"})
_MAX_SLAVIC_FORMS = 64


@dataclass(frozen=True)
class PlaceWords:
    """The normalized contents of `place_words.json`."""

    #: a type word or phrase (normalized tokens) -> the KB id prefixes it may link to
    type_phrases: dict[tuple[str, ...], frozenset[str]]
    longest_phrase: int
    connectors: frozenset[str]
    #: type words written onto the name (Korean 성, 시...) -> id prefixes
    glued: dict[str, frozenset[str]]
    #: one-character type words of scripts without spaces (省, 州, 市) -> id prefixes
    han_suffixes: dict[str, frozenset[str]]
    leading: frozenset[str]
    trailing: frozenset[str]
    arabic_prefixes: tuple[str, ...]
    slavic_endings: tuple[tuple[str, str], ...]
    min_letters: int


def _norm(word: str) -> str:
    return normalize_token(word)[0]


@lru_cache(maxsize=4)
def load_place_words(path: Path = PLACE_WORDS) -> PlaceWords:
    """Read and normalize the place words (cached)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    kinds = {kind: frozenset(prefixes) for kind, prefixes in data["kinds"].items()}
    phrases: dict[tuple[str, ...], frozenset[str]] = {}
    for kind, by_lang in data["type_words"].items():
        for words in by_lang.values():
            for word in words:
                key = tuple(t.norm for t in tokenize(word))
                if key:
                    phrases[key] = phrases.get(key, frozenset()) | kinds[kind]
    han = {key[0]: prefixes for key, prefixes in phrases.items() if len(key) == 1 and is_char_script(key[0])}
    glued = {_norm(s): kinds[kind] for by_suffix in data["glued_suffixes"].values() for s, kind in by_suffix.items()}
    leading = {_norm(w) for p in data["particles"].values() for w in p.get("leading", [])}
    trailing = {_norm(w) for p in data["particles"].values() for w in p.get("trailing", [])}
    return PlaceWords(
        type_phrases=phrases,
        longest_phrase=max(len(k) for k in phrases),
        connectors=frozenset(_norm(w) for w in data["connectors"]),
        glued=glued,
        han_suffixes=han,
        leading=frozenset(leading),
        trailing=frozenset(trailing),
        arabic_prefixes=tuple(sorted({_norm(p) for p in data["arabic_prefixes"]}, key=len, reverse=True)),
        slavic_endings=tuple((_norm(a), _norm(b) if b else "") for a, b in data["slavic_endings"]),
        min_letters=int(data["min_letters"]),
    )


Candidate = tuple[tuple[Token, ...], frozenset[str] | None]  # tokens to look up, id prefixes allowed (None: any)


def _letters(tokens: tuple[Token, ...] | list[str]) -> int:
    norms = [t if isinstance(t, str) else t.norm for t in tokens]
    return sum(c.isalpha() for n in norms for c in n)


def _enough(tokens: tuple[Token, ...]) -> bool:
    """Whether what is left after stripping can be a name: 2 characters of Han, else 3 letters."""
    if not tokens:
        return False
    if all(is_char_script(t.norm) for t in tokens):
        return len(tokens) >= 2
    return _letters(tokens) >= 3


def _arabic_bare(norm: str, words: PlaceWords) -> list[str]:
    """`norm` and its forms without an attached conjunction/preposition (Arabic script only)."""
    forms = [norm]
    if script_of(norm) == "arabic":
        forms += [norm[len(p):] for p in words.arabic_prefixes if norm.startswith(p) and len(norm) - len(p) >= 3]
    return forms


def _retoken(token: Token, norm: str) -> Token:
    """`token` with another normalized form (its offsets kept: the span does not move)."""
    return Token(token.start, token.end, norm, None)


def _joined(prefixes: frozenset[str] | None, other: frozenset[str]) -> frozenset[str]:
    return other if prefixes is None else prefixes & other


def strip_type_words(tokens: tuple[Token, ...], words: PlaceWords) -> list[Candidate]:
    """The span without a leading and/or trailing type word; for Han, also with one added."""
    rest, prefixes, stripped = tokens, None, False
    for k in range(min(words.longest_phrase, len(rest) - 1), 0, -1):
        tail = tuple(t.norm for t in rest[1:k])
        kinds = None
        for head in _arabic_bare(rest[0].norm, words):  # «بمحافظة», «وولاية»: the particle goes too
            kinds = words.type_phrases.get((head, *tail))
            if kinds is not None:
                break
        if kinds is not None:
            rest, prefixes, stripped = rest[k:], kinds, True
            if len(rest) > 1 and rest[0].norm in words.connectors:
                rest = rest[1:]
            break
    for k in range(min(words.longest_phrase, len(rest) - 1), 0, -1):
        kinds = words.type_phrases.get(tuple(t.norm for t in rest[-k:]))
        if kinds is not None:
            rest, prefixes, stripped = rest[:-k], _joined(prefixes, kinds), True
            break
    else:
        last = rest[-1] if rest else None
        if last is not None and script_of(last.norm) == "hangul":
            for suffix, kinds in words.glued.items():
                if last.norm.endswith(suffix) and len(last.norm) - len(suffix) >= 2:
                    rest = (*rest[:-1], _retoken(last, last.norm[: -len(suffix)]))
                    prefixes, stripped = _joined(prefixes, kinds), True
                    break
    found: list[Candidate] = []
    if stripped and _enough(rest) and (prefixes is None or prefixes):
        found.append((rest, prefixes))
    if not stripped and len(tokens) >= 2 and all(is_char_script(t.norm) for t in tokens):
        end = tokens[-1].end
        found += [((*tokens, Token(end, end, ch, None)), kinds) for ch, kinds in words.han_suffixes.items()]
    return found


def strip_particles(tokens: tuple[Token, ...], words: PlaceWords) -> tuple[Token, ...] | None:
    """The span without up to two trailing postpositions and one leading preposition, if it had any."""
    rest = tokens
    for _ in range(2):
        if len(rest) > 1 and rest[-1].norm in words.trailing:
            rest = rest[:-1]
    if len(rest) > 1 and rest[0].norm in words.leading:
        rest = rest[1:]
    return rest if rest != tokens and _enough(rest) else None


def arabic_forms(tokens: tuple[Token, ...], words: PlaceWords) -> list[tuple[Token, ...]]:
    """The span with its first word without و/ف/ب/ل/ك, and with the article ال dropped or added."""
    first = tokens[0]
    if script_of(first.norm) != "arabic":
        return []
    forms: dict[str, None] = {}
    for bare in _arabic_bare(first.norm, words):
        if bare.startswith("لل") and len(bare) > 4:
            bare = "ال" + bare[2:]
        forms[bare] = None
        if bare.startswith("ال"):
            if len(bare) >= 5:
                forms[bare[2:]] = None
        else:
            forms["ال" + bare] = None
    forms.pop(first.norm, None)
    return [(_retoken(first, form), *tokens[1:]) for form in forms]


def slavic_forms(tokens: tuple[Token, ...], words: PlaceWords) -> Iterator[list[str]]:
    """Normalized forms of the span with Russian/Ukrainian case endings mapped to a nominative one."""
    options = []
    for t in tokens:
        forms = [t.norm]
        if script_of(t.norm) == "cyrillic":
            for ending, nominative in words.slavic_endings:
                if t.norm.endswith(ending) and len(t.norm) - len(ending) >= 3:
                    form = t.norm[: -len(ending)] + nominative
                    if form not in forms:
                        forms.append(form)
        options.append(forms)
    if all(len(o) == 1 for o in options):
        return
    for n, combo in enumerate(itertools.product(*options)):
        if n >= _MAX_SLAVIC_FORMS:
            return
        if n:  # the first is the span itself
            yield list(combo)
