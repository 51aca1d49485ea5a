"""Sentence boundaries, the one splitter of every stage (translate's segments, claims' sentences).

A sentence ends at a terminator and any closing quotes or brackets after it. The Latin-script
marks (. ! ? …) end one only before whitespace or the end of the text, so "3.5", "20.000" and
"U.S.-led" never do; the Devanagari danda, the Arabic and Urdu marks and the CJK full-width
marks end one wherever they stand. A period does not end a sentence after a title, an initial
or a known abbreviation ("Dr. Smith", "J. Jones", "the U.S. capital"), and ends one after a
unit, month or company abbreviation only when a capital follows ("3 p.m. Police said", but
"3 p.m. on Monday"; «5 тыс. В городе», but «1,3 тыс. частных домов»). Line breaks are not
sentence ends: callers that care about lines split them first.
"""

from __future__ import annotations

import regex

from claimstream.core.text import chunk_spans

_SPACED_ENDS = ".!?…"
_ANYWHERE_ENDS = "।॥؟۔。！？"
_CLOSERS = "\"'”’»›)]}」』"
_SENTENCE_END = regex.compile(
    "([" + regex.escape(_SPACED_ENDS + _ANYWHERE_ENDS) + "]+)[" + regex.escape(_CLOSERS) + "]*"
)
_OPENERS = "\"'“‘«(["

#: Lower-cased words that a period follows without ending the sentence: titles before a name,
#: and abbreviations that sit inside a sentence.
NEVER_END_AFTER = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt gov sen rep pres rev hon
    vs e.g i.e cf al approx no nos vol fig u.s u.k u.n e.u
    """.split()
)
#: Lower-cased abbreviations after which a period ends the sentence only when a capital letter
#: follows: months, company forms, "etc.", clock times and unit words.
END_BEFORE_CAPITAL = frozenset(
    """
    jan feb mar apr jun jul aug sep sept oct nov dec etc inc ltd co corp dept univ assn bros est
    a.m p.m km mln mio mrd bn тыс тис млн млрд руб грн долл чел коп
    """.split()
)
#: Where a sentence too long to be one is preferably cut.
CLAUSE_BREAKS = ";؛,،，、:"


def _period_ends(text: str, dot: int, after: int) -> bool:
    """Whether the period at `dot` ends a sentence; `after` is where the text after it resumes."""
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in _OPENERS:
        start -= 1
    word = text[start:dot]
    if not word:
        return True
    lower = word.lower()
    if lower in NEVER_END_AFTER or (len(word) == 1 and word.isupper()):  # "Dr. Smith", "J. Jones"
        return False
    if lower in END_BEFORE_CAPITAL:
        rest = text[after:after + 3].lstrip()
        return not rest or not (rest[0].islower() or rest[0].isdigit())
    return True


def sentence_spans(text: str, max_chars: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of `text` in code points, in order, whitespace trimmed, none
    empty. With `max_chars`, a longer sentence is cut at its last clause break (else space) before
    the limit, so the work per sentence stays bounded whatever the input (a list, a transcript)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        marks = m.group(1)
        if marks[-1] in _SPACED_ENDS and end < len(text) and not text[end].isspace():
            continue
        if marks == "." and not _period_ends(text, m.start(1), end):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    if max_chars is not None:
        spans = [piece for s, e in spans for piece in chunk_spans(text, s, e, max_chars, CLAUSE_BREAKS)]
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out
