"""Sentence-level extraction helpers: negation, which keeps denied statements out of the claims."""

from __future__ import annotations

import pytest
from claimstream.claims.extract import is_negated


@pytest.mark.parametrize(
    ("sentence", "negated"),
    [
        ("Officials in Moscow have not confirmed the deployment", True),
        ("Russia hasn't confirmed the report", True),
        ("North Korea has sent troops to Russia, intelligence said", False),
        ("Nobody knows", False),  # "no" inside a word is not a negation
        ("रूस ने इसकी पुष्टि नहीं की", True),
        ("उत्तर कोरिया ने रूस में सैनिक भेजे हैं", False),
        ("مسکو این گزارش را تأیید نکرده‌اند", True),
        ("کره شمالی نیروهایی به روسیه اعزام کرده است", False),
        ("Москва не подтвердила эти данные", True),
        ("Северная Корея направила войска в Россию", False),
        ("北韩否认向俄罗斯派兵", True),
    ],
)
def test_negated_sentences(sentence: str, negated: bool) -> None:
    assert is_negated(sentence) is negated


def test_the_bounded_attribution_search_finds_what_the_full_search_finds() -> None:
    # `_search_before` starts where a match can start; it must agree with searching everywhere.
    import random

    from claimstream.claims.extract import _attribution_patterns, _search_before

    _, before = _attribution_patterns()
    pieces = ["said", "told", " ", ",", "officials", "के अनुसार", "\n", "—", "ने बताया", "says", "Reuters", "a" * 50,
              "-", "گفت", "сообщили в МЧС", "。", "据报道", "12", "according to", "\u00a0",
              "SAID", "Told", "Сообщили", "İstanbul", "saidx", "tolds", "СООБЩИЛИ В"]
    rng = random.Random(7)
    sentences = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(1500)]
    sentences += ["Floods killed 12 people, officials said on Monday.", "x" * 200 + " said", "said", "",
                  " \n  said it", ",\n said", "a\nsaid", "x,  said", " \n SAID\nсообщили в МЧС", "\n\n  \n said"]
    for sentence in sentences:
        full = before.search(sentence)
        assert (full.span("src") if full else None) == _search_before(before, sentence), repr(sentence)
