"""The script table (`char_script`, `dominant_script`) against its definition: a letter's Unicode name."""

from __future__ import annotations

import sys
import unicodedata

import numpy as np
import pytest
from claimstream.core.text import SCRIPTS, char_script, dominant_script, script_by_name, script_counts, script_table


def test_table_agrees_with_the_unicode_names_over_every_code_point() -> None:
    by_name = {code: script_by_name(chr(code)) for code in range(sys.maxunicode + 1) if chr(code).isalpha()}
    known = {code: script for code, script in by_name.items() if script is not None}
    assert {script for script in known.values()} == set(SCRIPTS[1:])  # every script the module names has letters
    for code, script in by_name.items():
        assert char_script(chr(code)) == script, f"U+{code:04X} {unicodedata.name(chr(code), '')}"
    letters = np.zeros(sys.maxunicode + 1, dtype=bool)
    letters[list(by_name)] = True
    assert not script_table()[~letters].any()  # digits, marks, punctuation, spaces, unassigned: no script


@pytest.mark.parametrize(("text", "script"), [
    ("Officials said", "Latn"), ("Власти сообщили", "Cyrl"), ("असम में बाढ़", "Deva"), ("서울 속보", "Hang"),
    ("東京の天気", "Jpan"), ("2024 - 20,000", "Zyyy"), ("ab αβ", "Latn"), ("αβ ab", "Grek"),  # a tie: the first
])
def test_dominant_script(text: str, script: str) -> None:
    assert dominant_script(text) == script


def test_script_counts_in_order_of_first_appearance() -> None:
    assert list(script_counts("Moscow (Москва), 2024: Mосква").items()) == [("Latn", 7), ("Cyrl", 11)]
