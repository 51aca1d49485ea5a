"""Property tests of the number/date normalizers and the KB loader on hostile input.

The normalizers run on every document's text in the claims stage: they must return a result
(possibly empty) for any string, never raise. The KB loader reads operator-supplied files: it
either loads them or raises `KBError` naming the file and line, never another exception.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

numbers = pytest.importorskip("claimstream.claims.numbers")
dates = pytest.importorskip("claimstream.claims.dates")
kb = pytest.importorskip("claimstream.ner.kb")

LANGS = ["en", "hi", "fa", "ar", "ru", "de", "fr", "zh", "ko", "xx", ""]
DIGITS = "0123456789०१२३४५६७८९۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩"
SEPARATORS = ",.'٬٫، \u00a0\u202f\u2009"
WORDS = ["twenty", "thousand", "हज़ार", "लाख", "هزار", "میلیون", "тыс.", "млн", "万", "만", "thousands of", "हज़ारों"]
TRICKY = ["\u200b", "\u200f", "\u202e", "\ufeff", "\x00", "\x1b", "\u0300", "\U0001f600"]

numeric_text = st.lists(
    st.one_of(st.sampled_from(list(DIGITS)), st.sampled_from(list(SEPARATORS)), st.sampled_from(WORDS),
              st.sampled_from(TRICKY), st.text(max_size=4)),
    max_size=40,
).map("".join)
numeral = st.text(alphabet="0123456789,.' \u00a0", min_size=1, max_size=24).filter(lambda s: s[0].isdigit())


@given(numeric_text, st.sampled_from(LANGS))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_find_numbers_never_raises_and_spans_point_into_the_text(text: str, lang: str) -> None:
    found = numbers.find_numbers(text, lang)
    for mention in found:
        assert 0 <= mention.start < mention.end <= len(text)
        assert math.isfinite(mention.value)
        if mention.lower is not None and mention.upper is not None:
            assert mention.lower <= mention.upper
    starts = [m.start for m in found]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))  # no overlaps


@given(st.text(max_size=200))
def test_normalize_digits_keeps_the_length(text: str) -> None:
    # Spans found in the normalized text are used on the source text: lengths must agree.
    assert len(numbers.normalize_digits(text)) == len(text)


@given(numeral, st.sampled_from(LANGS))
def test_parse_numeral_returns_a_value_or_none(token: str, lang: str) -> None:
    parsed = numbers.parse_numeral(token, lang)
    if parsed is not None:
        value, used = parsed
        assert math.isfinite(value) and value >= 0
        assert 0 < used <= len(token)


@given(numeric_text, st.sampled_from(LANGS), st.one_of(st.none(), st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))))
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_find_dates_never_raises(text: str, lang: str, published: datetime | None) -> None:
    for mention in dates.find_dates(text, lang, published):
        assert 0 <= mention.start < mention.end <= len(text)


@given(st.sampled_from(["en", "hi", "fa"]))
@settings(max_examples=2, deadline=None)
def test_normalizers_on_a_large_text(lang: str) -> None:
    # 40,000 characters: large enough for quadratic behaviour to show, small enough for the unit suite.
    text = ("About २०,००० people were displaced on 4 July 2024; ۳۵٬۰۰۰ more \u200f fled. " * 800)[:40_000]
    assert numbers.find_numbers(text, lang)
    dates.find_dates(text, lang, datetime(2024, 7, 5, tzinfo=UTC))


# --------------------------------------------------------------------------- KB loader
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
kb_object = st.dictionaries(
    st.sampled_from(["id", "type", "name", "aliases", "country", "prior", "extra"]), json_values, max_size=6
)
kb_line = st.one_of(
    kb_object.map(lambda o: json.dumps(o, ensure_ascii=False).encode("utf-8")),
    st.binary(max_size=64),
    st.just(b'{"id": "gpe:x", "type": "GPE", "name": "X", "aliases": {"hi": ["\xe0\xa4"]}}'),  # cut UTF-8
    st.just('{"id": "gpe:x", "type": "GPE", "name": "X", "aliases": {"fa": ["ایران"]}}'.encode()),
)


@given(st.lists(kb_line, max_size=6))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_load_kb_loads_or_raises_kb_error(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_bytes(b"\n".join(lines))
    try:
        entities = kb.load_kb([path])
    except kb.KBError as exc:
        assert str(path) in str(exc)  # the message names the file (and the line)
        return
    for eid, entity in entities.items():
        assert eid == entity.id and entity.label in kb.LABELS and entity.name.strip()


def test_load_kb_on_a_missing_file_raises_kb_error(tmp_path: Path) -> None:
    with pytest.raises(kb.KBError, match="cannot open"):
        kb.load_kb([tmp_path / "nope.jsonl"])


def test_shipped_kb_loads() -> None:
    assert kb.load_kb([kb.SHIPPED_KB])
