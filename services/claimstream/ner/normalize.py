"""Tokenizing and normalizing names the same way on both sides of a match.

The gazetteer compares a knowledge-base alias with running text token by token,
after both went through `tokenize`, which normalizes each token and remembers,
for every normalized character, which character of the original token it came
from, so that a match maps back to exact code-point offsets in the text.

What is folded, and why (real news text spells the same name many ways):

- compatibility forms (NFKD): ligatures, presentation forms, full-width letters;
- case (casefold);
- Latin/Greek/Cyrillic diacritics (é -> e, ё -> е), except й, which is a letter;
- Arabic-script harakat, superscript alef, hamza carriers (أ إ آ ٱ -> ا, ؤ -> و,
  ئ -> ی), tatweel, and the Arabic/Persian/Urdu letter variants
  (ي ى -> ی, ك -> ک, ة ۀ ە ہ ھ ۃ -> ه);
- zero-width (non-)joiners, so «ایرانی‌ها» and «ایرانیها» are the same token;
- Devanagari nukta (ज़ -> ज), chandrabindu -> anusvara, and a nasal consonant
  with virama before a consonant -> anusvara (हिन्दी -> हिंदी).

Inflections and attached particles are not folded here: `variants` lists the
forms a token may be an inflection of, by script, and the gazetteer tries them.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from claimstream.core.text import script_of

#: Bump when normalization changes, so that cached indexes are rebuilt.
NORMALIZER_VERSION = 1

_DROP = set(
    "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u0640"  # zero-width, bidi marks, soft hyphen, tatweel
    "\u093c\u09bc\u0a3c\u0abc\u0b3c"  # nukta (Devanagari, Bengali, Gurmukhi, Gujarati, Oriya)
)
_DROP_RANGES = [
    (0x0300, 0x036F),  # combining diacritics (Latin, Greek, Cyrillic)
    (0x0591, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C5), (0x05C7, 0x05C7),  # Hebrew points
    (0x064B, 0x065F), (0x0670, 0x0670),  # Arabic harakat, hamza above/below, superscript alef
    (0x06D6, 0x06DC), (0x06DF, 0x06E8), (0x06EA, 0x06ED), (0x08D3, 0x08FF),  # Quranic marks
]
for _lo, _hi in _DROP_RANGES:
    _DROP.update(chr(c) for c in range(_lo, _hi + 1))

_LETTER_MAP = {
    "\u064a": "\u06cc", "\u0649": "\u06cc", "\u06d0": "\u06cc",  # Arabic yeh, alef maksura -> Persian yeh
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    "\u0629": "\u0647", "\u06c0": "\u0647", "\u06d5": "\u0647", "\u06c1": "\u0647", "\u06be": "\u0647",
    "\u06c3": "\u0647",  # teh marbuta, heh with yeh, ae, heh goal, heh doachashmee -> heh
    "\u0671": "\u0627", "\u0672": "\u0627", "\u0673": "\u0627", "\u0675": "\u0627",  # alef variants
    "\u0901": "\u0902",  # Devanagari chandrabindu -> anusvara
    "\u0981": "\u0982",  # Bengali chandrabindu -> anusvara
}
# Precomposed letters whose diacritic makes a different letter that people do not drop.
_KEEP_COMPOSED = {"й", "Й"}

_DEVA_NASALS = set("ङञणनम")
_DEVA_VIRAMA = "\u094d"
_DEVA_ANUSVARA = "\u0902"


def _is_deva_consonant(ch: str) -> bool:
    return "\u0915" <= ch <= "\u0939" or "\u0958" <= ch <= "\u095f"


@lru_cache(maxsize=8192)
def _fold_char(c: str) -> str:
    """The normalized form of one character (possibly empty or several characters)."""
    if c in _DROP:
        return ""
    if c in _KEEP_COMPOSED:
        return c.lower()
    out = []
    for d in unicodedata.normalize("NFKD", c.casefold()):
        if d in _DROP:
            continue
        out.append(_LETTER_MAP.get(d, d))
    return unicodedata.normalize("NFC", "".join(out))


@lru_cache(maxsize=262144)
def normalize_token(token: str) -> tuple[str, tuple[int, ...] | None]:
    """Normalize one token; also return, per normalized character, its index in `token`.

    The index map is None when it is the identity (plain ASCII), to save memory and time.
    """
    if token.isascii():
        return token.lower(), None
    chars: list[str] = []
    index: list[int] = []
    for i, c in enumerate(token):
        folded = _fold_char(c)
        for f in folded:
            chars.append(f)
            index.append(i)
    # Devanagari: a nasal consonant + virama before a consonant is written either way.
    if _DEVA_VIRAMA in chars:
        j = 0
        while j + 2 < len(chars):
            if chars[j] in _DEVA_NASALS and chars[j + 1] == _DEVA_VIRAMA and _is_deva_consonant(chars[j + 2]):
                chars[j : j + 2] = [_DEVA_ANUSVARA]
                index[j : j + 2] = [index[j]]
            j += 1
    return "".join(chars), tuple(index)


def normalize(text: str) -> str:
    """The normalized form of a whole string: its tokens, normalized, joined by spaces."""
    return " ".join(t.norm for t in tokenize(text))


# --- tokenization -----------------------------------------------------------

# Scripts written without spaces between words: every character is a token, and
# aliases in them are matched character by character.
_CHAR_SCRIPT_RANGES = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\U00020000-\U0002fa1f"
)


def _mark_class() -> str:
    """A regex class of every combining mark (Mn, Mc, Me): Python's \\w leaves them out."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x0300, 0x20000 if sys.maxunicode > 0xFFFF else 0x10000):
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


_MARKS = _mark_class()
_TOKEN_RE = re.compile(
    f"[{_CHAR_SCRIPT_RANGES}][{_MARKS}]*"
    f"|(?:[^\\W{_CHAR_SCRIPT_RANGES}]|[{_MARKS}]|[\u200c\u200d\u0640])+"
)


@dataclass(frozen=True, slots=True)
class Token:
    """A token of the original text and its normalized form."""

    start: int  # code-point offset in the text
    end: int  # end exclusive
    norm: str
    index: tuple[int, ...] | None  # per normalized char, its offset in the token; None: identity

    def offset_of(self, k: int) -> int:
        """Offset in the text of the original character that normalized character `k` came from."""
        return self.start + (k if self.index is None else self.index[k])

    def end_of(self, k: int) -> int:
        """Offset in the text just after the original character that normalized char `k - 1` came from."""
        if k >= len(self.norm):
            return self.end
        return self.offset_of(k)


def tokenize(text: str) -> list[Token]:
    """Word tokens (characters, in scripts written without spaces) with normalized forms."""
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        norm, index = normalize_token(m.group())
        if norm:
            tokens.append(Token(m.start(), m.end(), norm, index))
    return tokens


# --- scripts and inflection variants -----------------------------------------


def is_char_script(ch: str) -> bool:
    """Whether `ch` belongs to a script tokenized character by character."""
    return bool(_CHAR_TOKEN_CHECK.match(ch))


_CHAR_TOKEN_CHECK = re.compile(f"[{_CHAR_SCRIPT_RANGES}]")


@dataclass(frozen=True, slots=True)
class Variant:
    """A form a token may be an inflection of: `form`, found from normalized character `skip` on.

    `skip` > 0 when an attached particle (Arabic و/ب/ل/ف) was removed from the front: the
    entity's span then starts after it. Suffixes stay inside the span (the inflected word is
    the mention).
    """

    form: str
    skip: int


# Arabic-script prefixes: (prefix, replacement, characters outside the entity span).
# Written in normalized letters (ك -> ک, ي -> ی).
_ARABIC_PREFIXES = (
    ("وال", "ال", 1), ("بال", "ال", 1), ("فال", "ال", 1), ("کال", "ال", 1), ("ولل", "ال", 2),
    ("لل", "ال", 1), ("وبال", "ال", 2), ("ال", "", 0), ("و", "", 1), ("ب", "", 1), ("ل", "", 1),
    ("ف", "", 1), ("وب", "", 2), ("ول", "", 2),
)
# Persian plural, ezafe, nisba and possessive suffixes; Arabic nisba endings; Urdu
# attached forms. Normalized letters (ZWNJ already removed, ة -> ه).
_ARABIC_SUFFIXES = (
    ("یهایی", ""), ("یهای", ""), ("یها", ""), ("هایی", ""), ("های", ""), ("ها", ""), ("یان", ""),
    ("ان", ""), ("یون", ""), ("یین", ""), ("یه", ""), ("یی", ""), ("ای", ""), ("ی", ""), ("ی", "یه"),
    ("ی", "ه"), ("ش", ""), ("شان", ""), ("مان", ""), ("را", ""),
)
_DEVANAGARI_SUFFIXES = (
    ("ियों", ""), ("ीयों", ""), ("वासियों", ""), ("वासी", ""), ("ीय", ""), ("ी", ""), ("ी", "ा"),
    ("े", "ा"), ("ों", ""), ("ें", ""), ("ने", ""), ("में", ""), ("से", ""), ("को", ""), ("का", ""),
    ("की", ""), ("के", ""), ("पर", ""),
)
# Russian and Ukrainian case endings -> a nominative ending (normalized: ё -> е, ї -> і).
_CYRILLIC_SUFFIXES = (
    ("ии", "ия"), ("ию", "ия"), ("ией", "ия"), ("іі", "ія"), ("ію", "ія"), ("ією", "ія"),
    ("ы", "а"), ("и", "а"), ("е", "а"), ("у", "а"), ("ой", "а"), ("ою", "а"), ("і", "а"),
    ("и", "я"), ("е", "я"), ("ю", "я"), ("ей", "я"), ("ею", "я"),
    ("а", ""), ("у", ""), ("ом", ""), ("ым", ""), ("им", ""), ("е", ""), ("і", ""), ("ові", ""), ("ові", ""),
    ("ем", ""), ("ем", "й"), ("я", "й"), ("ю", "й"), ("е", "й"), ("єм", "й"), ("ю", "й"),
    ("ого", "ий"), ("ому", "ий"), ("им", "ий"), ("ом", "ий"), ("ых", "ые"), ("ов", "ы"), ("ам", "ы"),
    ("ами", "ы"), ("ах", "ы"), ("ого", "ій"), ("ому", "ій"), ("им", "ій"), ("ів", "и"),
)
# Korean particles attached to nouns.
_HANGUL_SUFFIXES = tuple(
    (s, "")
    for s in (
        "에서의", "에게서", "이라는", "으로의", "에서", "에게", "께서", "까지", "부터", "으로", "와의", "과의",
        "이나", "라는", "처럼", "보다", "은", "는", "이", "가", "을", "를", "의", "에", "와", "과", "로", "도",
        "만", "나",
    )
)
_LATIN_SUFFIXES = (("s", ""),)  # German/Scandinavian genitive: Deutschlands, Irans

_MIN_STEM = {"arabic": 2, "devanagari": 2, "cyrillic": 3, "hangul": 1, "latin": 3}

# Endings that make a demonym or a nationality adjective of a place name: भारत -> भारतीय,
# ईरान -> ईरानी, ایران -> ایرانی, إيران -> إيراني. A country name reached only through such an
# inflection variant is the people or the adjective (NORP), not the place. (Latin and
# Cyrillic demonyms — Iranian, иранский — are not inflection variants of the name at all.)
_DEMONYM_ENDINGS = {
    "devanagari": ("ीय", "ीयों", "ी", "ियों", "वासी", "वासियों"),
    "arabic": ("ی", "ي", "ية", "يون", "يين", "یان", "ییان"),
}


def has_demonym_ending(surface: str) -> bool:
    """Whether the last word of `surface` ends like a demonym of its script ("ایرانی", "भारतीय")."""
    tokens = tokenize(surface)
    if not tokens:
        return False
    last = tokens[-1].norm
    return any(last.endswith(e) and len(last) > len(e) + 1 for e in _DEMONYM_ENDINGS.get(script_of(last), ()))


@lru_cache(maxsize=262144)
def variants(norm: str) -> tuple[Variant, ...]:
    """Other forms a normalized token may be an inflection of, by its script (not the token itself)."""
    script = script_of(norm)
    found: dict[tuple[str, int], None] = {}
    if script == "arabic":
        stems = [(norm, 0)]
        for prefix, repl, outside in _ARABIC_PREFIXES:
            if norm.startswith(prefix) and len(norm) - len(prefix) >= 2:
                stems.append((repl + norm[len(prefix):], outside))
        for stem, skip in stems:
            if stem != norm:
                found[(stem, skip)] = None
            for suffix, repl in _ARABIC_SUFFIXES:
                if stem.endswith(suffix) and len(stem) - len(suffix) >= _MIN_STEM[script]:
                    found[(stem[: -len(suffix)] + repl, skip)] = None
    else:
        rules = {
            "devanagari": _DEVANAGARI_SUFFIXES,
            "cyrillic": _CYRILLIC_SUFFIXES,
            "hangul": _HANGUL_SUFFIXES,
            "latin": _LATIN_SUFFIXES,
        }.get(script, ())
        for suffix, repl in rules:
            if norm.endswith(suffix) and len(norm) - len(suffix) >= _MIN_STEM[script]:
                found[(norm[: -len(suffix)] + repl, 0)] = None
    found.pop((norm, 0), None)
    return tuple(Variant(form, skip) for form, skip in found)
