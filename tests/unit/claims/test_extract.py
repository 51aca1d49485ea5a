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
