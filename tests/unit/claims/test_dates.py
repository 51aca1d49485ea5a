"""Dates and periods in every supported script, relative to the published date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from claimstream.claims.dates import find_dates, jalali_to_gregorian

# text, language, published, first, last, precision
CASES = [
    ("भारत और ईरान ने 13 मई 2024 को", "hi", "2024-05-13", "2024-05-13", "2024-05-13", "day"),
    ("१३ मई २०२४ को", "hi", "2024-05-15", "2024-05-13", "2024-05-13", "day"),
    ("3 जुलाई से अब तक", "hi", "2024-07-05", "2024-07-03", "2024-07-03", "day"),
    ("पिछले साल", "hi", "2024-10-25", "2023-01-01", "2023-12-31", "year"),
    ("روز سه‌شنبه ۲۵ اردیبهشت ۱۴۰۳ در تهران", "fa", "2024-05-14", "2024-05-14", "2024-05-14", "day"),
    ("روز ۱۴ تیر ۱۴۰۳ اعلام کردند", "fa", "2024-07-04", "2024-07-04", "2024-07-04", "day"),
    ("۱۰ تیر اعلام شد", "fa", "2024-07-04", "2024-06-30", "2024-06-30", "day"),  # Jalali, year inferred
    ("۱۳ مه ۲۰۲۴", "fa", "2024-05-15", "2024-05-13", "2024-05-13", "day"),
    ("سال گذشته", "fa", "2024-10-25", "2023-01-01", "2023-12-31", "year"),
    ("حتى 27 أكتوبر 2024", "ar", "2024-10-27", "2024-10-27", "2024-10-27", "day"),
    ("NEW DELHI, May 13 (Reuters)", "en", "2024-05-13", "2024-05-13", "2024-05-13", "day"),
    ("signed on Monday", "en", "2024-05-15", "2024-05-13", "2024-05-13", "day"),
    ("in December 2003", "en", "2024-09-08", "2003-12-01", "2003-12-31", "month"),
    ("last month", "en", "2024-03-10", "2024-02-01", "2024-02-29", "month"),
    ("yesterday", "en", "2024-10-25", "2024-10-24", "2024-10-24", "day"),
    ("2024-05-13", "en", "2024-05-15", "2024-05-13", "2024-05-13", "day"),
    ("в июне Путин", "ru", "2024-10-25", "2024-06-01", "2024-06-30", "month"),
    ("8 сентября", "ru", "2024-09-08", "2024-09-08", "2024-09-08", "day"),
    ("в прошлом году", "ru", "2024-10-25", "2023-01-01", "2023-12-31", "year"),
    ("станом на 24 жовтня", "uk", "2024-10-24", "2024-10-24", "2024-10-24", "day"),
    ("el domingo 8 de septiembre", "es", "2024-09-08", "2024-09-08", "2024-09-08", "day"),
    ("le 14 mai 2024 à Téhéran", "fr", "2024-05-15", "2024-05-14", "2024-05-14", "day"),
    ("am 14. Mai 2024", "de", "2024-05-15", "2024-05-14", "2024-05-14", "day"),
    ("13.05.2024", "de", "2024-05-15", "2024-05-13", "2024-05-13", "day"),
    ("2024년 5월 13일", "ko", "2024-06-01", "2024-05-13", "2024-05-13", "day"),
    ("국가정보원은 23일 북한이", "ko", "2024-10-23", "2024-10-23", "2024-10-23", "day"),
    ("新华社新德里7月5日电", "zh", "2024-07-05", "2024-07-05", "2024-07-05", "day"),
    ("记者22日从甘孜州获悉", "zh", "2025-07-22", "2025-07-22", "2025-07-22", "day"),  # a day of this month
    ("丹巴县“7·21”山体滑坡", "zh", "2025-07-24", "2025-07-21", "2025-07-21", "day"),  # an event named by its date
    ("20 दिसंबर को", "hi", "2024-01-05", "2023-12-20", "2023-12-20", "day"),  # a later month: last year
]


@pytest.mark.parametrize(("text", "lang", "published", "first", "last", "precision"), CASES)
def test_dates(text: str, lang: str, published: str, first: str, last: str, precision: str) -> None:
    pub = datetime.fromisoformat(published).replace(tzinfo=UTC)
    found = find_dates(text, lang, pub)
    assert found, f"no date in {text!r}"
    exact = [d for d in found if d.iso() == (first, last)]
    assert exact, f"{text!r}: got {[d.iso() for d in found]}"
    assert exact[0].precision == precision


def test_words_that_look_like_months_are_not_dates() -> None:
    pub = datetime(2024, 5, 15, tzinfo=UTC)
    assert find_dates("they may sign the deal", "en", pub) == []
    assert find_dates("تیر به هدف خورد", "fa", pub) == []  # تیر: "arrow", no day or year


def test_jalali_conversion() -> None:
    assert jalali_to_gregorian(1403, 4, 14).isoformat() == "2024-07-04"
    assert jalali_to_gregorian(1403, 1, 1).isoformat() == "2024-03-20"


def test_without_published_date_only_dated_text_counts() -> None:
    assert find_dates("yesterday", "en", None) == []
    assert [d.iso() for d in find_dates("13 May 2024", "en", None)] == [("2024-05-13", "2024-05-13")]
