"""Sentences, units, attribution and entities: the pieces a claim is built from.

Pure functions over one text; `model.py` puts them together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import regex

from claimstream.claims.lexicons import load, spellings
from claimstream.claims.numbers import NumberMention, normalize_digits
from claimstream.core.schema import Entity, EntityRef
from claimstream.core.sentences import sentence_spans

#: Longest span treated as one sentence. News sentences stay well under it; a text without
#: sentence punctuation (a list, a transcript, hostile input) is cut into clauses of at most this,
#: so the work per claim (attribution, triggers, context) is bounded whatever the document.
MAX_SENTENCE_CHARS = 600


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in code points, whitespace trimmed, in order, none longer than
    `max_chars` (`core.sentences`: the splitter every stage shares)."""
    return sentence_spans(text, max_chars)


@dataclass(frozen=True)
class _UnitTables:
    pattern: regex.Pattern[str]
    owner: dict[str, str]
    symbols: dict[str, str]
    cjk: dict[str, str]
    head_units: frozenset[str]
    function_words: frozenset[str]
    clock: regex.Pattern[str]
    ordinal_after: regex.Pattern[str]
    ordinal_before: tuple[str, ...]
    person: regex.Pattern[str]
    counted_before: regex.Pattern[str]


def _prefix_pattern(words: set[str]) -> regex.Pattern[str]:
    alternation = "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))
    return regex.compile(r"(?:(?<![\p{L}\p{M}\u200c])|(?<=[\p{Han}\p{Hangul}]))(?:" + alternation + ")",
                         regex.IGNORECASE)


@cache
def _unit_tables() -> _UnitTables:
    data = load("units")
    owner: dict[str, str] = {}
    for unit, words in data["words"].items():
        for word in words:
            for form in spellings(word):
                owner.setdefault(form, unit)
    clock = "|".join(regex.escape(w) for w in sorted(data["clock_after"], key=len, reverse=True))
    ordinal = "|".join(regex.escape(w) for w in sorted(data["ordinal_after"], key=len, reverse=True))
    return _UnitTables(
        pattern=_prefix_pattern(set(owner)), owner=owner, symbols=data["symbols_before"], cjk=data["cjk_after"],
        head_units=frozenset(data["head_units"]),
        function_words=frozenset(f for w in data["function_words"] for f in spellings(w)),
        clock=regex.compile(r"^(?::\d\d|[\s\u00a0]*(?:" + clock + r")(?![\p{L}\p{M}]))", regex.IGNORECASE),
        ordinal_after=regex.compile(r"^(?:" + ordinal + r")(?![\p{L}\p{M}])", regex.IGNORECASE),
        ordinal_before=tuple(w.lower() for w in data["ordinal_before"]),
        person=_prefix_pattern({f for w in data["person_nouns"] for f in spellings(w)}),
        # "the number of houses lost at", «число погибших выросло до»: the noun, then no clause break
        # up to the number.
        counted_before=regex.compile(
            r"(?<![\p{L}\p{M}])(?:" + "|".join(regex.escape(w) for ws in data["counted_before"].values()
                                               for w in sorted(ws, key=len, reverse=True))
            + r")[\s\u00a0]*(?:the[\s\u00a0]+)?(?P<noun>[\p{L}\p{M}'’-]+)[^,.;:،؛।，。、；：！？]*$",
            regex.IGNORECASE),
    )


#: What a number's next words may be made of: a hyphen joins "10-year"; punctuation ends them
#: (CJK punctuation too: Chinese writes no spaces, so a "word" would run on to the sentence end).
_NEXT_WORDS = regex.compile(r"(?:[-\s\u00a0]*[^\s\u00a0,.;:،؛।，。、；：！？（）]{1,24}){1,3}")
#: Han and Hangul "approximately/more than" marks between a number and its counter ("2100多人").
_CJK_APPROX = "多余几約约"


def find_counted(text: str, number: NumberMention) -> tuple[str, str]:
    """What the number counts, as (unit, word): the unit is people, troops, homes, a currency,
    percent, magnitude, or a kind of number that is never a claim's value (places, duration,
    things, distance, clock, ordinal), or '' when its words say nothing; the word is the
    counted noun as written ("soldiers", "टीमें"), or ''.

    Units of the number's own noun (things, distance) count only as its first word, or its
    second after an adjective: "24 relief centres" counts centres, "killed 12 in a school" does not.
    """
    t = _unit_tables()
    raw_before = text[max(0, number.start - 4) : number.start]
    before = raw_before.rstrip().lower()
    for symbol, unit in t.symbols.items():
        if before.endswith(symbol):
            return unit, symbol
    if raw_before.endswith(":") and raw_before[-2:-1].isdigit():
        return "clock", ""  # the minutes of 5:42
    if before.endswith(t.ordinal_before) and number.kind == "numeral":
        return "ordinal", ""
    following = normalize_digits(text[number.end : number.end + 40])
    if number.kind == "numeral":
        if t.clock.match(following):
            return "clock", ""
        if t.ordinal_after.match(following):
            return "ordinal", ""
    stripped = following.lstrip(" \u00a0").lstrip(_CJK_APPROX)
    if stripped[:1] in t.cjk:
        return t.cjk[stripped[:1]], stripped[:1]
    words = _NEXT_WORDS.match(following)
    if not words:
        return _counted_before(text, number, t)
    window = words.group(0)
    spans = [(w.start(), w.end()) for w in regex.finditer(r"[^-\s\u00a0]+", window)]
    for m in t.pattern.finditer(window):
        unit = t.owner[m.group(0).lower()]
        index = next((i for i, (s, e) in enumerate(spans) if s <= m.start() < e), len(spans))
        if unit in t.head_units:
            first = window[spans[0][0]:spans[0][1]].lower() if spans else ""
            if index > 1 or (index == 1 and first in t.function_words):
                continue
        s, e = spans[index] if index < len(spans) else (m.start(), m.end())
        if e - s > 24 or regex.search(r"[\p{Han}\p{Hangul}]", window[s:e]):
            s, e = m.start(), m.end()  # text without spaces: the unit word itself is the counted noun
        return unit, window[s:e]
    return _counted_before(text, number, t)


def _counted_before(text: str, number: NumberMention, t: _UnitTables) -> tuple[str, str]:
    """What "the number of X ... N" says N counts, when no unit word follows N: ('', '') if nothing."""
    m = t.counted_before.search(text, max(0, number.start - 80), number.start)
    if m is None:
        return "", ""
    noun = m.group("noun")
    unit = next((t.owner[u.group(0).lower()] for u in t.pattern.finditer(noun) if u.start() == 0), "")
    return (unit, noun) if unit else ("", "")


def counts_people(text: str, number: NumberMention) -> bool:
    """Whether the words right after the number name people ("children", "मछुआरा", "pupils")."""
    words = _NEXT_WORDS.match(normalize_digits(text[number.end : number.end + 40]))
    return bool(words and _unit_tables().person.search(words.group(0)))


@dataclass(frozen=True)
class Attribution:
    """Who a sentence attributes its claim to: a span of the sentence and, if any, its entity."""

    start: int
    end: int
    ref: EntityRef


#: What a source phrase before its marker ("X said", "X के अनुसार") never holds.
_SOURCE_STOPS = r",.;:،؛।\n—，。、：-"


@cache
def _attribution_patterns() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    data = load("predicates")["attribution"]

    def alt(side: str) -> str:
        words = {f for ws in data[side].values() for w in ws for f in spellings(w)}
        return "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))

    bound = r"(?<![\p{L}\p{M}\u200c])"
    # after: the source follows the marker ("according to X", "به گزارش X", "по данным X").
    stop = r",.;:،؛।\n，。、："
    after = regex.compile(
        bound + r"(?:" + alt("after") + r")[\s\u00a0]*(?P<src>[^" + stop + r"]{2,80}?)"
        + r"(?:消息|报道)?(?=[" + stop + r"]|$)",
        regex.IGNORECASE,
    )
    # before: the source precedes the marker ("X said", "X के अनुसार", "X اعلام کرد").
    before = regex.compile(r"(?P<src>[^" + _SOURCE_STOPS + r"]{2,80}?)[\s\u00a0]*(?:" + alt("before") + r")(?![\p{L}])",
                           regex.IGNORECASE)
    return after, before


_SPACE = regex.compile(r"[\s\u00a0]")
#: What a source phrase before its marker never holds (the `before` pattern's excluded marks).
_BEFORE_STOP = regex.compile(r"[" + _SOURCE_STOPS + r"]")


@cache
def _lowercase_markers() -> re.Pattern[str]:
    """The `before` markers, lower-cased, for `re` (no IGNORECASE): the standard library's engine finds
    the first of a long list of literal words several times faster than `regex` ignoring case."""
    data = load("predicates")["attribution"]
    words = {f.lower() for ws in data["before"].values() for w in ws for f in spellings(w)}
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


def _first_marker(lowered: str, pos: int = 0) -> re.Match[str] | None:
    """The first marker from `pos` of a lower-cased sentence that no letter follows (what the markers of
    the `before` pattern take: at each position the longest marker first, then shorter ones)."""
    pattern = _lowercase_markers()
    while (found := pattern.search(lowered, pos)) is not None:
        at = found.start()
        for end in sorted({m.end() for m in _markers_at(pattern, lowered, at)}, reverse=True):
            if end >= len(lowered) or not lowered[end].isalpha():
                return pattern.match(lowered, at, end) if end != found.end() else found
        pos = at + 1
    return None


def _markers_at(pattern: re.Pattern[str], text: str, at: int) -> list[re.Match[str]]:
    """Every marker that matches at `at` (a longer one may be followed by a letter, a shorter not)."""
    out, end = [], len(text)
    while (m := pattern.match(text, at, end)) is not None and m.end() > at:
        out.append(m)
        end = m.end() - 1
    return out


def _search_before(before: regex.Pattern[str], sentence: str) -> tuple[int, int] | None:
    """The span of the source phrase of `before.search(sentence)`, without running it in most sentences.

    Its source phrase is 2 to 80 characters, holds no stop mark and ends where only spaces separate it
    from a marker, and no match can use a marker before the first one: so the leftmost match takes the
    first marker, and its source starts right after the last stop mark of the 80 characters before
    the spaces that precede that marker. (Running the pattern, a lazy phrase before 600 words ignoring
    case, from every position cost most of the claims stage's time.) Where the first marker leaves no
    room for a source (a stop mark right before it), the next marker is tried the same way. The
    pattern itself runs only on a sentence whose lower case ("İ") moves positions.
    """
    lowered = sentence.lower()
    if len(lowered) != len(sentence):
        found = before.search(sentence)
        return found.span("src") if found is not None else None
    marker_at = _first_marker(lowered)
    while marker_at is not None:
        at = start = marker_at.start()
        while start > 0 and _SPACE.match(sentence, start - 1):
            start -= 1
        lo = max(0, start - 80)
        stops = [m.end() for m in _BEFORE_STOP.finditer(sentence, lo, start)]
        source = stops[-1] if stops else lo
        # The lazy phrase takes at least 2 characters, spaces if need be (but no line break): the first
        # place from `source` that leaves it room wins.
        for place in range(source, at - 1):
            end = max(start, place + 2)
            if end == start or _BEFORE_STOP.search(sentence, max(start, place), end) is None:
                return place, end
        # Too close to a stop mark or the start: a match takes a later marker, from no earlier place.
        marker_at = _first_marker(lowered, at + 1)
    return None


@cache
def _agent_markers() -> frozenset[str]:
    table = load("predicates")["attribution"]["agent_markers"]
    return frozenset(w for lang, ws in table.items() if not lang.startswith("_") for w in ws)


@cache
def _boundary_words() -> frozenset[str]:
    return frozenset(load("predicates")["attribution"]["boundary_words"])


def _trim_words(text: str, keep: int, from_end: bool) -> tuple[int, int]:
    words = list(regex.finditer(r"\S+", text))
    if not words:
        return 0, 0
    chosen = words[-keep:] if from_end else words[:keep]
    return chosen[0].start(), chosen[-1].end()


_ASIDE = regex.compile(r"[,，،]\s*(?:however|though|meanwhile|in turn|for its part|in contrast|jedoch|dagegen|"
                       r"hingegen|однако|же|в свою очередь|проте|натомість|تاہم|البتہ|اما|در مقابل|بدوره|"
                       r"من جهتها|من جهته|cependant|pourtant|sin embargo|por su parte)\s*[,，،]", regex.IGNORECASE)


def find_attribution(sentence: str, offset: int, entities: list[Entity]) -> Attribution | None:
    """The source a sentence cites, with the entity it names when the ner stage found one.

    `offset` is the sentence's start in the document; entity spans are document offsets.
    """
    after, before = _attribution_patterns()
    # "The Red Cross, however, said ...": a parenthetical adverb between the source and its verb.
    sentence = _ASIDE.sub(lambda a: " " * len(a.group(0)), sentence)
    m = after.search(sentence)
    from_end = m is None
    span = _search_before(before, sentence) if m is None else m.span("src")
    if span is None:
        return None
    src_at, src_text = span[0], sentence[span[0]:span[1]]
    digit = regex.search(r"\p{Nd}", src_text)
    if digit is not None:  # "according to 14 ...": the source ends where a number or a date begins
        src_text = src_text[: digit.start()]
        if not src_text.strip():
            return None
    if from_end:
        # "X ने मंगलवार को बताया": the agent marker ends the source (X), the rest is when.
        words = list(regex.finditer(r"\S+", src_text))
        agent = next((w for w in words if w.group(0) in _agent_markers()), None)
        if agent is not None and agent.start() > 0:
            src_text = src_text[: agent.start()]
        # "in a deal that officials said": the source starts after the last clause boundary.
        words = list(regex.finditer(r"\S+", src_text))
        cut = [w.end() for w in words if w.group(0).lower() in _boundary_words()]
        if cut and cut[-1] < len(src_text.rstrip()):
            src_text = " " * cut[-1] + src_text[cut[-1]:]
    s, e = _trim_words(src_text, 6, from_end)
    start, end = offset + src_at + s, offset + src_at + e
    # An entity names the source only when it is most of the phrase: in "असम राज्य आपदा प्रबंधन
    # प्राधिकरण" (Assam State Disaster Management Authority) the place Assam is not the source.
    inside = [x for x in entities if x.start < end and start < x.end and x.label in _SOURCE_LABELS
              and (x.end - x.start) * 2 >= end - start]
    if inside:
        ent = max(inside, key=lambda x: (bool(x.canonical_id), x.end - x.start))
        ref = entity_ref(ent)
        ref.text = sentence[start - offset : end - offset]
        if not ent.canonical_id:
            ref.name = ref.text
        return Attribution(start, end, ref)
    surface = sentence[start - offset : end - offset].strip(" \"'«»“”()")
    return Attribution(start, end, EntityRef(name=surface, text=surface)) if surface else None


@cache
def _negation_pattern() -> regex.Pattern[str]:
    data = load("predicates")["negation"]
    bounded: set[str] = set()
    unbounded: set[str] = set()
    for lang, words in data.items():
        if lang.startswith("_"):
            continue
        for word in words:
            # Chinese and Korean write no spaces; "n't" hangs on its verb.
            (unbounded if lang in ("zh", "ko") or word.startswith("n'") else bounded).update(spellings(word))
    alt = "|".join(regex.escape(w) for w in sorted(bounded, key=len, reverse=True))
    loose = "|".join(regex.escape(w) for w in sorted(unbounded, key=len, reverse=True))
    return regex.compile(rf"(?<![\p{{L}}\p{{M}}])(?:{alt})(?![\p{{L}}\p{{M}}])|{loose}", regex.IGNORECASE)


def is_negated(sentence: str) -> bool:
    """Whether the sentence denies or withholds something ("have not confirmed", "नहीं", "تکذیب")."""
    return _negation_pattern().search(sentence) is not None


_SOURCE_LABELS = frozenset({"ORG", "PERSON", "PER", "GPE", "NORP", "LOC"})


def entity_ref(ent: Entity) -> EntityRef:
    """An entity as a reference: canonical id and name when linked, else its surface form."""
    return EntityRef(id=ent.canonical_id, name=ent.canonical_name or ent.text, text=ent.text)
