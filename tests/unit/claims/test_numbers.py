"""Numbers and qualifiers in every supported script: the hard cases, table-driven."""

from __future__ import annotations

import pytest
from claimstream.claims.numbers import find_numbers, normalize_digits, parse_numeral
from claimstream.claims.qualifiers import qualify

INF = None  # an unbounded upper bound

# text, language, value, qualifier, lower, upper
CASES = [
    # Hindi: Devanagari digits, Indian grouping, lakh/crore/हज़ार, postposition qualifiers
    ("लगभग २०,००० लोग विस्थापित", "hi", 20000, "approx", 18000, 22000),
    ("35,000 से अधिक लोग बेघर", "hi", 35000, "more_than", 35000, INF),
    ("1,00,000 से ज़्यादा लोग प्रभावित", "hi", 100000, "more_than", 100000, INF),
    ("करीब 2 लाख लोग", "hi", 200000, "approx", 180000, 220000),
    ("लगभग 20 हज़ार लोगों ने", "hi", 20000, "approx", 18000, 22000),
    ("लगभग 20 हजार लोगों ने", "hi", 20000, "approx", 18000, 22000),  # without nukta
    ("2.5 लाख लोग", "hi", 250000, "exact", 250000, 250000),
    ("कम से कम 14 लोगों की मौत", "hi", 14, "at_least", 14, INF),
    ("200 करोड़ रुपये", "hi", 2_000_000_000, "exact", 2_000_000_000, 2_000_000_000),
    ("बीस हज़ार लोग", "hi", 20000, "exact", 20000, 20000),
    ("हज़ारों लोग", "hi", 2000, "approx", 2000, 9999),
    # Persian: Persian digits, ، and ٬ separators, ٫ decimal, number words, qualifiers
    ("دست‌کم ۲۰،۰۰۰ نفر را آواره کرده", "fa", 20000, "at_least", 20000, INF),
    ("دست کم ۲۰،۰۰۰ نفر", "fa", 20000, "at_least", 20000, INF),  # space instead of ZWNJ
    ("بیش از ۱۱٬۰۰۰ سرباز", "fa", 11000, "more_than", 11000, INF),
    ("حدود ۱۰ هزار نیرو", "fa", 10000, "approx", 9000, 11000),
    ("بیست هزار نفر", "fa", 20000, "exact", 20000, 20000),
    ("بیست و پنج هزار نفر", "fa", 25000, "exact", 25000, 25000),
    ("به بزرگی ۵٫۶ ریشتر", "fa", 5.6, "exact", 5.6, 5.6),
    ("کمتر از ۵۰۰ نفر", "fa", 500, "less_than", 0, 500),
    ("هزاران نفر", "fa", 2000, "approx", 2000, 9999),
    # Arabic and Urdu
    ("أكثر من 11 ألف جندي", "ar", 11000, "more_than", 11000, INF),
    ("بنحو عشرة آلاف", "ar", 10000, "approx", 9000, 11000),
    ("حوالي ٣٥٬٠٠٠ شخص", "ar", 35000, "approx", 31500, 38500),
    ("تقریباً 20 ہزار افراد بے گھر", "ur", 20000, "approx", 18000, 22000),
    ("37 کروڑ ڈالر", "ur", 370_000_000, "exact", 370_000_000, 370_000_000),
    # English
    ("about 10,000 troops", "en", 10000, "approx", 9000, 11000),
    ("more than 100,000 people", "en", 100000, "more_than", 100000, INF),
    ("nearly 20,000 people", "en", 20000, "approx", 18000, 20000),
    ("up to 5,000 people", "en", 5000, "at_most", 0, 5000),
    ("twenty thousand people", "en", 20000, "exact", 20000, 20000),
    ("thousands of people", "en", 2000, "approx", 2000, 9999),
    ("$1.2 billion", "en", 1_200_000_000, "exact", 1_200_000_000, 1_200_000_000),
    # Russian / Ukrainian: space grouping, comma decimal, тыс./млн
    ("около 12 000 военнослужащих", "ru", 12000, "approx", 10800, 13200),
    ("не менее 10 тысяч человек", "ru", 10000, "at_least", 10000, INF),
    ("свыше 1,2 млн человек", "ru", 1_200_000, "more_than", 1_200_000, INF),
    ("11 тыс. человек", "ru", 11000, "exact", 11000, 11000),
    ("близько 12 000 військових", "uk", 12000, "approx", 10800, 13200),
    ("понад 5 тисяч осіб", "uk", 5000, "more_than", 5000, INF),
    # Spanish, French, German: '.' grouping, ',' decimal
    ("al menos 38 personas", "es", 38, "at_least", 38, INF),
    ("más de 1.500 personas", "es", 1500, "more_than", 1500, INF),
    ("environ 120 millions de dollars", "fr", 120_000_000, "approx", 108_000_000, 132_000_000),
    ("plus de 2,5 millions", "fr", 2_500_000, "more_than", 2_500_000, INF),
    ("rund 10.000 Soldaten", "de", 10000, "approx", 9000, 11000),
    ("mindestens 3,5 Millionen Menschen", "de", 3_500_000, "at_least", 3_500_000, INF),
    # Korean and Chinese: 만/万 multipliers, suffix qualifiers
    ("약 1만 명", "ko", 10000, "approx", 9000, 11000),
    ("1만 명 이상", "ko", 10000, "at_least", 10000, INF),
    ("2만여 명", "ko", 20000, "more_than", 20000, INF),
    ("约1.8万人流离失所", "zh", 18000, "approx", 16200, 19800),
    ("超过10万人受灾", "zh", 100000, "more_than", 100000, INF),
    ("2万多人", "zh", 20000, "more_than", 20000, INF),
]


@pytest.mark.parametrize(("text", "lang", "value", "qualifier", "lower", "upper"), CASES)
def test_number_and_qualifier(text: str, lang: str, value: float, qualifier: str, lower: float,
                              upper: float | None) -> None:
    numbers = find_numbers(text, lang)
    assert numbers, f"no number found in {text!r}"
    q = qualify(text, numbers[0])
    assert q.value == pytest.approx(value)
    assert q.qualifier == qualifier
    assert q.lower == pytest.approx(lower)
    assert q.upper == (None if upper is None else pytest.approx(upper))


def test_digit_normalization_keeps_offsets() -> None:
    text = "लगभग २०,००० और ۱۴،۰۰۰ و ٣٥٬٠٠٠ و ۵٫۶"
    norm = normalize_digits(text)
    assert len(norm) == len(text)
    assert "20,000" in norm and "14,000" in norm and "35,000" in norm and "5.6" in norm


@pytest.mark.parametrize(("token", "lang", "value"), [
    ("14,000", "en", 14000), ("14,000", "de", 14.0), ("10.000", "de", 10000), ("2.5", "en", 2.5),
    ("1,00,000", "hi", 100000), ("12,34,56,789", "hi", 123456789), ("1.234.567,5", "de", 1234567.5),
    ("1,234,567.5", "en", 1234567.5), ("12 000", "fr", 12000), ("5,6", "ru", 5.6),
])
def test_separator_disambiguation_per_language(token: str, lang: str, value: float) -> None:
    parsed = parse_numeral(token, lang)
    assert parsed is not None and parsed[0] == pytest.approx(value)


def test_dates_and_year_then_count_are_not_merged() -> None:
    assert parse_numeral("13.05.2024", "de") is None
    values = [n.value for n in find_numbers("in 2023 100 people", "en")]
    assert values == [2023, 100]
    # A plain space does not group digits in English.
    assert [n.value for n in find_numbers("on July 5 100 people", "en")] == [5, 100]


def test_ambiguous_number_words_need_a_multiplier() -> None:
    # Persian نه is also "not"; Hindi दो is also "give".
    assert find_numbers("او نه گفت", "fa") == []
    assert find_numbers("मुझे दो", "hi") == []
    assert find_numbers("نه هزار نفر", "fa")[0].value == 9000


@pytest.mark.parametrize(("text", "lang", "surface", "value"), [
    # Russian and Ukrainian: oblique cases and collective numerals, as tolls are written
    ("Число погибших выросло до трёх", "ru", "трёх", 3),
    ("двое местных жителей погибли", "ru", "двое", 2),
    ("семеро пострадавших госпитализированы", "ru", "семеро", 7),
    ("среди них четверо пожарных", "ru", "четверо", 4),
    ("загинули вже п'ятеро людей", "uk", "п'ятеро", 5),
    ("загинули п’ять осіб", "uk", "п’ять", 5),
    ("загинули двоє людей", "uk", "двоє", 2),
    # a multiplier alone is one of it after a comparison word, thousands otherwise
    ("Более тысячи жителей", "ru", "тысячи", 1000),
    ("понад тисячу мешканців", "uk", "тисячу", 1000),
    # Chinese numerals before a counter
    ("遇难人数已升至十四人", "zh", "十四", 14),
    ("仍有二十五人失联", "zh", "二十五", 25),
    ("被毁房屋已超过三百栋", "zh", "三百", 300),
    ("两万三千人受灾", "zh", "两万三千", 23000),
])
def test_number_words_in_case_forms_and_chinese_numerals(text: str, lang: str, surface: str, value: float) -> None:
    [found] = find_numbers(text, lang)
    assert (text[found.start:found.end], found.value) == (surface, value)


@pytest.mark.parametrize(("text", "lang"), [
    ("тысячи людей вышли на улицы", "ru"),  # thousands: a range, not 1000
    ("一名记者", "zh"),  # "a reporter"
    ("统一了三峡地区", "zh"),  # 一 and 三 inside words
    ("第三名", "zh"),  # an ordinal
    ("сім'я загиблого", "uk"),  # "family", not seven
])
def test_words_that_only_look_like_numbers(text: str, lang: str) -> None:
    found = find_numbers(text, lang)
    assert all(f.kind == "vague" for f in found), [(text[f.start:f.end], f.value) for f in found]


@pytest.mark.parametrize(("text", "lang", "lower", "upper"), [
    ("between 30,000 and 40,000 people were displaced", "en", 30000, 40000),
    ("zwischen 12 und 15 Verletzte", "de", 12, 15),
    ("от 30 до 40 человек", "ru", 30, 40),
    ("يتراوح بين 30 و40 ألفا", "ar", 30000, 40000),  # the multiplier written once
])
def test_a_range_is_one_number_over_both_bounds(text: str, lang: str, lower: float, upper: float) -> None:
    [found] = find_numbers(text, lang)
    assert (found.kind, found.value, found.lower, found.upper) == ("range", lower, lower, upper)
    assert (qualify(text, found).lower, qualify(text, found).upper) == (lower, upper)


def test_years_and_a_rise_are_not_ranges() -> None:
    assert [n.kind for n in find_numbers("between 2019 and 2024", "en")] == ["numeral", "numeral"]
    assert [n.value for n in find_numbers("the toll rose from 12 to 15", "en")] == [12, 15]
