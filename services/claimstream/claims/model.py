"""Claim extraction and normalization: the claims stage's model (no Kafka, no Faust).

For each Document it finds the sentences that assert a checkable fact, in the
source text (any language) and in the English translation when there is one, and
fills `Document.claims` with normalized claims:

- a quantity (people killed, displaced, troops, money, percent, ...) with its
  qualifier range (numbers.py, qualifiers.py) and its counted noun (extract.py), or an
  event with its date (dates.py);
- a canonical English predicate: the lexicon trigger that governs the number in its
  clause (predicates.py), else the trained number classifier (classifier.py), else none:
  a number that fits no predicate abstains;
- subject, object and place from the ner stage's entities; attribution from the
  number's clause;
- a claim key that names the event, the same in every language;
- a normalized English sentence built from the key.

Claim keys: `predicate|subject|object|period[|troops][|part][|each]`, over canonical ids:

- event_place predicates (people_*, homes_damaged, quake_magnitude, turnout_percent):
  subject = `<event>@<country>`, the event kind named in the sentence or document
  (flood, earthquake, ...) and the country the document's linked places vote for
  (`_event_country`); object is empty.
- actor predicates (troops_deployed, aid_pledged, withdrew_from, ...): subject = the
  acting country (a city or ministry stands for its country), object = the one marked
  as destination/target ("to", "в", "به", "में", "에"), else the second one named.
- parties predicates (agreement_signed, deal_value): subject = the countries of every
  linked party of the sentence (a country, a city or ministry, or a person the knowledge base
  gives a country), sorted and joined with '+'; object is empty.
- a claim that names no place or party: a key of its own document (`#<doc id>`).
- period = the month (YYYY-MM) of the claim's date, else of publication; a sentence that
  names only a past year keeps that year.
- `|troops`: a toll of soldiers (people_* counting troops), its own fact; `|part`: a breakdown,
  an increment or a current count (`_mark_parts`), its own fact; `|each`: an amount of money per
  person or family (`_mark_rates`), its own fact.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import Any

import regex

from claimstream.claims.classifier import NO_RULE, NumberClassifier, NumberContext
from claimstream.claims.dates import DateMention, find_dates, find_past_years
from claimstream.claims.extract import (
    counts_people,
    entity_ref,
    find_attribution,
    find_counted,
    is_negated,
    split_sentences,
)
from claimstream.claims.groups import CUMULATIVE, values_conflict
from claimstream.claims.lexicons import load as load_lexicon
from claimstream.claims.lexicons import spellings
from claimstream.claims.numbers import NumberMention, find_numbers
from claimstream.claims.predicates import (
    ABSTAIN,
    MONEY_UNITS,
    NON_VALUE_UNITS,
    PredicateEmbedder,
    find_triggers,
    unit_fits,
    vocabulary,
)
from claimstream.claims.qualifiers import APPROX_TOLERANCE, qualify
from claimstream.claims.store import ClaimGroups
from claimstream.core.schema import Claim, Document, Entity, EntityRef, Quantity, Rejection, TimeSpan, Translation
from claimstream.core.settings import Settings
from claimstream.runtime.onnx import Threads

log = logging.getLogger(__name__)

#: Values of claims_predicate_fallback.
FALLBACKS = ("off", "embedding", "classifier")

#: How far (code points) a lexicon trigger may be from the number it names.
TRIGGER_WINDOW = 90
CLAUSE_PENALTY = 40
_CLAUSE_BREAK = regex.compile(r"[,，;；、،؛—–]")
_COMMA = regex.compile(r"[,，;；、،؛]")
_ENDS_CLAUSE = regex.compile(r"[\s\u00a0]*(?:[,，;；.。!?！？،؛।۔؟:]|$)")
_AND = regex.compile(r"(?<![\p{L}\p{M}])(?:and|as well as|و|اور|और|तथा|एवं|и|і|та|й|und|sowie|y|e|et|和|及|并)"
                     r"(?![\p{L}\p{M}])", regex.IGNORECASE)
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
_ACTOR_LABELS = frozenset({"GPE", "ORG", "NORP"})
#: A wire dateline opening a text: an upper-case place, then a comma and more (country, date) or the
#: agency in brackets, up to a dash: "SEOUL, South Korea (AP) —", "KYIV, Ukraine, Oct. 24 -",
#: "КИЕВ, 24 окт —", "NEW DELHI (Reuters) -". It says where the report was filed, not who acted.
_DATELINE = regex.compile(
    r"\s*\p{Lu}[\p{Lu}\p{M} .'’-]{1,40}?(?:,[^\n—–]{1,60}?|\s*\([^()\n]{1,30}\))"
    r"\s*(?:\([^()\n]{1,30}\)\s*)?[—–-]{1,2}\s")
_NAMED_LABELS = frozenset({"ORG", "GPE", "LOC", "FAC"})
#: "Kim Jong Un and Vladimir Putin signed a pact in Pyongyang": a linked person with a country in the
#: knowledge base is a party for that country (so the report keys as KP+RU, like "Russia and North Korea").
_PARTY_LABELS = _ACTOR_LABELS | {"PERSON"}
_UNIT_WORDS = {"people": "people", "troops": "troops", "homes": "homes", "usd": "US dollars",
               "inr": "Indian rupees", "pkr": "Pakistani rupees", "npr": "Nepalese rupees",
               "lkr": "Sri Lankan rupees", "eur": "euros", "irr": "Iranian rials", "irt": "Iranian tomans",
               "rub": "roubles", "uah": "hryvnias", "cny": "yuan", "aed": "dirhams", "gbp": "pounds",
               "percent": "percent", "magnitude": ""}
#: Rupees are the currency of several countries: the document's country says whose.
_RUPEES = {"country:PK": "pkr", "country:NP": "npr", "country:LK": "lkr"}
#: A trigger that is the counted noun itself ("5,000 troops") loses to a verb in the clause
#: ("2,000 soldiers were killed"): the verb says what happened to what the number counts.
NOUN_PENALTY = 45
#: A number taken out of a group the trigger names: "two of the injured", «трое из пострадавших».
_PARTITIVE = regex.compile(r"^[\s\u00a0]*(?:of(?:[\s\u00a0]+(?:the|those))?|из|з|із|der|des|davon|des|de los|de las|"
                           r"parmi les|d'entre les|में से)[\s\u00a0]*$", regex.IGNORECASE)
#: Each number or "and" word between a number and a trigger: "28 killed and 25 injured".
BETWEEN_PENALTY = 35


@dataclass
class _Candidate:
    """One claim being built inside a sentence."""

    sent: tuple[int, int]
    predicate: str = ""
    method: str = ""
    confidence: float = 0.0
    number: NumberMention | None = None
    unit: str = ""
    counted: str = ""  # the counted noun as written ("soldiers"), when the text names one
    date: DateMention | None = None
    context: str = ""  # text embedded when no lexicon trigger decides
    extra: dict[str, Any] = field(default_factory=dict)


def _specificity(ent: Entity) -> int:
    """Places: a linked subdivision or city (2) beats a country (1) beats a region (0)."""
    cid = ent.canonical_id
    if not cid:
        return -1
    if cid.startswith("country:"):
        return 1
    if cid.startswith("region:"):
        return 0
    return 2


def _locus(entities: list[Entity]) -> Entity | None:
    """Where a document's event happened, for grouping: its most-mentioned subdivision (ISO 3166-2),
    else its most-mentioned country. Cities, rivers and districts vary from report to report about
    the same event (Guwahati, the Brahmaputra, Assam), so they stay in `place` but not in the key."""
    for prefix in ("subdivision:", "country:"):
        counts = Counter(x.canonical_id for x in entities if x.canonical_id.startswith(prefix))
        if counts:
            best = max(counts.values())
            return next(x for x in entities if counts.get(x.canonical_id) == best)
    return None


def _event_country(entities: list[Entity], lede_end: int = 0) -> str:
    """The country an event happened in, by vote of the linked places the text names: a place below
    country level (Dnipro, Hormozgan) counts twice, for its country, a country once, and a mention in
    the lede (before `lede_end`) twice as much: a strike on Dnipro reported with "Russia" as the
    attacker happened in Ukraine; a quake felt in Dubai happened in Iran. '' when none is linked."""
    votes: Counter[str] = Counter()
    for x in entities:
        if x.label not in _PLACE_LABELS or not x.canonical_id:
            continue
        country = place_country(x.canonical_id)
        if country:
            weight = 1 if x.canonical_id.startswith("country:") else 2
            votes[country] += weight * (2 if x.start < lede_end else 1)
    if not votes:
        return _country_in_names(entities)
    best = max(votes.values())
    return next(c for c in (place_country(x.canonical_id) for x in entities if x.canonical_id)
                if votes.get(c) == best)


def _country_in_names(entities: list[Entity]) -> str:
    """When no place is linked: the country that the names of unlinked organisations and places
    contain most often ("Pakistan Railways", "the Sindh government"), by their country and
    subdivision names; '' when none does. The organisation is not made a place: this only says
    where the report is from (its event's country, whose rupees)."""
    names = _kb_region_names()
    votes: Counter[str] = Counter()
    first: dict[str, int] = {}
    for x in entities:
        if x.canonical_id or x.label not in _NAMED_LABELS:
            continue
        words = regex.findall(r"[\p{L}\p{M}]+", x.text.casefold())
        for i in range(len(words)):
            for j in (i + 2, i + 1):
                country = names.get(" ".join(words[i:j]))
                if country:
                    votes[country] += 1
                    first.setdefault(country, x.start)
                    break
    if not votes:
        return ""
    return min(votes, key=lambda c: (-votes[c], first[c]))


def _country_in_words(text: str) -> str:
    """The country whose name, or a subdivision's, `text` spells as whole words, first found first
    ("Niger: toll in Ouallam market attack rises"); '' when none. The ner stage does not tag
    titles: this is where a body that names no place it can link gets its country from."""
    names, countries = _kb_region_names(), _kb_region_names(countries_only=True)
    words = regex.findall(r"[\p{L}\p{M}]+", text.casefold())
    for i in range(len(words)):
        for j in (i + 3, i + 2, i + 1):
            name = " ".join(words[i:j]) if j <= len(words) else ""
            country = names.get(name) or countries.get(name)  # "Niger": the country, not Nigeria's state
            if country:
                return country
    return ""


@cache
def _kb_region_names(countries_only: bool = False) -> dict[str, str]:
    """Every name (all languages, casefolded) of a country or subdivision in the knowledge base (of a
    country only, with `countries_only`) -> its country id; names two regions share are left out."""
    entities = _kb_entities()
    found: dict[str, set[str]] = {}
    for cid, e in entities.items():
        if not cid.startswith(("country:",) if countries_only else ("country:", "subdivision:")):
            continue
        country = place_country(cid)
        for _, alias in e.all_aliases():
            if len(alias) >= 4:
                found.setdefault(alias.casefold(), set()).add(country)
    return {name: next(iter(c)) for name, c in found.items() if len(c) == 1}


class _Spans:
    """Mentions (anything with `start` and `end`) in text order, found per sentence by bisection:
    a text with many sentences and many numbers must not compare each with each."""

    def __init__(self, mentions: Sequence[Any]) -> None:
        self.mentions = sorted(mentions, key=lambda m: m.start)
        self._starts = [m.start for m in self.mentions]

    def within(self, start: int, end: int) -> list[Any]:
        lo, hi = bisect.bisect_left(self._starts, start), bisect.bisect_left(self._starts, end)
        return [m for m in self.mentions[lo:hi] if m.end <= end]


def _dateline(text: str) -> tuple[int, int]:
    """The span of the wire dateline opening `text`, or the paragraph after its one-line headline
    ("Ukraine says ...\n\nKYIV, Ukraine, Oct. 24 - ..."); (0, 0) when there is none."""
    starts = [0]
    first_break = text.find("\n", 0, 300)
    if first_break > 0:
        starts.append(first_break + 1)
    for start in starts:
        found = _DATELINE.match(text, start)
        if found:
            return found.start(), found.end()
    return 0, 0


class _TextFacts:
    """One text of a document (source or translation) with its entities, indexed so that each
    claim's lookups cost what its sentence costs, and document-wide facts computed once: a long
    document with many claims must not rescan its whole text and entity list per claim."""

    def __init__(self, text: str, title: str, entities: list[Entity]) -> None:
        self.text, self.title, self.entities = text, title, entities
        self._by_start = sorted(range(len(entities)), key=lambda i: entities[i].start)
        self._starts = [entities[i].start for i in self._by_start]
        self.event_kind: tuple[str, str] | None = None  # filled on first use by ClaimModel._event_kind
        self.attributions: dict[tuple[int, int], Any] = {}  # span -> its attribution (_clause_attribution)
        #: the text's dateline, (0, 0) if none: its places are where the report was filed
        self.dateline = _dateline(text)

    def within(self, start: int, end: int) -> list[Entity]:
        """The entities inside [start, end), in the document's order."""
        lo, hi = bisect.bisect_left(self._starts, start), bisect.bisect_left(self._starts, end)
        return [self.entities[i] for i in sorted(self._by_start[lo:hi]) if self.entities[i].end <= end]

    @cached_property
    def locus(self) -> Entity | None:
        return _locus(self.entities)

    @cached_property
    def linked_place(self) -> EntityRef | None:
        """The document's most specific, most mentioned linked place (for sentences that name none)."""
        counts = Counter(x.canonical_id for x in self.entities if x.label in _PLACE_LABELS and x.canonical_id)
        linked = [x for x in self.entities if x.canonical_id in counts]
        if linked:
            return entity_ref(max(linked, key=lambda x: (_specificity(x), counts[x.canonical_id], -x.start)))
        return None

    @cached_property
    def country(self) -> str:
        countries = Counter(x.canonical_name for x in self.entities if x.canonical_id.startswith("country:"))
        return countries.most_common(1)[0][0] if countries else ""

    @cached_property
    def country_id(self) -> str:
        """The country of the document's event (`_event_country`; the title and first sentence are
        its lede)."""
        first = split_sentences(self.text[:2000])
        return _event_country(self.entities, first[0][1] if first else 0) or _country_in_words(self.title)


@cache
def _lexicon_languages() -> frozenset[str]:
    """Languages with a trigger for every event predicate."""
    events = [e for e in vocabulary().values() if e["kind"] == "event"]
    return frozenset.intersection(*(frozenset(e["triggers"]) for e in events))


def _format_value(q: Quantity) -> str:
    value = f"{q.value:,.0f}" if q.value == int(q.value) else f"{q.value:,.1f}"
    words = {"approx": "about ", "at_least": "at least ", "more_than": "more than ", "at_most": "up to ",
             "less_than": "fewer than "}
    return words.get(q.qualifier, "") + value


def _overlaps(trigger: Any, number_end: int, counted: str, text: str) -> bool:
    """Whether the trigger is the number's counted noun ("5,000 troops": troops)."""
    at = text.find(counted, number_end, number_end + 60)
    return at >= 0 and trigger.start < at + len(counted) and at < trigger.end


_CLAUSE_SPLIT = regex.compile(r"[,;:—–،؛，；：]")
#: Languages whose verb follows what it counts ("۲۸ نفر کشته", "12 लोग मारे गए").
_VERB_FINAL = frozenset({"hi", "ur", "fa", "ko", "ja", "tr", "bn", "mr", "ta", "zh"})
_CJK_CHAR = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_APPOSITION = regex.compile(r"[—–(（:：]|\s-\s")


#: How many clauses away from a number its source is looked for.
ATTRIBUTION_CLAUSES = 3


def _clauses(text: str, sent: tuple[int, int]) -> list[tuple[int, int]]:
    """The clause spans of a sentence (document offsets), cut after each clause mark."""
    bounds = [sent[0]] + [m.end() for m in _CLAUSE_SPLIT.finditer(text, sent[0], sent[1])] + [sent[1]]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _clause_attribution(text: str, sent: tuple[int, int], number: NumberMention,
                        numbers: Sequence[tuple[int, int]], entities: list[Entity],
                        cache: dict[tuple[int, int], Any]) -> Any:
    """The source of a number: the attribution of its own clause, else of the nearest clause of its
    sentence that holds no other number ("..., the interior ministry said, but a local rights group
    said more than 100": the rights group's); None when only clauses about other numbers name one."""
    others = [x for x in numbers if x != (number.start, number.end)]
    clauses = _clauses(text, sent)
    own = next((i for i, (a, b) in enumerate(clauses) if a <= number.start < b), 0)
    def attribution(a: int, b: int) -> Any:  # per text span, once: a sentence's claims share its clauses
        if (a, b) not in cache:
            cache[(a, b)] = find_attribution(text[a:b], a, entities)
        return cache[(a, b)]

    nearest = sorted(range(len(clauses)), key=lambda j: (abs(j - own), j))
    for i in nearest[: 2 * ATTRIBUTION_CLAUSES + 1]:
        a, b = clauses[i]
        if i != own and any(a <= x < b for x, _ in others):
            continue  # that clause speaks of another number
        found = attribution(a, b)
        if found is not None:
            return found
    if not others:  # one number in the sentence: its source may span clauses ("X, however, said 50,000")
        return attribution(*sent)
    return None


@cache
def _modal_pattern() -> regex.Pattern[str]:
    return _table_pattern("modal", whole_words=False)


def _table_pattern(name: str, whole_words: bool) -> regex.Pattern[str]:
    """Any word of the per-language table `name` of predicates.json, at a word start (anywhere in
    Han and Hangul); with `whole_words`, also ending at a word end."""
    table = load_lexicon("predicates")[name]
    words = {f for lang, ws in table.items() if not lang.startswith("_") for w in ws for f in spellings(w)}
    alternation = "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))
    end = r"(?:(?![\p{L}\p{M}])|(?<=[\p{Han}\p{Hangul}]))" if whole_words else ""
    return regex.compile(r"(?:(?<![\p{L}\p{M}])|(?<=[\p{Han}\p{Hangul}]))(?:" + alternation + r")" + end,
                         regex.IGNORECASE)


def _in_modal_clause(text: str, sent: tuple[int, int], number: NumberMention) -> bool:
    """Whether a forecast, poll or possibility word stands in the number's clause.

    A capitalized word past the sentence's start is part of a name, not the word: the "US
    Geological Survey" reports a magnitude, "a survey" is a poll."""
    lo, hi = next(((a, b) for a, b in _clauses(text, sent) if a <= number.start < b), sent)
    for m in _modal_pattern().finditer(text, lo, hi):
        word = m.group(0)
        if not (m.start() > sent[0] and word[:1].isupper() and word[:1] != word[:1].lower()):
            return True
    return False


_AGE_APPOSITION = regex.compile(r"\p{Lu}[\p{L}\p{M}'-]+,[ \u00a0]*$")
_AFTER_APPOSITION = regex.compile(r"[ \u00a0]*[,)]")


def _not_an_amount(text: str, n: NumberMention, unit: str) -> bool:
    """Numbers that are no amount whatever their words say: a bare year (2024), an identifier
    written without grouping ("Rescue 1122", "Flight 302" is caught by its size only when long),
    and "one"/"a" unless it counts a person ("एक पुल" is a bridge, "एक मछुआरा" one fisherman)."""
    surface = text[n.start:n.end]
    if n.kind == "numeral" and unit == "" and surface.isdigit() and len(surface) >= 4 and n.value >= 1000:
        return True  # 2024, 1122: written without a thousands separator, with no unit after it
    if n.kind == "words" and n.value == 1:
        return unit not in ("people", "troops") and not counts_people(text, n)
    if n.kind == "numeral" and n.value < 120 and _AGE_APPOSITION.search(text, max(0, n.start - 40), n.start) \
            and _AFTER_APPOSITION.match(text, n.end):
        return True  # "Karim Baluch, 46, was searching": an age after a name
    return False


def _another_clauses_trigger(text: str, between: str, number: NumberMention, trigger: Any,
                             numbers_between: Sequence[NumberMention]) -> bool:
    """Whether the trigger is the verb of another clause than the number's: past a comma and an "and"
    ("3,000 left without a roof, and 12 people died"), or, after the number and past a comma, the
    verb of a number between them, closer to it with no comma between ("... has risen to seven,
    officials said, with two fishermen still missing": the two are missing, not the seven)."""
    if not _COMMA.search(between):
        return False
    if _AND.search(between):
        return True
    return trigger.start >= number.end and any(
        not _COMMA.search(text, n.end, trigger.start) for n in numbers_between if n.end <= trigger.start)


@cache
def _part_patterns() -> dict[str, regex.Pattern[str]]:
    """(part|current, before|after) -> its pattern; see `_mark_parts`."""
    data = load_lexicon("predicates")["part_cues"]
    out = {}
    for kind, table in (("part", data), ("current", data["current"])):
        for side in ("before", "after"):
            words = {f for ws in table[side].values() for w in ws for f in spellings(w)}
            alternation = "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))
            if side == "before":
                out[f"{kind}-before"] = regex.compile(r"(?<![\p{L}\p{M}])(?:" + alternation
                                                      + r")(?![\p{L}\p{M}])[^,;.،؛।]{0,25}$", regex.IGNORECASE)
            else:  # right after the number, or after its counted noun
                out[f"{kind}-after"] = regex.compile(r"^[\s\u00a0]*(?:[\p{L}\p{M}\u200c]+[\s\u00a0]+)?(?:"
                                                     + alternation + r")(?![\p{L}\p{M}])(?![\s\u00a0]+than)",
                                                     regex.IGNORECASE)
    return out


def _mark_parts(text: str, cands: list[_Candidate]) -> None:
    """Mark the numbers that are a part of a total, its own fact with its own key:
    - a breakdown or an increment ("30 hurt, including 12 police officers", "21 of them
      critically", "2 more died"): a cue word next to the number and a larger number of the same
      predicate in the same sentence or earlier in the text;
    - a count of people in a state now ("20 are still in hospital"): a cue word next to it."""
    p = _part_patterns()
    largest: dict[str, float] = {}
    by_sentence: dict[tuple[int, int], list[_Candidate]] = {}
    for c in cands:
        if c.number is not None and c.predicate:
            by_sentence.setdefault(c.sent, []).append(c)
    for c in cands:
        if c.number is None or not c.predicate:
            continue
        n = c.number
        before, after = text[max(c.sent[0], n.start - 40):n.start], text[n.end:n.end + 30]
        if p["current-before"].search(before) or p["current-after"].match(after):
            c.extra["part"] = True
        elif p["part-before"].search(before) or p["part-after"].match(after):
            same_sentence = [o.number.value for o in by_sentence[c.sent] if o is not c and o.number is not None
                             and o.predicate == c.predicate]
            if max([largest.get(c.predicate, 0.0), *same_sentence]) > n.value:
                c.extra["part"] = True
        else:
            # An apposition after a larger total of the same sentence: "At least 10 people — nine
            # pupils and a teacher — died", "48 injured (21 of them critically)".
            total = next((o for o in by_sentence[c.sent] if o is not c and o.number is not None
                          and o.predicate == c.predicate and o.number.end <= n.start and o.number.value > n.value),
                         None)
            if total is not None and total.number and _APPOSITION.search(text, total.number.end, n.start):
                c.extra["part"] = True
        largest[c.predicate] = max(largest.get(c.predicate, 0.0), n.value)


@cache
def _rate_patterns() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    """(before, after): the `per_unit_cues` that make an amount a rate; see `_mark_rates`."""
    table = load_lexicon("predicates")["per_unit_cues"]
    out = []
    for side in ("before", "after"):
        words = {f for ws in table[side].values() for w in ws for f in spellings(w)}
        # a word of a spaced script ends at a non-letter; a Chinese cue (每户) runs into the next word
        ordered = sorted(words, key=len, reverse=True)
        han = [w for w in ordered if regex.search(r"\p{Han}", w)]
        cue = "|".join([*(r"(?<![\p{L}\p{M}])" + regex.escape(w) + r"(?![\p{L}\p{M}])" for w in ordered
                          if w not in han), *map(regex.escape, han)])
        if side == "before":  # then no clause mark, "and" or digit before the amount
            out.append(regex.compile(r"(?:" + cue + r")[^,;.，；、。،؛।\d]{0,40}$", regex.IGNORECASE))
        else:  # after the amount and at most two words (its currency, "ex gratia")
            out.append(regex.compile(r"^[\s\u00a0]*(?:[\p{L}\p{M}\u200c'’-]+[\s\u00a0]+){0,2}(?:" + cue + ")",
                                     regex.IGNORECASE))
    return out[0], out[1]


def _mark_rates(text: str, cands: list[_Candidate]) -> None:
    """Mark the amounts of money that are a rate, not a total: "₹4 lakh for the family of each victim",
    "100 000 рублей на человека", "每户5000元". A rate is its own fact (its key ends in `|each`): it is
    never grouped with, or judged against, the total of relief money or of a deal."""
    before, after = _rate_patterns()
    for c in cands:
        n = c.number
        if n is None or c.unit not in MONEY_UNITS:
            continue
        ahead = before.search(text[max(c.sent[0], n.start - 60):n.start])
        if (ahead and not _AND.search(ahead.group(0))) or after.match(text[n.end:min(c.sent[1], n.end + 50)]):
            c.extra["each"] = True


class _KnowledgeBase:
    """The KB files the claims stage reads places from: the ner stage's (`ner_kb_paths`), set by
    each ClaimModel; the shipped KB until one is made."""

    extra: str = ""


def _use_knowledge_base(extra: str) -> None:
    if extra != _KnowledgeBase.extra:
        _KnowledgeBase.extra = extra
        for table in (_kb_entities, _kb_region_names, _kb_countries):
            table.cache_clear()


@cache
def _kb_entities() -> dict[str, Any]:
    """The knowledge base for the claims stage's country lookups ({} if unreadable): the copy the
    ner stage reads (`ner.kb.knowledge_base`), so a pipeline in one process reads it once."""
    from claimstream.ner.kb import kb_paths, knowledge_base

    try:
        return knowledge_base(kb_paths(_KnowledgeBase.extra))
    except Exception:  # the ner stage reports a broken KB; claims then key by id prefix
        log.exception("claims: knowledge base unreadable; places key by their own id")
        return {}


@cache
def _kb_countries() -> dict[str, str]:
    """Knowledge-base id -> the id of its country (country:XX), for places below country level."""
    return {i: f"country:{e.country}" for i, e in _kb_entities().items()
            if e.country and not i.startswith("country:")}


def _country_ref(ent: Entity) -> EntityRef:
    """A linked entity as its country: itself for a country, else the country id with the entity's
    own name ("Moscow" stands for country:RU)."""
    ref = entity_ref(ent)
    if not ent.canonical_id.startswith("country:"):
        ref.id = place_country(ent.canonical_id)
    return ref


def place_country(canonical_id: str) -> str:
    """The country of a linked place: itself for a country, ISO 3166-2's prefix for a subdivision,
    the knowledge base's country for a city; '' when unknown."""
    if canonical_id.startswith("country:"):
        return canonical_id
    if canonical_id.startswith("subdivision:"):
        return "country:" + canonical_id.split(":", 1)[1].split("-")[0]
    return _kb_countries().get(canonical_id, "")


class ClaimModel:
    """Finds and normalizes claims; see the module docstring for the rules."""

    service = "claims"

    def __init__(self, settings: Settings, embedder: PredicateEmbedder | None = None) -> None:
        self.settings = settings
        _use_knowledge_base(settings.ner_kb_paths)
        self.threshold = settings.claims_predicate_threshold
        if settings.claims_predicate_fallback not in FALLBACKS:
            raise ValueError(f"claims_predicate_fallback must be one of {', '.join(FALLBACKS)}, not "
                             f"{settings.claims_predicate_fallback!r}")
        #: What decides numbers no trigger binds: nothing (they abstain), the nearest embedding
        #: prototype, or the trained number classifier (claims/classifier.py).
        self.fallback_mode = settings.claims_predicate_fallback
        self.fallback = self.fallback_mode != "off"
        self.embedder: PredicateEmbedder | None = (
            embedder if embedder is not None else PredicateEmbedder(Threads.of(settings), settings.provider))
        self.classifier: NumberClassifier | None = None
        if self.fallback_mode == "classifier":
            self.classifier = NumberClassifier(self.embedder.encoder)
        self.model_name = "lexicon+multilingual-e5-small-q4"
        self.provider = str(getattr(self.embedder, "provider", "cpu"))
        data = load_lexicon("predicates")
        self._events = [
            (kind, entry["name"], regex.compile(
                r"(?:(?<![\p{L}\p{M}])|(?<=[\p{Han}\p{Hangul}]))(?:"
                + "|".join(regex.escape(f) for w in entry["words"] for f in sorted(spellings(w), key=len,
                                                                                     reverse=True)) + ")",
                regex.IGNORECASE))
            for kind, entry in data["event_words"].items()
        ]
        markers = data["object_markers"]
        self._marker_before = {f for w in markers["before"] for f in spellings(w)}
        self._marker_after = {f for w in markers["after"] for f in spellings(w)}

    # -- StageModel ---------------------------------------------------------
    def warmup(self) -> None:
        # A relative date too: dateparser imports and builds its tables on first use (about 1 s).
        doc = Document(id="warmup", text="Floods displaced about 20,000 people on 5 July 2024, officials said "
                                         "yesterday.")
        doc.published_at.FromDatetime(datetime(2024, 7, 6))
        self.predict([doc])

    def close(self) -> None:
        self.embedder = None

    def predict(self, batch: Sequence[Document]) -> list[Document | Rejection]:
        """Fill `claims` of each document; a document that fails becomes a Rejection."""
        results: list[Document | Rejection] = []
        pending: list[tuple[Document, list[_Candidate], str, _TextFacts]] = []
        for doc in batch:
            try:
                pending.extend(self._candidates(doc))
                results.append(doc)
            except Exception as exc:  # one bad document must not stop the batch
                log.exception("claims: document %s failed", doc.id)
                results.append(Rejection("processing_error", f"{type(exc).__name__}: {exc}"[:500]))
        self._classify_undecided(pending)
        for _, cands, _, facts in pending:
            # After the classifier, so that a number it gave a predicate is read as a part too.
            _mark_parts(facts.text, cands)
            _mark_rates(facts.text, cands)
        for doc, result in zip(batch, results, strict=True):
            if not isinstance(result, Rejection):
                self._finish(doc, pending)
        return results

    def _classify_undecided(self, pending: list[tuple[Document, list[_Candidate], str, _TextFacts]]) -> None:
        """Give a predicate, where the classifier (or the embedding fallback) is sure enough, to the numbers
        no lexicon trigger claimed."""
        # One batched embedding call for every number no lexicon trigger claimed, at most
        # `claims_max_embedded` of each document: embedding is the costly step.
        undecided: list[_Candidate] = []
        budget: Counter[int] = Counter()
        for owner, cands, _, _ in pending:
            for c in cands:
                if not c.predicate and budget[id(owner)] < self.settings.claims_max_embedded:
                    budget[id(owner)] += 1
                    undecided.append(c)
        if undecided and self.classifier is not None:
            texts = {id(c): facts.text for _, cands, _, facts in pending for c in cands}
            numbered = [c for c in undecided if c.number is not None]
            contexts = [NumberContext(texts[id(c)][c.sent[0]:c.sent[1]], n.start - c.sent[0], n.end - c.sent[0],
                                      NO_RULE, c.unit) for c in numbered if (n := c.number) is not None]
            for cand, (name, prob) in zip(numbered, self.classifier.classify(contexts), strict=True):
                assert cand.number is not None
                if (name != ABSTAIN and prob >= self.settings.claims_classifier_threshold
                        and unit_fits(name, cand.unit, cand.number.value)):
                    cand.predicate, cand.method, cand.confidence = name, "classifier", prob
        elif undecided and self.embedder is not None and self.fallback_mode == "embedding":
            for cand, (name, score) in zip(undecided, self.embedder.classify([c.context for c in undecided]),
                                           strict=True):
                entry = vocabulary()[name]
                fits = (entry["kind"] == "event" and cand.date is not None and cand.number is None) or (
                    cand.number is not None and unit_fits(name, cand.unit, cand.number.value))
                if score >= self.threshold and fits:
                    cand.predicate, cand.method, cand.confidence = name, "embedding", score

    def _finish(self, doc: Document, pending: list[tuple[Document, list[_Candidate], str, _TextFacts]]) -> None:
        """Build `doc`'s claims from its decided candidates (source text and translation merged, at most
        `claims_max_per_document`), flag contradictions within it, and set them on the document."""
        source_claims: list[Claim] = []
        translated_claims: list[Claim] = []
        cut = 0
        for owner, cands, text_kind, ents in pending:
            if owner is not doc:
                continue
            target = source_claims if text_kind == "source" else translated_claims
            for c in cands:
                if not c.predicate:
                    continue
                if len(target) >= self.settings.claims_max_per_document:
                    cut += 1  # building a claim costs a few regex searches: bound it per text
                    continue
                claim = self._claim(doc, c, text_kind, ents)
                if c.extra.get("statement") and not _names_who_or_where(claim):
                    continue  # "someone sent troops, officials said": nothing to check it against
                target.append(claim)
        merged = _drop_redundant_statements(_merge_translation(source_claims, translated_claims))
        limit = self.settings.claims_max_per_document
        if cut or len(merged) > limit:
            log.warning("claims: document %s has more than %d claims; keeping the first %d "
                        "(claims_max_per_document)", doc.id, limit, limit)
            merged = merged[:limit]
        _flag_contradictions(merged, self.settings.claims_conflict_tolerance)
        _mark_superseded(merged)
        del doc.claims[:]
        doc.claims.extend(merged)

    # -- extraction -----------------------------------------------------------
    def _candidates(self, doc: Document) -> list[tuple[Document, list[_Candidate], str, _TextFacts]]:
        lang = doc.language.code or doc.lang_hint or "und"
        published = doc.published_at.ToDatetime(tzinfo=UTC) if doc.HasField("published_at") else None
        source_entities = [e for e in doc.entities if e.found_in != Entity.TRANSLATED_TEXT]
        out = [(doc, self._text_candidates(doc.text, lang, published), "source",
                _TextFacts(doc.text, doc.title, source_entities))]
        if doc.translation.status == Translation.OK and doc.translation.text:
            target = doc.translation.target_language or "en"
            translated_entities = [e for e in doc.entities if e.found_in == Entity.TRANSLATED_TEXT]
            out.append((doc, self._text_candidates(doc.translation.text, target, published), "translation",
                        _TextFacts(doc.translation.text, doc.translation.title, translated_entities)))
        return out

    def number_readings(self, text: str, lang: str, published: datetime | None = None
                        ) -> dict[tuple[int, int], tuple[str, str]]:
        """What the lexicon rules make of every number of `text`: span -> (predicate, or "<abstain>"
        for a number they rule out or an abstention word governs, or "<none>"; the counted unit).
        The claims classifier's features and its evaluation read it."""
        record: dict[tuple[int, int], tuple[str, str]] = {}
        self._text_candidates(text, lang, published, record)
        return record

    def _text_candidates(self, text: str, lang: str, published: datetime | None,
                         record: dict[tuple[int, int], tuple[str, str]] | None = None) -> list[_Candidate]:
        dates = find_dates(text, lang, published)
        date_spans = [(d.start, d.end) for d in dates]
        numbers = find_numbers(text, lang, exclude=date_spans)
        triggers = find_triggers(text)
        out: list[_Candidate] = []
        spans = [_Spans(found) for found in (numbers, triggers, dates, find_past_years(text, published, dates))]
        for s, e in split_sentences(text):
            sent_numbers, sent_triggers, sent_dates, past_years = (found.within(s, e) for found in spans)
            out.extend(self._sentence_candidates(text, (s, e), sent_numbers, sent_triggers, sent_dates, lang,
                                                 past_years, record))
        return out

    def _sentence_candidates(self, text: str, sent: tuple[int, int], numbers: list[NumberMention],
                             triggers: list[Any], dates: list[DateMention], lang: str,
                             past_years: Sequence[DateMention] = (),
                             record: dict[tuple[int, int], tuple[str, str]] | None = None) -> list[_Candidate]:
        vocab = vocabulary()
        best_date = next((d for d in dates if not d.relative), dates[0] if dates else None)
        # A number in a sentence that names only a past year is of that year ("in 1945, about 4,000").
        number_date = best_date or (past_years[0] if past_years else None)
        cands: list[_Candidate] = []
        kept: list[NumberMention] = []  # the number of each candidate, in order
        for n in numbers:
            unit, counted = find_counted(text, n)
            if unit in NON_VALUE_UNITS or _not_an_amount(text, n, unit):
                if record is not None:
                    record[(n.start, n.end)] = ("<abstain>", unit)
                continue  # "15 districts", "40 drones", "9 am", "the 40th", a bare year, "a bridge"
            cands.append(_Candidate(sent, number=n, unit=unit, counted=counted, date=number_date))
            kept.append(n)
        spans_of_numbers = tuple((n.start, n.end) for n in numbers)
        for i, c in enumerate(cands):
            c.extra["numbers"] = spans_of_numbers  # the sentence's numbers, shared (not copied per number)
            lo = kept[i - 1].end if i else sent[0]
            hi = kept[i + 1].start if i + 1 < len(cands) else sent[1]
            c.context = text[lo:hi].strip()
        # Lexicon: each number takes the trigger that best governs it in its clause (nearest, same
        # clause, no other number or "and" in between, a verb before the counted noun). One trigger
        # may govern several numbers: "10 people, nine pupils and a teacher, died".
        starts = [n.start for n in kept]
        # Chinese and Japanese write a word in one or two characters, without spaces: a gap of N
        # characters there is as far as about 3N characters of an alphabetic script.
        sentence_text = text[sent[0]:sent[1]]
        density = 3 if len(_CJK_CHAR.findall(sentence_text)) * 3 > len(sentence_text) else 1
        verb_final = density == 3 or lang in _VERB_FINAL
        for c in cands:
            assert c.number is not None
            best: tuple[int, int, int] | None = None
            for t in triggers:
                if t.kind != "abstain" and (vocab[t.predicate]["kind"] != "quantity"
                                            or not unit_fits(t.predicate, c.unit, c.number.value)):
                    continue
                gap = max(t.start - c.number.end, c.number.start - t.end, 0) * density
                if gap > TRIGGER_WINDOW:
                    continue
                lo, hi = min(t.end, c.number.end), max(t.start, c.number.start)
                between = text[lo:hi]
                if _another_clauses_trigger(text, between, c.number, t,
                                            kept[bisect.bisect_right(starts, lo):bisect.bisect_left(starts, hi)]):
                    continue
                score = gap + CLAUSE_PENALTY * len(_CLAUSE_BREAK.findall(between))
                score += BETWEEN_PENALTY * (len(_AND.findall(between))
                                            + bisect.bisect_left(starts, hi) - bisect.bisect_right(starts, lo))
                own_noun = bool(c.counted) and _overlaps(t, c.number.end, c.counted, text)
                if t.kind == "noun" and not (own_noun or c.unit == "troops" or 0 <= t.start - c.number.end <= 40
                                             or _ENDS_CLAUSE.match(text, c.number.end)):
                    # "security forces arrested 12 suspects": troops are not what 12 counts; but
                    # "the number of Russian troops at more than 30,000." is.
                    continue
                if t.kind in ("weak", "noun") or own_noun or (t.start >= c.number.end and _PARTITIVE.match(between)):
                    # "two of the injured died": the injured are who the two are taken from; the
                    # verb says what happened to them
                    score += NOUN_PENALTY
                # Ties go to the trigger after the number where the verb follows what it counts
                # (Chinese "12死39伤", Hindi, Urdu, Persian), else to the earlier one.
                side = 0 if (t.start >= c.number.end) == verb_final else 1
                if best is None or (score, side, t.start) < best:
                    best = (score, side, t.start)
                    c.predicate, c.method, c.confidence = t.predicate, "lexicon", 1.0
            if c.predicate == ABSTAIN or _in_modal_clause(text, sent, c.number):
                # "1,100 people were rescued": counts nothing of the vocabulary; "a poll put turnout
                # at 45%": no statement of fact
                c.predicate, c.method, c.confidence, c.extra["abstained"] = "", "", 0.0, True
        if record is not None:
            for c in cands:
                assert c.number is not None
                reading = c.predicate or ("<abstain>" if c.extra.get("abstained") else "<none>")
                record[(c.number.start, c.number.end)] = (reading, c.unit)
        # Numbers that count nothing recognisable stay out of the embedding batch.
        cands = [c for c in cands if c.predicate or (self.fallback and not c.extra.get("abstained") and (
            self.fallback_mode == "classifier" or c.unit or (c.number and c.number.kind != "numeral")
            or c.number and c.number.value >= 10))]
        # Events: a dated sentence with an event trigger.
        if best_date is not None:
            events = [t for t in triggers if t.kind != "abstain" and vocab[t.predicate]["kind"] == "event"]
            if events:
                cands.append(_Candidate(sent, predicate=events[0].predicate, method="lexicon", confidence=1.0,
                                        date=best_date))
                return cands
            if (self.fallback_mode == "embedding" and not any(c.predicate for c in cands)
                    and lang not in _lexicon_languages()):
                # Embedding a dated sentence is the costliest step: only where no event lexicon exists.
                cands.append(_Candidate(sent, date=best_date, context=text[sent[0]:sent[1]]))
                return cands
        # Attributed statements: an action or event the sentence attributes to a source, with no
        # number or date ("North Korea has sent troops to Russia, South Korean intelligence said").
        sentence = text[sent[0]:sent[1]]
        verbs = [t for t in triggers if t.kind in ("verb", "noun")]
        if (verbs and not any(c.predicate for c in cands) and not is_negated(sentence)
                and find_attribution(sentence, sent[0], [])):
            cands.append(_Candidate(sent, predicate=verbs[0].predicate, method="lexicon", confidence=1.0,
                                    date=best_date, extra={"statement": True}))
        return cands

    # -- normalization --------------------------------------------------------
    def _claim(self, doc: Document, c: _Candidate, text_kind: str, facts: _TextFacts) -> Claim:
        text = facts.text
        lang = (doc.language.code or doc.lang_hint or "und") if text_kind == "source" else (
            doc.translation.target_language or "en")
        s, e = c.sent
        sentence = text[s:e]
        entry = vocabulary()[c.predicate]
        claim = Claim(source_text=sentence, predicate=c.predicate, language=lang,
                      confidence=c.confidence, predicate_method=c.method, doc_id=doc.id, doc_source=doc.source)
        if doc.HasField("published_at"):
            claim.published_at.CopyFrom(doc.published_at)
        if text_kind == "source":
            claim.start, claim.end = s, e
            claim.found_in = Entity.Field.SOURCE_TEXT
        else:  # found only in the translation: no span in the source text
            claim.start, claim.end = -1, -1
            claim.found_in = Entity.Field.TRANSLATED_TEXT
        sent_entities = facts.within(s, e)
        if c.number is not None:
            attribution = _clause_attribution(text, c.sent, c.number, c.extra.get("numbers", ()), sent_entities,
                                              facts.attributions)
        else:
            attribution = find_attribution(sentence, s, sent_entities)
        if attribution is not None:
            claim.attribution.CopyFrom(attribution.ref)
        if c.number is not None:
            q = qualify(text, c.number, APPROX_TOLERANCE)
            if entry["unit"] in ("people", "troops"):
                # "2,000 soldiers were killed" counts troops: it is never compared with a toll of people.
                unit = "troops" if c.unit == "troops" else entry["unit"]
            elif c.unit == "inr":
                unit = _RUPEES.get(facts.country_id, "inr")
            else:
                unit = c.unit or entry["unit"]
            claim.quantity.CopyFrom(Quantity(value=q.value, unit=unit, qualifier=q.qualifier,
                                             surface=text[q.start:q.end], counted=c.counted))
            if q.lower is not None:
                claim.quantity.lower = q.lower
            if q.upper is not None:
                claim.quantity.upper = q.upper
        if c.date is not None:
            first, last = c.date.iso()
            claim.time.CopyFrom(TimeSpan(start=first, end=last, precision=c.date.precision,
                                         surface=text[c.date.start:c.date.end]))
        attribution_span = (attribution.start, attribution.end) if attribution else (0, 0)
        self._roles(claim, entry, c, sent_entities, facts, attribution_span)
        # The event's month separates two incidents of one kind in one country and year (the Quetta
        # blast in February, the Peshawar blast in September); a past event quoted in a factbox keeps
        # its own year ("in 1945 a tsunami killed about 4,000").
        if c.date is not None:
            period = claim.time.start[:7] if c.date.precision in ("day", "month") else claim.time.start[:4]
        elif doc.HasField("published_at"):
            period = doc.published_at.ToDatetime().strftime("%Y-%m")
        else:
            period = ""
        if not (claim.subject.id or claim.subject.name or claim.object.id or claim.object.name):
            # No party named: nothing ties this claim to another document's; its key is its own.
            claim.subject.id = f"#{doc.id}"
        parts = [c.predicate, claim.subject.id or claim.subject.name.lower(),
                 claim.object.id or claim.object.name.lower(), period]
        if entry["unit"] == "people" and claim.quantity.unit == "troops":
            parts.append("troops")  # "2,000 soldiers were killed": a toll of soldiers, not of everyone
        if c.extra.get("part"):
            parts.append("part")  # "including 12 police officers": a part of the total, its own fact
        if c.extra.get("each") and entry["unit"] == "money":
            parts.append("each")  # "₹4 lakh for the family of each victim": a rate, not a total
        claim.key = "|".join(parts)
        claim.text = _normalized_text(claim, entry)
        return claim

    def _roles(self, claim: Claim, entry: dict[str, Any], c: _Candidate, sent_entities: list[Entity],
               facts: _TextFacts, attribution: tuple[int, int]) -> None:
        text = facts.text
        outside = [x for x in sent_entities if not (x.start < attribution[1] and attribution[0] < x.end)]
        place = self._place(sent_entities, facts)
        if place is not None:
            claim.place.CopyFrom(place)
        rule = entry["subject"]
        if rule == "event_place":
            kind, name = self._event_kind(text[c.sent[0]:c.sent[1]], facts)
            where_ref = entity_ref(facts.locus) if facts.locus is not None else claim.place
            where = where_ref.name
            country = self._country_of(where_ref, sent_entities, facts)
            label = f"{where} ({country})" if country and country != where else where
            if kind and label:
                title = f"{name} in {label}"
            else:
                title = name or (f"An event in {label}" if label else "An event")
            # The key names the event's country: reports link the same event's place at different
            # levels (Hormozgan, Bandar Abbas, Iran), but agree on its country.
            country_id = facts.country_id or place_country(where_ref.id)
            claim.subject.CopyFrom(EntityRef(id=f"{kind or 'event'}@{country_id or where.lower()}", name=title))
            if not (country_id or where):
                # Nowhere named: nothing ties this report to another one's event; its key is its own.
                claim.subject.id += f"#{claim.doc_id}"
        elif rule == "actor":
            # Keys name countries: "Moscow", "Russia" and "the Russian defence ministry" are one actor.
            actors = [x for x in outside if x.label in _ACTOR_LABELS and place_country(x.canonical_id)
                      and not facts.dateline[0] <= x.start < facts.dateline[1]]
            objects = [x for x in actors if self._is_object(text, x)]
            object_countries = {place_country(o.canonical_id) for o in objects}
            subjects = [x for x in actors if place_country(x.canonical_id) not in object_countries]
            if subjects:
                claim.subject.CopyFrom(_country_ref(subjects[0]))
            if objects:
                claim.object.CopyFrom(_country_ref(objects[0]))
            else:  # no destination marker: the second country the sentence names
                other = next((x for x in subjects if place_country(x.canonical_id) != claim.subject.id), None)
                if other is not None:
                    claim.object.CopyFrom(_country_ref(other))
        else:  # parties: the countries named, and those of the leaders who sign for them
            actors = [x for x in outside if x.label in _PARTY_LABELS and place_country(x.canonical_id)]
            refs: dict[str, EntityRef] = {}
            # Each country named once: by its signer if the sentence names one, else by the country,
            # else by its city ("Kim Jong Un and Vladimir Putin", not "Pyongyang and Vladimir Putin").
            for x in sorted(actors, key=lambda x: (x.label != "PERSON", not x.canonical_id.startswith("country:"))):
                refs.setdefault(place_country(x.canonical_id), _country_ref(x))
            if refs:
                ids = sorted(refs)
                names = [refs[i].name for i in ids]
                claim.subject.CopyFrom(EntityRef(id="+".join(ids), name=" and ".join(names)))

    def _place(self, sent_entities: list[Entity], facts: _TextFacts) -> EntityRef | None:
        places = [x for x in sent_entities if x.label in _PLACE_LABELS]
        if places:
            return entity_ref(max(places, key=lambda x: (_specificity(x), -x.start)))
        return facts.linked_place

    @staticmethod
    def _country_of(place: EntityRef | None, sent_entities: list[Entity], facts: _TextFacts) -> str:
        if place is None or place.id.startswith("country:"):
            return ""
        countries = Counter(x.canonical_name for x in sent_entities if x.canonical_id.startswith("country:"))
        return countries.most_common(1)[0][0] if countries else facts.country

    def _event_kind(self, sentence: str, facts: _TextFacts) -> tuple[str, str]:
        """The kind of event a sentence reports: from its own words, else from the document's
        (title and text, searched once per document)."""
        for kind, name, pattern in self._events:
            if pattern.search(sentence):
                return kind, name
        if facts.event_kind is None:
            scope = facts.title + "\n" + facts.text
            facts.event_kind = next(((kind, name) for kind, name, pattern in self._events if pattern.search(scope)),
                                    ("", ""))
        return facts.event_kind

    def _is_object(self, text: str, ent: Entity) -> bool:
        before = regex.findall(r"[\p{L}\p{M}]+", text[max(0, ent.start - 12) : ent.start])
        after = text[ent.end : ent.end + 8]
        if before and before[-1].lower() in self._marker_before:
            return True
        word_after = regex.match(r"[\s\u00a0]*([\p{L}\p{M}]+)", after)
        if word_after and word_after.group(1) in self._marker_after:
            return True
        # Korean particles attach to the name ("러시아에"); so do some Urdu/Hindi clitics.
        return any(after.startswith(m) for m in ("에 ", "에게", "로 ", "으로"))


def _drop_redundant_statements(claims: list[Claim]) -> list[Claim]:
    """Without the statements (no value, no date) whose key the document already claims with one:
    "floods displaced thousands, officials said" adds nothing to the sentence with the number."""
    valued = {c.key for c in claims if c.HasField("quantity") or c.HasField("time")}
    seen: set[str] = set()
    out = []
    for c in claims:
        if not (c.HasField("quantity") or c.HasField("time")):
            if c.key in valued or c.key in seen:
                continue
            seen.add(c.key)
        out.append(c)
    return out


def _names_who_or_where(claim: Claim) -> bool:
    """Whether the claim's key names its subject or object (an event: its place)."""
    subject = claim.subject.id or claim.subject.name
    obj = claim.object.id or claim.object.name
    if "#" in subject:  # a key of its own document only: nowhere or no one named
        subject = ""
    return bool(obj or (subject and not subject.endswith("@")))


def _normalized_text(claim: Claim, entry: dict[str, Any]) -> str:
    """The claim as one English sentence, e.g. 'Floods in Assam (India) displaced about 20,000 people'."""
    fields = {
        "event": claim.subject.name or "The event", "subject": claim.subject.name or "someone",
        "object": claim.object.name or "", "date": claim.time.start if claim.time.start else "an unknown date",
        "value": "", "unit": "",
    }
    if claim.HasField("quantity"):
        q = claim.quantity
        unit = _UNIT_WORDS.get(q.unit, q.unit)
        fields["value"] = _format_value(q)
        if q.unit == "percent":
            fields["value"] += "%"
        elif q.unit not in ("people", "troops", "homes", "magnitude") and unit:
            fields["value"] += f" {unit}"
    if claim.time.precision == "month":
        fields["date"] = claim.time.start[:7]
    elif claim.time.precision == "year":
        fields["date"] = claim.time.start[:4]
    text = entry["template"].format(**fields)
    text = regex.sub(r"\s+", " ", text.replace(" to .", ".").replace("the  agreement", "the agreement"))
    text = regex.sub(r" (to|of|from)$", "", text.strip())
    text = text[0].upper() + text[1:]
    if claim.attribution.name:
        text += f" — according to {claim.attribution.name}"
    return text


def _merge_translation(source: list[Claim], translated: list[Claim]) -> list[Claim]:
    """Source claims, plus translation claims that say something the source claims do not."""
    seen = {(c.predicate, round(c.quantity.value, 6), c.time.start) for c in source}
    return source + [c for c in translated if (c.predicate, round(c.quantity.value, 6), c.time.start) not in seen]


def _different_sources(a: Claim, b: Claim) -> bool:
    """Whether two claims are attributed to two different named sources ("Moscow says about 13,000;
    Ukraine's border guard says more than 30,000")."""
    def source(c: Claim) -> str:
        return c.attribution.id or c.attribution.name.casefold().strip()
    return bool(source(a) and source(b) and source(a) != source(b))


@cache
def _contrast_pattern() -> regex.Pattern[str]:
    return _table_pattern("contrast", whole_words=True)


def _set_against(a: Claim, b: Claim) -> bool:
    """Whether the text sets the later figure against the earlier one with a contrast word ("but",
    "while", "لكن", "однако", "则") in the later figure's sentence, before its number."""
    later = b if (b.start, b.end) >= (a.start, a.end) else a
    surface = later.quantity.surface or later.time.surface
    at = later.source_text.find(surface) if surface else -1
    head = later.source_text[: at if at >= 0 else len(later.source_text)]
    if later.source_text == (a if later is b else b).source_text:
        other = (a if later is b else b)
        first = other.quantity.surface or other.time.surface
        cut = head.find(first) if first else -1
        head = head[cut + len(first):] if cut >= 0 else head
    return _contrast_pattern().search(head) is not None


def _flag_contradictions(claims: list[Claim], tolerance: float) -> None:
    """Mark claims of one document that share a key, come from two named sources, and whose values
    cannot both be true."""
    for i, a in enumerate(claims):
        for b in claims[i + 1 :]:
            if a.key != b.key or not _different_sources(a, b) or not _set_against(a, b):
                continue  # one source's two figures are a breakdown, an update or a recap, not a dispute
            why = values_conflict(a.quantity if a.HasField("quantity") else None, a.time if a.HasField("time")
                                  else None, b.quantity if b.HasField("quantity") else None,
                                  b.time if b.HasField("time") else None, tolerance, a.predicate)
            if why:
                a.contradiction = f"contradicted in this document: {b.source_text[:120]!r} ({why})"
                b.contradiction = f"contradicted in this document: {a.source_text[:120]!r} ({why})"


def _mark_superseded(claims: list[Claim]) -> None:
    """Mark each count that only grows whose document gives a larger figure of its key (in its unit):
    an earlier figure ("rose to 21 from 16"), a part the cues missed, or the lower side of a dispute
    the document reports itself. Between documents, a document speaks by its largest figure: its
    smaller ones are never one side of a group's conflict (`Claim.superseded`, claims/groups.py)."""
    largest: dict[tuple[str, str], float] = {}
    for c in claims:
        if c.predicate in CUMULATIVE and c.HasField("quantity"):
            where = (c.key, c.quantity.unit)
            largest[where] = max(largest.get(where, c.quantity.value), c.quantity.value)
    for c in claims:
        if c.predicate in CUMULATIVE and c.HasField("quantity"):
            c.superseded = c.quantity.value < largest[(c.key, c.quantity.unit)]


def load(settings: Settings) -> ClaimModel:
    """The claims stage's model (the factory every runner calls)."""
    return ClaimModel(settings)


def group_store(settings: Settings) -> ClaimGroups:
    """The in-process claim-group store (`enrich`, the gateway): the stream keeps its groups on claims.groups."""
    return ClaimGroups(tolerance=settings.claims_conflict_tolerance)
