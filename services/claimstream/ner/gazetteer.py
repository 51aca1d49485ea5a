"""Finding knowledge-base names in text of any script: a token trie over normalized aliases.

Every alias is tokenized and normalized (`normalize.tokenize`) and inserted into a
trie keyed by normalized tokens. Matching walks the trie from each token of the
text, trying each token's normalized form and its inflection variants (case
endings, attached particles, plural and ezafe suffixes: `normalize.variants`),
and keeps the longest match; the cost per token is a few dict lookups however
large the knowledge base is.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimstream.core.text import script_of
from claimstream.ner.kb import KBEntity, files_key, knowledge_base, remember_knowledge_base
from claimstream.ner.normalize import (
    NORMALIZER_VERSION,
    Token,
    has_demonym_ending,
    is_char_script,
    tokenize,
    variants,
)
from claimstream.ner.place_variants import (
    PLACE_LABELS,
    Candidate,
    arabic_forms,
    load_place_words,
    slavic_forms,
    strip_particles,
    strip_type_words,
)

_TERMINAL = "\x00"  # trie key of the payload; never a token
#: The alias trie: token -> child node, and `_TERMINAL` -> the payload of the alias that ends here.
Trie = dict[str, Any]

# Case policy of an alias, for scripts with case. Lowercase text must not match
# "US", "Chad" or "Turkey" ("us", "chad", "turkey"), and "МИД" is not "мид".
_ANY_CASE, _TITLE, _ALL_CAPS = 0, 1, 2

# What may stand between two tokens of one name: a space, a hyphen, an apostrophe, a dot.
_GAP_RE = re.compile(r"[ \t\u00a0\u202f\-\u2010\u2011\u2013'\u2019.\u00b7]{0,3}|\r?\n")

# English words before a name that are not part of it, for linking spans from models.
_LEADING_ARTICLES = frozenset({"the"})

# Which KB types an entity of a recognizer's label may link to.
_COMPATIBLE = {
    "PERSON": {"PERSON"},
    "ORG": {"ORG"},
    "GPE": {"GPE", "LOC"},
    "LOC": {"GPE", "LOC", "FAC"},
    "FAC": {"FAC", "LOC", "GPE"},
    "NORP": {"NORP", "GPE"},
    "MISC": {"NORP", "EVENT", "PRODUCT", "LAW", "ORG", "GPE", "LOC"},
}


@dataclass(frozen=True, slots=True)
class Match:
    """A KB entity found in a text: its span (code points, end exclusive) and how it was matched."""

    start: int
    end: int
    entity: KBEntity
    exact: bool  # every token matched in its normalized form, no inflection variant
    n_tokens: int


def _case_policy(alias: str) -> int:
    letters = [c for c in alias if c.isalpha()]
    if not letters or not any(c.lower() != c.upper() for c in letters):
        return _ANY_CASE
    if len(letters) <= 6 and all(c.isupper() for c in letters if c.lower() != c.upper()):
        return _ALL_CAPS
    return _TITLE if letters[0].isupper() else _ANY_CASE


def _case_ok(policy: int, surface: str) -> bool:
    if policy == _ANY_CASE:
        return True
    letters = [c for c in surface if c.isalpha()]
    if not letters:
        return False
    if policy == _ALL_CAPS:
        return all(c.isupper() for c in letters if c.lower() != c.upper())
    return not letters[0].islower()


class Gazetteer:
    """Longest-match lookup of KB aliases in text, with inflection variants and case policies."""

    def __init__(self, entities: Iterable[KBEntity], built: tuple[Trie, int] | None = None) -> None:
        """`built`: the alias trie and alias count of these same entities, from `parts()` (not rebuilt)."""
        self.entities: list[KBEntity] = list(entities)
        self.by_id = {e.id: e for e in self.entities}
        self._trie: Trie = {}
        self.n_aliases = 0
        if built is not None:
            self._trie, self.n_aliases = built
            return
        for index, entity in enumerate(self.entities):
            for _lang, alias in entity.all_aliases():
                self._add(alias, index)

    def parts(self) -> tuple[list[KBEntity], Trie, int]:
        """The entities, the alias trie and the alias count: `Gazetteer(entities, (trie, count))` rebuilds it."""
        return self.entities, self._trie, self.n_aliases

    def _add(self, alias: str, index: int) -> None:
        tokens = [t.norm for t in tokenize(alias)]
        if not tokens:
            return
        total = sum(len(t) for t in tokens)
        script = script_of(tokens[0])
        # One letter (or one ideograph) is a word, an initial, or a particle: too ambiguous.
        if total < 2 or (script == "arabic" and total < 3):
            return
        policy = _case_policy(alias)
        keys = [tuple(tokens)]
        # Persian and Korean write compound names with or without a space (or a ZWNJ).
        if len(tokens) > 1 and script in ("arabic", "hangul") and not any(is_char_script(t) for t in tokens):
            keys.append(("".join(tokens),))
        for key in keys:
            node = self._trie
            for tok in key:
                node = node.setdefault(tok, {})
            payload: list[list[int]] = node.setdefault(_TERMINAL, [])
            for entry in payload:
                if entry[0] == index:
                    entry[1] = min(entry[1], policy)
                    break
            else:
                payload.append([index, policy])
                self.n_aliases += 1

    # --- matching --------------------------------------------------------

    def find(self, text: str) -> list[Match]:
        """Every KB entity mentioned in `text`, longest match first, non-overlapping, in text order."""
        tokens = tokenize(text)
        found: list[Match] = []
        i = 0
        while i < len(tokens):
            match = self._longest(text, tokens, i)
            if match is None:
                i += 1
            else:
                found.append(match[0])
                i = match[1]
        return found

    def _longest(self, text: str, tokens: Sequence[Token], i: int,
                 accept: Callable[[KBEntity], bool] | None = None) -> tuple[Match, int] | None:
        """The best match starting at token `i`, and the index of the token after it.

        `accept`, when given, limits which entities of a name may be chosen.
        """
        first = tokens[i]
        # (trie node, next token index, variants used, characters skipped at the front)
        frontier: list[tuple[Trie, int, int, int]] = []
        node = self._trie.get(first.norm)
        if node is not None:
            frontier.append((node, i + 1, 0, 0))
        for v in variants(first.norm):
            node = self._trie.get(v.form)
            if node is not None:
                frontier.append((node, i + 1, 1, v.skip))
        best: tuple[tuple[int, int, float], Match, int] | None = None
        while frontier:
            node, j, used, skip = frontier.pop()
            payload = node.get(_TERMINAL)
            if payload is not None:
                start = first.offset_of(skip) if skip else first.start
                end = tokens[j - 1].end
                surface = text[start:end]
                chosen = None
                for index, policy in payload:
                    entity = self.entities[index]
                    if (_case_ok(policy, surface) and (accept is None or accept(entity))
                            and (chosen is None or entity.prior > chosen.prior)):
                        chosen = entity
                if chosen is not None:
                    rank = (j - i, -used, chosen.prior)
                    if best is None or rank > best[0]:
                        best = (rank, Match(start, end, chosen, used == 0, j - i), j)
            if j >= len(tokens) or len(node) == (1 if payload is not None else 0):
                continue
            nxt = tokens[j]
            if not self._joins(text, tokens[j - 1], nxt):
                continue
            child = node.get(nxt.norm)
            if child is not None:
                frontier.append((child, j + 1, used, skip))
            for v in variants(nxt.norm):
                if v.skip == 0:
                    child = node.get(v.form)
                    if child is not None:
                        frontier.append((child, j + 1, used + 1, skip))
        return None if best is None else (best[1], best[2])

    @staticmethod
    def _joins(text: str, prev: Token, nxt: Token) -> bool:
        """Whether two tokens may belong to one name: only a space, hyphen, apostrophe or dot between.

        A dot and then a space ends a sentence unless it follows an abbreviation or initial
        ("St. Petersburg", "Donald J. Trump").
        """
        if not _GAP_RE.fullmatch(text, prev.end, nxt.start):
            return False
        gap = text[prev.end:nxt.start]
        return not ("." in gap and gap[-1].isspace() and prev.end - prev.start > 2)

    def link(self, surface: str, label: str) -> KBEntity | None:
        """The KB entity a recognized span names, if its whole text is a known name of a compatible type."""
        match = self.link_match(surface, label)
        return match.entity if match is not None else None

    def link_match(self, surface: str, label: str) -> Match | None:
        """As `link`, with how the name matched (`exact`: no inflection variant was needed)."""
        allowed = _COMPATIBLE.get(label)
        if allowed is None:
            return None  # DATE, QUANTITY, CARDINAL...: nothing to link
        tokens = tokenize(surface)
        while tokens and tokens[0].norm in _LEADING_ARTICLES:
            tokens = tokens[1:]
        if tokens and len(tokens) > 1 and tokens[-1].norm == "s" and surface[tokens[-1].start - 1] in "'’":
            tokens = tokens[:-1]  # possessive
        if not tokens:
            return None
        match = self._longest(surface, tokens, 0)
        if match is not None and match[1] == len(tokens) and match[0].entity.label in allowed:
            return match[0]
        if label in PLACE_LABELS:
            return self._link_place_variant(surface, tuple(tokens))
        return None

    def _link_place_variant(self, surface: str, tokens: tuple[Token, ...]) -> Match | None:
        """A place a GPE/LOC span names once the words around the name are dropped (`place_variants`).

        In order, stopping at the first form that is a place's alias: without a type word
        ("Bihar state", «霍尔木兹甘省»); without postpositions or prepositions («ملتان میں»,
        «बिहार राज्य में»); with the first word's Arabic prefixes and article dropped or added;
        with Russian/Ukrainian case endings made nominative («Дніпрі» -> Дніпро). Only GPE/LOC
        entities (a type word's kind narrows them: "city" -> a city); a country reached through
        a demonym ending is not linked here. The match is `exact` when the name itself needed
        no inflection variant.
        """
        words = load_place_words()
        bases: list[Candidate] = [(tokens, None)]
        typed = strip_type_words(tokens, words)
        for cand in typed:
            if (m := self._place_match(surface, cand)) is not None:
                return m
        bases += typed
        bare = strip_particles(tokens, words)
        if bare is not None:
            for cand in [(bare, None), *strip_type_words(bare, words)]:
                if (m := self._place_match(surface, cand)) is not None:
                    return m
                bases.append(cand)
        for toks, prefixes in bases:
            for alt in arabic_forms(toks, words):
                if (m := self._place_match(surface, (alt, prefixes))) is not None:
                    return m
        for toks, prefixes in bases:
            for norms in slavic_forms(toks, words):
                if (m := self._place_exact(surface, toks, norms, prefixes, words.min_letters)) is not None:
                    return m
        return None

    @staticmethod
    def _is_place(entity: KBEntity, prefixes: frozenset[str] | None) -> bool:
        return entity.label in PLACE_LABELS and (prefixes is None or entity.id.split(":", 1)[0] in prefixes)

    def _place_match(self, surface: str, cand: Candidate) -> Match | None:
        toks, prefixes = cand
        match = self._longest(surface, toks, 0, accept=lambda e: self._is_place(e, prefixes))
        if match is None or match[1] != len(toks):
            return None
        m = match[0]
        if not m.exact and m.entity.id.startswith("country:") and has_demonym_ending(surface[m.start:m.end]):
            return None  # «ईरानी के»: the adjective, not the place
        return m

    def _place_exact(self, surface: str, toks: tuple[Token, ...], norms: list[str],
                     prefixes: frozenset[str] | None, min_letters: int) -> Match | None:
        """An entity whose alias is exactly `norms` (no further variants), standing for `toks`."""
        if sum(c.isalpha() for n in norms for c in n) < min_letters:
            return None
        node = self._trie
        for norm in norms:
            child = node.get(norm)
            if child is None:
                return None
            node = child
        start, end = toks[0].start, toks[-1].end
        chosen = None
        for index, policy in node.get(_TERMINAL, ()):
            entity = self.entities[index]
            if (_case_ok(policy, surface[start:end]) and self._is_place(entity, prefixes)
                    and (chosen is None or entity.prior > chosen.prior)):
                chosen = entity
        return None if chosen is None else Match(start, end, chosen, False, len(toks))


# --- loading, with a cached index -------------------------------------------

_INDEX_FORMAT = 1


def _cache_key(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256(f"{_INDEX_FORMAT}:{NORMALIZER_VERSION}".encode())
    for path, size, mtime in files_key(paths):
        digest.update(f"|{path}:{size}:{mtime}".encode())
    return digest.hexdigest()[:24]


def default_cache_dir() -> Path:
    """Where built indexes are kept: $XDG_CACHE_HOME/claimstream/ner (else ~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "claimstream" / "ner"


def load_gazetteer(paths: Sequence[str | Path], cache_dir: Path | None = None) -> Gazetteer:
    """A gazetteer over KB files, reusing an index built earlier from the same files when there is one.

    Building the index normalizes every alias (about 2 s for the shipped KB); a worker that
    starts again loads the pickled index in a fraction of that. The cache is keyed by each
    file's path, size and modification time, so editing a KB file rebuilds it. A cache that
    cannot be read or written is ignored (the index is then built in memory).
    """
    files = [Path(p) for p in paths]
    entities = None
    cache_file = None
    try:
        cache_file = (cache_dir or default_cache_dir()) / f"index-{_cache_key(files)}.pickle"
    except OSError:
        pass  # a missing file: knowledge_base below reports it with its name
    if cache_file is not None and cache_file.exists():
        gc.disable()  # unpickling many small dicts is 3x faster without the collector
        try:
            with cache_file.open("rb") as handle:
                entities, trie, n_aliases = pickle.load(handle)
        except Exception:  # a corrupt or stale cache is rebuilt, never fatal
            entities = None
        finally:
            gc.enable()
    if entities is not None:
        remember_knowledge_base(files, entities)
        return Gazetteer(entities, (trie, n_aliases))
    gazetteer = Gazetteer(knowledge_base(files).values())
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            with tmp.open("wb") as handle:
                pickle.dump(gazetteer.parts(), handle, protocol=5)
            tmp.replace(cache_file)
        except OSError:
            pass  # read-only home: keep working without a cache
    return gazetteer
