"""Dates and periods in text to ISO spans with a precision (day, month, year).

Where the names come from:

- Gregorian month and weekday names of every supported language: Babel's CLDR data
  (format and stand-alone, wide and abbreviated), plus the extra spellings in
  `lexicons/dates.json` (सितम्बर, Levantine Arabic months, Russian locative "в июне").
- Solar Hijri (Jalali) dates ("۱۴ تیر ۱۴۰۳", "۲۵ اردیبهشت ۱۴۰۳"): the month names in
  `lexicons/dates.json`, converted with `jdatetime`. A Jalali month name counts only
  next to a day number or a 13xx/14xx year, since تیر, مهر and دی are also words.
- Relative expressions ("yesterday", "last month", "पिछले साल", "سال گذشته",
  "в прошлом году"): found with the lexicon, resolved against the document's
  published date by `dateparser` (its `RELATIVE_BASE`), falling back to the lexicon's
  own [unit, offset] where dateparser cannot read the phrase.
- Weekdays ("on Monday", "سه‌شنبه"): the latest such day on or before publication.
- A date without a year takes the publication year, or the year before when that
  would put it after publication.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import regex

from claimstream.claims.lexicons import load, spellings
from claimstream.claims.numbers import normalize_digits

SUPPORTED_LANGS = ("en", "hi", "fa", "ar", "ur", "ru", "uk", "es", "fr", "de", "ko", "zh")
# Month names that are also common words: they count only with a day or a year next to them.
_AMBIGUOUS_MONTHS = frozenset({"may", "march", "mar", "jun", "jan", "sep", "dec", "مه", "می", "آب", "mai"})


@dataclass(frozen=True)
class DateMention:
    """A date or period found in text."""

    start: int
    end: int
    first: date
    last: date
    precision: str  # day, month, year
    relative: bool = False

    def iso(self) -> tuple[str, str]:
        return self.first.isoformat(), self.last.isoformat()


def _month_span(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class _Tables:
    """Month, weekday and relative-day names of every supported language, and the date patterns."""

    months: dict[str, int]
    weekdays: dict[str, int]
    jalali: dict[str, int]
    relative: dict[str, tuple[str, int]]
    patterns: list[tuple[str, regex.Pattern[str]]]


@cache
def _tables() -> _Tables:
    from babel.dates import get_day_names, get_month_names

    data = load("dates")
    months: dict[str, int] = {}
    weekdays: dict[str, int] = {}
    for lang in SUPPORTED_LANGS:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for number, name in get_month_names(width, context=context, locale=lang).items():
                    name = name.strip(".॰").replace("\u06c0", "ه").replace("هٔ", "ه")
                    if len(name) >= 2 and not name[0].isdigit():
                        months.update({f: number for f in spellings(name)})
                for index, name in get_day_names("wide", context=context, locale=lang).items():
                    weekdays.update({f: index for f in spellings(name)})
        for name, number in data["months"].get(lang, {}).items():
            months.update({f: number for f in spellings(name)})
    jalali = {f: n for name, n in data["jalali_months"].items() for f in spellings(name)}
    relative = {f: (u, o) for table in data["relative"].values() for p, (u, o) in table.items() for f in spellings(p)}

    def alt(words: Mapping[str, object]) -> str:
        return "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))

    lb, rb = r"(?<![\p{L}\p{M}\u200c])", r"(?![\p{L}\p{M}])"
    month = lb + "(?P<month>" + alt(months) + ")" + rb + r"\.?"
    day = r"(?<!\d)(?P<day>\d{1,2})(?!\d)(?:st|nd|rd|th|er|\.)?"
    year = r"(?P<year>(?:1[89]|20)\d{2})(?!\d)"
    sep = r"[\s\u00a0]+(?:de[\s\u00a0]+)?"
    patterns: list[tuple[str, regex.Pattern[str]]] = [
        ("iso", regex.compile(r"(?<!\d)(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})(?!\d)")),
        ("dmy", regex.compile(r"(?<!\d)(?P<day>\d{1,2})[./](?P<mon>\d{1,2})[./](?P<year>\d{4})(?!\d)")),
        ("cjk", regex.compile(
            r"(?:(?P<year>\d{4})\s?[년年]\s?)?(?<!\d)(?P<mon>\d{1,2})\s?[월月](?:\s?(?P<day>\d{1,2})\s?[일日])?")),
        ("cjk_day", regex.compile(r"(?<![\d월月]\s?)(?<!\d)(?P<day>\d{1,2})[일日](?![本元])")),
        # A Chinese event name of month and day: "7·21" (the 21 July landslide).
        ("md_dot", regex.compile(r"(?<![\d.])(?P<mon>\d{1,2})[·•](?P<day>\d{1,2})(?![\d.])")),
        ("jalali", regex.compile(
            r"(?:(?<!\d)(?P<day>\d{1,2})[\s\u00a0]+)?" + lb + "(?P<jmonth>" + alt(jalali) + ")" + rb
            + r"(?:[\s\u00a0]+(?:ماه[\s\u00a0]+)?(?P<year>1[34]\d{2})(?!\d))?")),
        ("dmy_name", regex.compile(day + sep + month + "(?:,?" + sep + year + ")?")),
        ("mdy_name", regex.compile(month + r"[\s\u00a0]+" + day + r"(?:,?[\s\u00a0]+" + year + ")?")),
        ("my_name", regex.compile(month + r"(?:,?" + sep + year + ")?")),
        ("weekday", regex.compile(lb + "(?P<weekday>" + alt(weekdays) + ")" + rb)),
        ("relative", regex.compile(lb + "(?P<relative>" + alt(relative) + ")" + rb)),
    ]
    patterns = [(kind, regex.compile(p.pattern, regex.IGNORECASE)) for kind, p in patterns]
    return _Tables(months=months, weekdays=weekdays, jalali=jalali, relative=relative, patterns=patterns)


def _infer_year(month: int, day: int | None, published: date) -> int:
    candidate = date(published.year, month, min(day or 1, 28))
    return published.year - 1 if candidate > published + timedelta(days=1) else published.year


def jalali_to_gregorian(year: int, month: int, day: int) -> date:
    """A Solar Hijri date as a Gregorian date."""
    import jdatetime

    return jdatetime.date(year, month, day).togregorian()


def _jalali(m: regex.Match[str], published: date | None, table: dict[str, int]) -> DateMention | None:
    if not m.group("day") and not m.group("year"):
        return None
    month = table[m.group("jmonth").lower()]
    if m.group("year"):
        year = int(m.group("year"))
    elif published is None:
        return None
    else:
        # The Jalali year in force at publication; a later month means last year.
        import jdatetime

        today = jdatetime.date.fromgregorian(date=published)
        year = today.year if (month, int(m.group("day"))) <= (today.month, today.day) else today.year - 1
    try:
        if m.group("day"):
            d = jalali_to_gregorian(year, month, int(m.group("day")))
            return DateMention(m.start(), m.end(), d, d, "day")
        first = jalali_to_gregorian(year, month, 1)
        last = jalali_to_gregorian(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    except ValueError:
        return None
    return DateMention(m.start(), m.end(), first, last, "month")


@cache
def _dateparser(lang: str) -> Any:  # a dateparser DateDataParser (the package has no type hints), or None
    try:
        from dateparser.date import DateDataParser

        return DateDataParser(languages=[lang], settings={"PREFER_DATES_FROM": "past"})
    except (ImportError, ValueError):
        return None


def _relative(phrase: str, lang: str, published: datetime) -> tuple[date, date, str]:
    unit, offset = _tables().relative[phrase.lower()]
    pub = published.date()
    parser = _dateparser(lang)
    point: date | None = None
    if parser is not None and unit != "week":
        # dateparser takes the relative base only through the parser's settings, which it keeps privately;
        # the parser is cached per language, so the base is set per call.
        parser._settings.RELATIVE_BASE = published.replace(tzinfo=None)  # noqa: SLF001
        try:
            data = parser.get_date_data(phrase)
        except (ValueError, TypeError, OverflowError):
            data = None
        if data is not None and data.date_obj is not None:
            point = data.date_obj.date()
    if unit == "day":
        d = point or pub + timedelta(days=offset)
        return d, d, "day"
    if unit == "week":
        monday = pub - timedelta(days=pub.weekday()) + timedelta(weeks=offset)
        return monday, monday + timedelta(days=6), "day"
    if unit == "month":
        if point is None:
            y, mo = divmod(pub.year * 12 + pub.month - 1 + offset, 12)
            point = date(y, mo + 1, 1)
        first, last = _month_span(point.year, point.month)
        return first, last, "month"
    year = point.year if point else pub.year + offset
    return date(year, 1, 1), date(year, 12, 31), "year"


def find_dates(text: str, lang: str, published: datetime | None) -> list[DateMention]:
    """Every date or period in `text`, in order (overlaps keep the longest).

    `published` resolves relative expressions and missing years; without it only
    dates that carry their year are returned.
    """
    t = _tables()
    norm = normalize_digits(text)
    pub = published.date() if published else None
    found: list[DateMention] = []
    for kind, pattern in t.patterns:
        for m in pattern.finditer(norm):
            mention = _mention(kind, m, lang, published, pub, t)
            if mention is not None:
                found.append(mention)
    found.sort(key=lambda d: (-(d.end - d.start), d.start))
    taken: list[DateMention] = []
    for d in found:
        if not any(d.start < o.end and o.start < d.end for o in taken):
            taken.append(d)
    return sorted(taken, key=lambda d: d.start)


_BARE_YEAR = regex.compile(r"(?<![\d.,:/-])(1[89]\d\d|20\d\d)(?![\d.,:/]\d|\d)")


def find_past_years(text: str, published: datetime | None, taken: list[DateMention]) -> list[DateMention]:
    """Bare years before the publication year ("in 1945, when about 4,000 were killed", "1945年"),
    as year-long periods, outside the dates already found. A past event quoted in a report keeps its
    own year; the publication year itself says nothing a claim does not already have."""
    if published is None:
        return []
    norm = normalize_digits(text)
    out = []
    for m in _BARE_YEAR.finditer(norm):
        year = int(m.group(1))
        if year >= published.year or any(d.start < m.end() and m.start() < d.end for d in taken):
            continue
        out.append(DateMention(m.start(), m.end(), date(year, 1, 1), date(year, 12, 31), "year"))
    return out


def _mention(kind: str, m: regex.Match[str], lang: str, published: datetime | None, pub: date | None,
             t: _Tables) -> DateMention | None:
    groups = m.groupdict()
    try:
        if kind == "jalali":
            return _jalali(m, pub, t.jalali) if (pub or groups.get("year")) else None
        if kind == "relative":
            if published is None:
                return None
            first, last, precision = _relative(m.group("relative"), lang, published)
            return DateMention(m.start(), m.end(), first, last, precision, relative=True)
        if kind == "weekday":
            if pub is None:
                return None
            back = (pub.weekday() - t.weekdays[m.group("weekday").lower()]) % 7
            d = pub - timedelta(days=back)
            return DateMention(m.start(), m.end(), d, d, "day", relative=True)
        if kind == "cjk_day" or ("mon" in groups and not groups.get("mon")):
            if pub is None:
                return None  # a day, or a day of an unnamed month, needs the publication month
            month = pub.month
        elif "mon" in groups:
            month = int(groups["mon"])
        else:
            name = groups["month"].lower()
            month = t.months[name]
            if kind == "my_name" and not groups.get("year") and (name in _AMBIGUOUS_MONTHS or len(name) < 4):
                return None
            if kind != "my_name" and name in _AMBIGUOUS_MONTHS and not (groups.get("day") or groups.get("year")):
                return None
        day = int(groups["day"]) if groups.get("day") else None
        if groups.get("year"):
            year = int(groups["year"])
        elif pub is not None:
            year = _infer_year(month, day, pub)
        else:
            return None
        if day is not None:
            d = date(year, month, day)
            return DateMention(m.start(), m.end(), d, d, "day")
        first, last = _month_span(year, month)
        return DateMention(m.start(), m.end(), first, last, "month")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # "31 February", a month number out of range: not a date
