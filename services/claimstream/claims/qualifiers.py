"""Qualifiers ("about", "लगभग", "بیش از", "не менее", "이상") turn a number into a range.

| qualifier | example | lower | upper |
| --- | --- | --- | --- |
| exact | 18,000 | v | v |
| approx | about / लगभग / حدود / около 20,000 | v·(1-t) | v·(1+t) |
| approx (nearly) | nearly / почти / نزدیک به 20,000 | v·(1-t) | v |
| at_least | at least / कम से कम / دست‌کم / не менее | v | unbounded |
| more_than | more than / से अधिक / بیش از / более | v | unbounded |
| at_most | up to / तक / до / 이하 | 0 | v |
| less_than | less than / से कम / کمتر از / менее | 0 | v |

t is `APPROX_TOLERANCE` (±10 %). "nearly" is reported as qualifier `approx` with the
upper bound at the value. A vague amount ("thousands of") is `approx` over its own
range. An unbounded upper bound is left unset in the Quantity message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import regex

from claimstream.claims.lexicons import load, spellings
from claimstream.claims.numbers import NumberMention

#: Relative half-width of an "approx" range: "about 20,000" is 18,000..22,000.
APPROX_TOLERANCE = 0.10
QUALIFIERS = ("exact", "approx", "at_least", "more_than", "at_most", "less_than")


@dataclass(frozen=True)
class QualifiedNumber:
    """A number with its qualifier and bounds; `start`/`end` include the qualifier words."""

    value: float
    lower: float | None
    upper: float | None
    qualifier: str
    start: int
    end: int


@cache
def _patterns() -> tuple[regex.Pattern[str], regex.Pattern[str], dict[str, str], dict[str, str]]:
    data = load("qualifiers")
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for table in data["before"].values():
        for word, q in table.items():
            before.update({f: q for f in spellings(word)})
    for table in data["after"].values():
        for word, q in table.items():
            after.update({f: q for f in spellings(word)})

    def alt(words: dict[str, str]) -> str:
        return "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))

    # Before: the qualifier ends right before the number (spaces allowed; CJK none needed).
    before_re = regex.compile(
        r"(?:(?<![\p{L}\p{M}\u200c])|(?<=[\p{Han}]))(?:" + alt(before) + r")[\s\u00a0]*$", regex.IGNORECASE
    )
    # After: right after the number, or after one unit/counter word ("1만 명 이상").
    after_re = regex.compile(
        r"(?:[\s\u00a0]*[\p{L}\p{M}\u200c]+)??[\s\u00a0]*(?P<q>" + alt(after) + r")(?![\p{L}\p{M}\u200c])"
        r"|(?P<cjk>[多余])",
        regex.IGNORECASE,
    )
    return before_re, after_re, before, after


def bounds(value: float, qualifier: str, tolerance: float = APPROX_TOLERANCE) -> tuple[float | None, float | None]:
    """Lower and upper bound of `value` under `qualifier` (None: unbounded)."""
    # Rounded so that 20,000 ± 10 % reads 22000, not 22000.000000000004.
    if qualifier == "approx":
        return round(value * (1 - tolerance), 6), round(value * (1 + tolerance), 6)
    if qualifier == "nearly":
        return round(value * (1 - tolerance), 6), value
    if qualifier in ("at_least", "more_than"):
        return value, None
    if qualifier in ("at_most", "less_than"):
        return 0.0, value
    return value, value


def qualify(text: str, number: NumberMention, tolerance: float = APPROX_TOLERANCE) -> QualifiedNumber:
    """The qualifier written around `number` in `text`, and the range it means."""
    before_re, after_re, before, after = _patterns()
    start, end = number.start, number.end
    qualifier = "exact"
    window = text[max(0, start - 30) : start]
    m = before_re.search(window)
    if m:
        word = regex.sub(r"[\s\u00a0]+$", "", m.group(0)).lower()
        qualifier = before.get(word, "exact")
        start -= len(m.group(0))
    else:
        m = after_re.match(text, end, min(len(text), end + 30))
        if m:
            qualifier = "more_than" if m.group("cjk") else after.get(m.group("q").lower(), "exact")
            end = m.end()
    lower: float | None
    upper: float | None
    if number.kind == "range":  # "between 30,000 and 40,000": its own bounds, whatever stands around it
        return QualifiedNumber(number.value, number.lower, number.upper, "approx", start, end)
    if number.kind == "vague" and number.lower is not None:
        lower, upper = number.lower, number.upper
        if qualifier in ("at_least", "more_than"):
            upper = None
        return QualifiedNumber(number.value, lower, upper, "approx" if qualifier == "exact" else qualifier,
                               start, end)
    lower, upper = bounds(number.value, qualifier, tolerance)
    reported = "approx" if qualifier == "nearly" else qualifier
    return QualifiedNumber(number.value, lower, upper, reported, start, end)
