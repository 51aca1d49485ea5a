"""Script detection shared by the stages: which writing system a text is in."""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter

import numpy as np

# Unicode character-name prefixes -> ISO 15924 script codes. unicodedata has no
# script property, but the first word of a letter's name is its script for every
# script news is written in.
_NAME_PREFIX_TO_SCRIPT = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "ARABIC": "Arab", "DEVANAGARI": "Deva", "HANGUL": "Hang",
    "CJK": "Hani", "HIRAGANA": "Hira", "KATAKANA": "Kana", "GREEK": "Grek", "HEBREW": "Hebr",
    "THAI": "Thai", "BENGALI": "Beng", "TAMIL": "Taml", "TELUGU": "Telu", "GUJARATI": "Gujr",
    "GURMUKHI": "Guru", "KANNADA": "Knda", "MALAYALAM": "Mlym", "ORIYA": "Orya", "SINHALA": "Sinh",
    "ARMENIAN": "Armn", "GEORGIAN": "Geor", "ETHIOPIC": "Ethi", "KHMER": "Khmr", "LAO": "Laoo",
    "MYANMAR": "Mymr", "TIBETAN": "Tibt", "MONGOLIAN": "Mong", "SYRIAC": "Syrc", "THAANA": "Thaa",
}

# Scripts that name their language by themselves (for texts too short for a statistical model).
SCRIPT_LANGUAGE = {
    "Hang": "ko", "Hira": "ja", "Kana": "ja", "Grek": "el", "Thai": "th", "Armn": "hy", "Geor": "ka",
    "Khmr": "km", "Laoo": "lo", "Mymr": "my", "Sinh": "si", "Taml": "ta", "Telu": "te", "Gujr": "gu",
    "Guru": "pa", "Knda": "kn", "Mlym": "ml", "Orya": "or", "Thaa": "dv", "Tibt": "bo", "Beng": "bn",
}

# The scripts `script_table` numbers; 0, Zyyy (common), for what has none of them: not a letter,
# or a letter of a script not named above.
SCRIPTS: tuple[str, ...] = ("Zyyy", *dict.fromkeys(_NAME_PREFIX_TO_SCRIPT.values()))
_SCRIPT_INDEX = {script: index for index, script in enumerate(SCRIPTS)}
_UNICODE_SIZE = 0x110000


def script_by_name(char: str) -> str | None:
    """ISO 15924 code of a letter from its Unicode name; None for digits, punctuation, spaces and
    unknown scripts. This defines `char_script`, which reads a table built from it."""
    if not char.isalpha():
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    first = name.split(" ", 1)[0]
    if first == "HANGUL" or name.startswith("HANGUL"):
        return "Hang"
    return _NAME_PREFIX_TO_SCRIPT.get(first)


@functools.cache
def letter_code_points() -> np.ndarray:
    """Every code point whose character is a letter (`str.isalpha`), ascending."""
    return np.array([code for code, char in enumerate(map(chr, range(_UNICODE_SIZE))) if char.isalpha()],
                    dtype=np.uint32)


@functools.cache
def script_table() -> np.ndarray:
    """The script of every code point, as an index into `SCRIPTS` (uint8, 0x110000 entries).

    Built once from `script_by_name` (about 0.1 s: one pass over Unicode, a name per letter), so that
    a text's scripts are one array lookup instead of a character name per letter."""
    table = np.zeros(_UNICODE_SIZE, dtype=np.uint8)
    letters = letter_code_points()
    table[letters] = [_SCRIPT_INDEX[script_by_name(chr(code)) or "Zyyy"] for code in letters.tolist()]
    table.flags.writeable = False
    return table


def code_points(text: str) -> np.ndarray:
    """`text` as an array of code points (uint32; a lone surrogate is kept as its code)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def char_script(char: str) -> str | None:
    """ISO 15924 code of a letter, or None for digits, punctuation, spaces and unknown scripts."""
    index = int(script_table()[ord(char)])
    return SCRIPTS[index] if index else None


# Coarse names of the scripts whose inflections the NER gazetteer folds (ner/normalize.variants).
_COARSE_SCRIPT = {"Latn": "latin", "Cyrl": "cyrillic", "Arab": "arabic", "Deva": "devanagari", "Hang": "hangul"}


def _sign_script(char: str) -> str | None:
    """ISO 15924 code of a digit or combining mark, from the script its Unicode name gives in its first
    two words ("EXTENDED ARABIC-INDIC DIGIT ONE", "DEVANAGARI SIGN VIRAMA", "COMBINING CYRILLIC TITLO")."""
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    for word in name.split(" ", 2)[:2]:
        script = _NAME_PREFIX_TO_SCRIPT.get(word.split("-", 1)[0])
        if script is not None:
            return script
    return None


def script_of(token: str) -> str:
    """A coarse script name of a (normalized) token, from its first character: "latin", "cyrillic",
    "arabic", "devanagari", "hangul" or "other". ASCII digits and "_" count as Latin; other digits and
    marks as the script they belong to (Persian ۱۴۰۲ is Arabic script)."""
    char = token[0]
    if char.isascii():
        return "latin"
    script = char_script(char) if char.isalpha() else _sign_script(char)
    return _COARSE_SCRIPT.get(script or "", "other")


def script_counts(text: str) -> Counter[str]:
    """Letters per script in `text`, the scripts in the order they first appear."""
    scripts = script_table().take(code_points(text))
    present, first = np.unique(scripts, return_index=True)
    counts = np.bincount(scripts, minlength=len(SCRIPTS))
    in_order = sorted(zip(first.tolist(), present.tolist(), strict=True))
    return Counter({SCRIPTS[script]: int(counts[script]) for _, script in in_order if script})


_HIRA, _KANA, _HANI = (_SCRIPT_INDEX[s] for s in ("Hira", "Kana", "Hani"))


def dominant_script(text: str) -> str:
    """The script most letters of `text` are written in; "Zyyy" (common) when it has no letters."""
    return dominant_script_of(code_points(text))


def dominant_script_of(codes: np.ndarray) -> str:
    """`dominant_script` of a text given as its `code_points` (for a caller that has them already)."""
    scripts = script_table().take(codes)
    counts = np.bincount(scripts, minlength=len(SCRIPTS)).tolist()
    counts[0] = 0
    best = max(counts)
    if best == 0:
        return "Zyyy"
    # Japanese mixes kana and Han: any kana makes it Japanese.
    if counts[_HIRA] + counts[_KANA] > 0 and counts[_HANI] > 0:
        return "Jpan"
    if counts.count(best) > 1:  # a tie goes to the script that appears first
        tied = [index for index, count in enumerate(counts) if count == best]
        return SCRIPTS[int(scripts[np.isin(scripts, tied).argmax()])]
    return SCRIPTS[counts.index(best)]


# Characters that change what a terminal shows instead of showing themselves: C0 and C1 controls
# (ESC starts colour and cursor sequences, 0x9B is a one-byte CSI), DEL, and the bidi embeddings,
# overrides and isolates that reorder the rest of a line.
_UNPRINTABLE = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def printable(text: str) -> str:
    """`text` safe to print on a terminal: control and bidi-override characters shown escaped
    (`\\x1b`, `\\u202e`), everything else, every script included, unchanged."""
    return text.translate(_UNPRINTABLE)


def chunk_spans(text: str, start: int, end: int, max_chars: int, breaks: str) -> list[tuple[int, int]]:
    """`text[start:end]` cut into consecutive spans of at most `max_chars`: each cut falls after the
    last of `breaks` in the second half of the limit, else after the last whitespace there, else
    at the limit. The spans cover the range exactly, in order."""
    out = []
    while end - start > max_chars:
        low, limit = start + max_chars // 2, start + max_chars
        window = text[low:limit]
        mark = max((window.rfind(c) for c in breaks), default=-1)
        if mark < 0:
            mark = max(window.rfind(c) for c in " \n\t\u00a0\u3000")
        cut = low + mark + 1 if mark >= 0 else limit
        out.append((start, cut))
        start = cut
    out.append((start, end))
    return out
