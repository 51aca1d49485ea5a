"""Sentence splitting by script, safe cuts, and token-budget batches."""

from __future__ import annotations

from claimstream.translate.segment import cut_tokens, join_blocks, split_blocks, split_sentences
from hypothesis import given
from hypothesis import strategies as st


def test_hindi_danda_and_double_danda_end_sentences() -> None:
    text = "बाढ़ से 20,000 लोग विस्थापित हुए। मंत्री ने मदद का वादा किया॥ क्या सरकार मदद भेजेगी?"
    assert split_sentences(text) == [
        "बाढ़ से 20,000 लोग विस्थापित हुए।", "मंत्री ने मदद का वादा किया॥", "क्या सरकार मदद भेजेगी?",
    ]


def test_persian_question_mark_ends_and_arabic_comma_does_not() -> None:
    text = "آیا دولت کمک می‌فرستد؟ مقامات، که دیروز آمدند، پاسخی ندادند. ۲۰٬۰۰۰ نفر آواره شدند۔"
    assert split_sentences(text) == [
        "آیا دولت کمک می‌فرستد؟", "مقامات، که دیروز آمدند، پاسخی ندادند.", "۲۰٬۰۰۰ نفر آواره شدند۔",
    ]


def test_abbreviations_initials_and_numbers_do_not_end_sentences() -> None:
    text = "Dr. Smith met J. R. Jones at 3.5 p.m. in the U.S. capital. Prices rose 2.5 percent."
    assert split_sentences(text) == [
        "Dr. Smith met J. R. Jones at 3.5 p.m. in the U.S. capital.", "Prices rose 2.5 percent.",
    ]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert split_sentences('"We need help now." The mayor left. «Ça va?» Oui.') == [
        '"We need help now."', "The mayor left.", "«Ça va?»", "Oui.",
    ]


@given(st.text(alphabet=st.sampled_from(list("ab .।?\n\t \r؟")), max_size=60))
def test_blocks_round_trip_and_sentences_keep_every_letter(text: str) -> None:
    blocks, seps = split_blocks(text)
    assert join_blocks(blocks, seps) == text
    for block in blocks:
        assert "".join("".join(split_sentences(block)).split()) == "".join(block.split())


def test_cut_prefers_clause_marks_then_word_starts() -> None:
    # token 9 ends a clause, even tokens start words
    ids = list(range(10, 40))
    words = {i for i in ids if i % 2 == 0}
    runs = cut_tokens(ids, 8, words.__contains__, {15}.__contains__)
    assert [t for run in runs for t in run] == ids
    assert all(len(run) <= 8 for run in runs)
    assert runs[0][-1] == 15  # cut after the clause mark
    assert all(run[0] in words for run in runs[1:])


def test_cut_without_boundaries_cuts_at_the_limit() -> None:
    runs = cut_tokens(list(range(25)), 10, lambda _: False, lambda _: False)
    assert [len(run) for run in runs] == [10, 10, 5]
