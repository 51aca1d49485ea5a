"""Numbers in every script to a value: digits, separators, multiplier words, number words.

All functions work on code-point offsets of the original text: `normalize_digits`
maps each character to exactly one character, so a span found in the normalized
text is the same span in the source.

Rules (the README's "numbers" table):

- Devanagari ०-९, Persian ۰-۹, Arabic-Indic ٠-٩, Bengali, full-width digits -> 0-9;
  the Arabic thousands separator ٬ and a Persian/Arabic comma ، between digits -> ',';
  the Arabic decimal separator ٫ -> '.'.
- Grouping: several separators of one kind are grouping, western (14,000,000) or
  Indian (1,00,000); with both ',' and '.', the last one is the decimal mark; a
  single separator is the language's decimal mark (Babel, e.g. ',' for de/fr/ru)
  unless it is the other mark followed by exactly three digits (en "14,000",
  de "10.000"). A no-break or thin space is always grouping; a plain space only in
  languages that group with it (fr, ru, uk, de, es, ...).
- A multiplier word after a numeral multiplies it ("20 हज़ार", "2.5 लाख", "۲۰ هزار",
  "11 тыс.", "1,2 млн", "1.8万", "1만").
- Number words: units and tens summed, hundreds and larger multiply ("twenty
  thousand", "बीस हज़ार", "بیست و پنج هزار").
- Composite amounts are one number: a smaller group after a larger one adds ("8 ارب 26 کروڑ",
  "۸ میلیارد و ۲۶۰ میلیون" = 8.26 billion), a larger multiplier after a group multiplies all
  of it ("پانچ ہزار کروڑ" = 5,000 crore, "2 ہزار 3 سو ارب" = 2,300 billion). Groups join across
  spaces and "and" words only, never across punctuation.
- Vague amounts ("thousands of", "हज़ारों", "هزاران", "тысячи") become a range.
- Ranges ("between 30,000 and 40,000", "zwischen 30 und 40", "от 30 до 40", "بين 30 و40 ألفا") are
  one number over both bounds, its value the lower one; a first bound written without the
  second's multiplier takes it ("30 و40 ألفا" is 30,000 to 40,000).
- Chinese numerals ("十四人", "二十五人", "三百栋", "两万三千") count only before a counter
  (人, 名, 栋, ...; after 余/多 too) and never after 第 (an ordinal), since 一 and 三 are also
  parts of words (一些 "some", 统一 "unify", 三峡 "Three Gorges").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import regex

from claimstream.claims.lexicons import load, spellings

_DIGIT_BLOCKS = ("०१२३४५६७८९", "۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩", "০১২৩৪৫৬৭৮৯", "０１２３４５６７８９")
_DIGITS = {ord(c): str(i) for block in _DIGIT_BLOCKS for i, c in enumerate(block)}
_DIGITS[ord("٬")] = ","  # ARABIC THOUSANDS SEPARATOR
_DIGITS[ord("٫")] = "."  # ARABIC DECIMAL SEPARATOR
_DIGITS[ord("\u2019")] = "'"  # Swiss-style grouping apostrophe
_ARABIC_COMMA_IN_NUMBER = regex.compile(r"(?<=\d)[،,](?=\d)")

# Languages whose typography groups thousands with a plain space ("12 000").
SPACE_GROUPING_LANGS = frozenset({"fr", "ru", "uk", "de", "es", "pl", "cs", "sv", "no", "fi", "it", "pt"})

_NUMERAL = regex.compile(
    r"(?<![\d\p{Latin}\p{Cyrillic}])\d+(?:(?:[.,']|[\u00a0\u202f\u2009 ](?=\d{3}(?!\d)))\d+)*"
)
_SPACES = regex.compile(r"[\u00a0\u202f\u2009 ']")
# A numeral longer than this is an identifier, a phone number or noise, not an amount (and its
# float would lose digits or overflow).
MAX_NUMERAL_CHARS = 24
# Multipliers that are abbreviations and may carry a trailing period.
_ABBREVIATIONS = frozenset({"тыс", "тис", "млн", "млрд", "mio", "mrd", "mn", "bn"})
_CJK = regex.compile(r"[\p{Han}\p{Hangul}]")
_CJK_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
               "八": 8, "九": 9}
_CJK_SMALL = {"十": 10, "百": 100, "千": 1000}
_CJK_LARGE = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
# After a Chinese numeral: an approximation mark, then a counter (what makes it a count).
_CJK_COUNTERS = "人名位个個座栋棟套间間户戶辆輛架艘枚处處所家条條头頭台部张張级級岁歲次元起例"
_CJK_NUMERAL = regex.compile(
    r"(?<![第\d])[零〇一二两兩三四五六七八九十百千万萬亿億]+(?=[余多来]?[" + _CJK_COUNTERS + r"])"
)


def normalize_digits(text: str) -> str:
    """Every digit as ASCII 0-9 and Arabic separators as ',' '.', same length as `text`."""
    out = text.translate(_DIGITS)
    return _ARABIC_COMMA_IN_NUMBER.sub(",", out)


@cache
def decimal_mark(lang: str) -> str:
    """The language's decimal mark for Latin digits: ',' or '.' (from Babel's CLDR data)."""
    from babel import Locale, UnknownLocaleError
    from babel.numbers import get_decimal_symbol

    try:
        symbol = get_decimal_symbol(Locale.parse(lang), numbering_system="latn")
    except (UnknownLocaleError, ValueError, TypeError):
        return "."
    return "," if symbol == "," else "."


def parse_numeral(token: str, lang: str = "en") -> tuple[float, int] | None:
    """Value of a numeral of ASCII digits and separators, and how many characters it used.

    Returns None when the separators fit no grouping rule (e.g. a date "13.05.2024").
    """
    parts = _SPACES.split(token)
    if len(parts) > 1:
        plain_space = " " in token
        valid = len(regex.match(r"\d+", parts[0]).group(0)) <= 3 and all(
            regex.match(r"\d{3}(?!\d)", p) for p in parts[1:]
        )
        if not valid or (plain_space and lang not in SPACE_GROUPING_LANGS and "'" not in token):
            first = parts[0]
            parsed = parse_numeral(first, lang)
            return (parsed[0], len(first)) if parsed else None
    s = "".join(parts)
    has_comma, has_dot = "," in s, "." in s
    if has_comma and has_dot:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        group = "." if dec == "," else ","
        whole, _, frac = s.rpartition(dec)
        if dec in whole:
            return None
        return float(whole.replace(group, "") + "." + frac), len(token)
    if not (has_comma or has_dot):
        return float(s), len(token)
    sep = "," if has_comma else "."
    pieces = s.split(sep)
    if len(pieces) > 2:
        western = all(len(p) == 3 for p in pieces[1:]) and 1 <= len(pieces[0]) <= 3
        indian = (
            sep == "," and len(pieces[-1]) == 3 and all(len(p) == 2 for p in pieces[1:-1])
            and 1 <= len(pieces[0]) <= 2
        )
        if western or indian:
            return float("".join(pieces)), len(token)
        return None
    whole, frac = pieces
    if sep != decimal_mark(lang) and len(frac) == 3 and 1 <= len(whole) <= 3:
        return float(whole + frac), len(token)
    return float(whole + "." + frac), len(token)


@dataclass(frozen=True)
class NumberMention:
    """A number found in text: its span, value and, for vague amounts, a range."""

    start: int
    end: int
    value: float
    lower: float | None = None
    upper: float | None = None
    kind: str = "numeral"  # numeral, words, vague, range

    def surface(self, text: str) -> str:
        return text[self.start : self.end]


def _combine(tokens: list[tuple[str, float]]) -> float:
    """The value of a sequence of ("n", number) and ("m", multiplier) tokens, read the way the
    languages read them: a hundred multiplies inside a group; a multiplier larger than any before
    multiplies everything so far; a smaller one closes a lower group that adds."""
    total, current, largest = Decimal(0), Decimal(0), Decimal(0)
    for kind, value in tokens:
        v = Decimal(repr(value))
        if kind == "n":
            current += v
        elif v == 100:
            current = max(current, Decimal(1)) * 100
        elif v > largest:
            total = (total + (current if current or total else Decimal(1))) * v
            largest, current = v, Decimal(0)
        else:
            total += max(current, Decimal(1)) * v
            current = Decimal(0)
    return float(total + current)


def _alternation(words: dict[str, float] | set[str] | list[str]) -> str:
    forms = sorted({f for w in words for f in spellings(w)}, key=len, reverse=True)
    return "|".join(regex.escape(f) for f in forms)


@dataclass(frozen=True)
class _Tables:
    """The number lexicons of every language, merged, with the patterns built from them."""

    multipliers: dict[str, float]
    words: dict[str, float]
    ambiguous: set[str]
    vague: dict[str, tuple[float, float]]
    one_after: set[str]
    mult_re: regex.Pattern[str]
    words_re: regex.Pattern[str]
    vague_re: regex.Pattern[str]
    join_re: regex.Pattern[str]


@cache
def _tables() -> _Tables:
    data = load("numbers")
    multipliers: dict[str, float] = {}
    for table in data["multipliers"].values():
        for word, value in table.items():
            for form in spellings(word):
                multipliers[form] = float(value)
    words: dict[str, float] = {}
    for table in data["words"].values():
        for word, value in table.items():
            for form in spellings(word):
                words[form] = float(value)
    ambiguous = {f for ws in data["ambiguous_words"].values() for w in ws for f in spellings(w)}
    vague: dict[str, tuple[float, float]] = {}
    for table in data["vague"].values():
        for phrase, (lo, hi) in table.items():
            for form in spellings(phrase):
                vague[form] = (float(lo), float(hi))
    cjk_mult = {m for m in multipliers if _CJK.match(m)}
    word_mult = {m for m in multipliers if m not in cjk_mult}
    boundary_l, boundary_r = r"(?<![\p{L}\p{M}\u200c])", r"(?![\p{L}\p{M}\u200c])"
    mult_re = regex.compile(
        r"(?:[ \u00a0]?(?P<cjk>" + _alternation(cjk_mult) + r"))|(?:[ \u00a0]?" + boundary_l
        + r"(?P<word>" + _alternation(word_mult) + r")" + boundary_r + r")",
        regex.IGNORECASE,
    )
    word_alt = boundary_l + "(?:" + _alternation(set(words) | word_mult) + ")" + boundary_r
    connectors = "|".join(regex.escape(c) for c in data["connectors"])
    # What may stand between two groups of one composite amount: spaces, or an "and" word.
    join_re = regex.compile(r"[ \u00a0]+(?:(?:" + "|".join(regex.escape(c) for c in data["connectors"] if c != "-")
                            + r")[ \u00a0]+)?")
    words_re = regex.compile(
        word_alt + r"(?:(?:\s*-\s*|\s+(?:(?:" + connectors + r")\s+)?)" + word_alt + ")*", regex.IGNORECASE
    )
    vague_re = regex.compile(boundary_l + "(?:" + _alternation(set(vague)) + ")" + boundary_r, regex.IGNORECASE)
    one_after = {f for ws in data.get("one_after", {}).values() for w in ws for f in spellings(w)}
    return _Tables(multipliers=multipliers, words=words, ambiguous=ambiguous, vague=vague, one_after=one_after,
                   mult_re=mult_re, words_re=words_re, vague_re=vague_re, join_re=join_re)


def _numeral_mentions(norm: str, lang: str) -> list[NumberMention]:
    out = []
    pos = 0
    while (m := _NUMERAL.search(norm, pos)) is not None:
        pos = m.end()
        if m.end() - m.start() > MAX_NUMERAL_CHARS:
            continue
        parsed = parse_numeral(m.group(0), lang)
        if parsed is None:
            continue
        value, used = parsed
        # A numeral cut short ("2023 100": a year, then a count) resumes after the part used.
        pos = m.start() + used
        end = m.start() + used
        multiplied = _multiplier_at(norm, end)
        if multiplied is not None:
            tokens = [("n", value), ("m", multiplied[0])]
            end = multiplied[1]
            while True:  # a composite amount: more groups, or a larger multiplier, follow
                stacked = _multiplier_at(norm, end)
                if stacked is not None:
                    tokens.append(("m", stacked[0]))
                    end = stacked[1]
                    continue
                group = _next_group(norm, end, lang)
                if group is None:
                    break
                tokens.extend(group[0])
                end = group[1]
            value = _combine(tokens)
            pos = max(pos, end)
        out.append(NumberMention(m.start(), end, value))
    return out


def _multiplier_at(norm: str, pos: int) -> tuple[float, int] | None:
    """The multiplier word right at `pos` (after at most one space) and where it ends."""
    t = _tables()
    mm = t.mult_re.match(norm, pos)
    if not mm:
        return None
    word = (mm.group("cjk") or mm.group("word")).lower()
    end = mm.end()
    if word in _ABBREVIATIONS and norm[end : end + 1] == ".":
        end += 1
    return t.multipliers[word], end


def _next_group(norm: str, pos: int, lang: str) -> tuple[list[tuple[str, float]], int] | None:
    """A further group of a composite amount at `pos`: a numeral with its multiplier."""
    t = _tables()
    join = t.join_re.match(norm, pos)
    if not join:
        return None
    m = _NUMERAL.match(norm, join.end())
    if not m or m.end() - m.start() > MAX_NUMERAL_CHARS:
        return None
    parsed = parse_numeral(m.group(0), lang)
    if parsed is None or parsed[1] != m.end() - m.start():
        return None
    multiplied = _multiplier_at(norm, m.end())
    if multiplied is None:
        return None  # "12 million 30 people": a second number, not a part of the first
    return [("n", parsed[0]), ("m", multiplied[0])], multiplied[1]


def _word_mentions(norm: str) -> list[NumberMention]:
    t = _tables()
    words, multipliers, ambiguous = t.words, t.multipliers, t.ambiguous
    out = []
    for m in t.words_re.finditer(norm):
        # Words as the lexicon writes them: Ukrainian п'ять keeps its apostrophe.
        found = [(w.group(0).lower(), w.end())
                 for w in regex.finditer(r"[\p{L}\p{M}\u200c]+(?:['\u2019\u02bc][\p{L}\p{M}]+)*", m.group(0))]
        found = [(w, e) for w, e in found if w in words or w in multipliers]
        # An ambiguous word after the last multiplier is the other word ("۱۲ هزار واحد": units).
        while found and found[-1][0] in ambiguous and found[-1][0] not in multipliers and len(found) > 1:
            found.pop()
        if not found:
            continue
        end = m.start() + found[-1][1]
        tokens = [w for w, _ in found]
        if not any(w in words for w in tokens):
            # A multiplier alone ("thousands") is vague or a unit, not a number, except right after
            # a comparison word: «более тысячи» is more than one thousand.
            before = regex.search(r"([\p{L}\p{M}]+)[ \u00a0]+$", norm[max(0, m.start() - 30):m.start()])
            if len(tokens) == 1 and before and before.group(1).lower() in t.one_after:
                out.append(NumberMention(m.start(), end, multipliers[tokens[0]], kind="words"))
            continue
        has_mult = any(w in multipliers and w not in words for w in tokens)
        if not has_mult and all(w in ambiguous for w in tokens):
            continue
        value = _combine([("n", words[w]) if w in words else ("m", multipliers[w]) for w in tokens])
        out.append(NumberMention(m.start(), end, value, kind="words"))
    return out


def cjk_numeral_value(token: str) -> float | None:
    """The value of a Chinese numeral ("二十五" 25, "三百" 300, "两万三千" 23,000), None if it is not one."""
    total = section = 0
    digit: int | None = None
    for ch in token:
        if ch in _CJK_DIGITS:
            if digit is not None and ch not in "零〇":
                return None  # two digits in a row ("一二"): not a numeral of this kind
            digit = _CJK_DIGITS[ch]
        elif ch in _CJK_SMALL:
            section += (1 if digit is None else digit) * _CJK_SMALL[ch]
            digit = None
        elif ch in _CJK_LARGE:
            unit = _CJK_LARGE[ch]
            if unit > 10**4:
                total = (total + section + (digit or 0)) * unit
            else:
                total += (section + (digit or 0)) * unit
            section, digit = 0, None
        else:
            return None
    value = total + section + (digit or 0)
    return float(value) if value else None


def _cjk_mentions(norm: str) -> list[NumberMention]:
    out = []
    for m in _CJK_NUMERAL.finditer(norm):
        token = m.group(0)
        if token in ("一", "两", "兩"):
            continue  # "one"/"a": 一名记者 is a reporter, not a count (the other languages' "a" rule)
        value = cjk_numeral_value(token)
        if value is not None:
            out.append(NumberMention(m.start(), m.end(), value, kind="words"))
    return out


def _vague_mentions(norm: str) -> list[NumberMention]:
    t = _tables()
    out = []
    for m in t.vague_re.finditer(norm):
        lo, hi = t.vague[m.group(0).lower()]
        out.append(NumberMention(m.start(), m.end(), lo, lo, hi, kind="vague"))
    return out


def find_numbers(text: str, lang: str = "en", exclude: list[tuple[int, int]] | None = None) -> list[NumberMention]:
    """Every number in `text`, in order; overlapping readings keep the longest.

    `exclude` are spans (e.g. dates) whose numbers are not quantities.
    """
    norm = normalize_digits(text)
    candidates = _numeral_mentions(norm, lang) + _word_mentions(norm) + _vague_mentions(norm) + _cjk_mentions(norm)
    candidates.sort(key=lambda n: (-(n.end - n.start), n.start))
    taken: list[NumberMention] = []
    # Which characters a taken reading (or an excluded span) covers: linear in the text, where
    # comparing each reading with every taken one was quadratic in the numbers of a document.
    covered = bytearray(len(norm) + 1)
    for s, e in exclude or []:
        s, e = max(0, s), min(e, len(covered))
        if s < e:
            covered[s:e] = b"\x01" * (e - s)
    for cand in candidates:
        if any(covered[cand.start:cand.end]):
            continue
        taken.append(cand)
        covered[cand.start:cand.end] = b"\x01" * (cand.end - cand.start)
    return _join_ranges(norm, sorted(taken, key=lambda n: n.start))


_RANGE_OPEN = regex.compile(r"(?<![\p{L}])(?:between|zwischen|entre|от|від|بين)[ \u00a0]+$", regex.IGNORECASE)
_RANGE_JOIN = regex.compile(r"^[ \u00a0]*(?:and|und|et|y|до|و)[ \u00a0]*$", regex.IGNORECASE)


def _join_ranges(norm: str, numbers: list[NumberMention]) -> list[NumberMention]:
    """Two numbers that are the bounds of one range ("between 30 and 40") as one NumberMention."""
    out: list[NumberMention] = []
    i = 0
    while i < len(numbers):
        low = numbers[i]
        high = numbers[i + 1] if i + 1 < len(numbers) else None
        years = high is not None and all(regex.fullmatch(r"(?:1[89]|20)\d\d", norm[n.start:n.end]) for n in (low, high))
        if (high is not None and not years and low.kind != "vague" and high.kind != "vague"
                and _RANGE_OPEN.search(norm, max(0, low.start - 12), low.start)
                and _RANGE_JOIN.match(norm[low.end:high.start])):
            lo = low.value
            if high.value >= 1000 * lo and low.end - low.start <= 3:
                # "30 و40 ألفا", "between 30 and 40 thousand": the multiplier is written once
                scale = 10 ** (3 * int(math.log10(high.value / lo) // 3))
                lo *= scale
            if lo < high.value:
                out.append(NumberMention(low.start, high.end, lo, lo, high.value, kind="range"))
                i += 2
                continue
        out.append(low)
        i += 1
    return out


def parse_number(text: str, lang: str = "en") -> float | None:
    """The value of the first number in `text` (convenience for tests and the CLI)."""
    found = find_numbers(text, lang)
    return found[0].value if found else None
