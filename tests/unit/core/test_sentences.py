"""The one sentence splitter: what ends a sentence in each script, and what does not."""

from __future__ import annotations

import pytest
from claimstream.core.sentences import sentence_spans
from hypothesis import given
from hypothesis import strategies as st


def sentences(text: str, max_chars: int | None = None) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text, max_chars)]


@pytest.mark.parametrize(("text", "expected"), [
    # A clock time before a lower-case word goes on; before a capital, it ends the sentence.
    ("The quake struck at 3 p.m. on Monday. Police said 20 died.",
     ["The quake struck at 3 p.m. on Monday.", "Police said 20 died."]),
    ("The quake struck at 3 p.m. Police said 20 died.", ["The quake struck at 3 p.m.", "Police said 20 died."]),
    # Russian unit abbreviations: «тыс.» before a lower-case word is inside the sentence.
    ("Повреждены 1,3 тыс. частных домов. Погибли 5 тыс. В городе паника.",
     ["Повреждены 1,3 тыс. частных домов.", "Погибли 5 тыс.", "В городе паника."]),
    # A year or a number ends a sentence; a decimal point does not.
    ("It happened in 2020. About 3.5 million fled.", ["It happened in 2020.", "About 3.5 million fled."]),
    # Titles and initials never end one, whatever follows.
    ("Gen. Kim met Dr. Park and J. Smith. Talks ended.", ["Gen. Kim met Dr. Park and J. Smith.", "Talks ended."]),
    # Chinese, Hindi and Urdu marks end a sentence with no space after them.
    ("地震造成20人死亡。另有50人受伤。", ["地震造成20人死亡。", "另有50人受伤。"]),
    ("20 लोगों की मौत हुई।50 घायल हुए।", ["20 लोगों की मौत हुई।", "50 घायल हुए।"]),
    ("۲۰ افراد ہلاک ہوئے۔ ۵۰ زخمی ہوئے۔", ["۲۰ افراد ہلاک ہوئے۔", "۵۰ زخمی ہوئے۔"]),
    # A Latin period glued to the next word is not a sentence end ("U.S.-led", "example.com").
    ("The U.S.-led coalition said so. See example.com for more.",
     ["The U.S.-led coalition said so.", "See example.com for more."]),
])
def test_sentence_ends_in_every_script(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_a_sentence_without_punctuation_is_cut_at_a_clause_break_within_the_limit() -> None:
    text = "; ".join(f"item {i} of a very long list" for i in range(60))
    pieces = sentences(text, max_chars=100)
    assert len(pieces) > 10
    assert all(len(p) <= 100 for p in pieces)
    assert all(p.endswith(";") for p in pieces[:-1])


@given(st.text(alphabet=st.sampled_from(list("ab .।?!\n\t 。؟\"»")), max_size=80))
def test_spans_are_ordered_trimmed_and_keep_every_non_space_character(text: str) -> None:
    spans = sentence_spans(text, 20)
    assert all(s < e and not text[s].isspace() and not text[e - 1].isspace() for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert "".join("".join(text[s:e] for s, e in spans).split()) == "".join(text.split())
