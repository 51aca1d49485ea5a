"""Translation to the target language (English) with ONNX Runtime encoder-decoders.

`load(settings)` reads the model map (`CLAIMSTREAM_TRANSLATE_MODELS`, e.g.
`hi=/models/opus-mt-hi-en,*=/models/nllb`), loads every model directory once
(as written by `claimstream export-model`) and returns a `TranslationModel`.
`predict` writes `Document.translation`:

- `OK`: translated; text, title, model, languages and token counts set;
- `SOURCE_IS_TARGET`: the document is already in the target language; nothing is run;
- `NO_MODEL`: no model for the language (or the language is unknown); `detail` says which.

A document whose translation fails becomes `Rejection("processing_error")`, the others
in the batch are unaffected.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimstream.core.model import ModelLoadError
from claimstream.core.schema import Document, Rejection, Translation
from claimstream.core.settings import Settings, SettingsError
from claimstream.runtime.batching import token_batches
from claimstream.runtime.onnx import Threads, select_providers, session_options
from claimstream.translate.export import EXPORT_REVISION, MANIFEST_FORMAT
from claimstream.translate.langcodes import model_language_code
from claimstream.translate.search import Decoder, SearchOptions, Vocabulary
from claimstream.translate.segment import (
    CLAUSE_MARKS,
    Piece,
    cut_tokens,
    join_blocks,
    needs_model,
    split_blocks,
    split_sentences,
)

log = logging.getLogger(__name__)

SERVICE = "translate"
_LANG_KEY = re.compile(r"^(\*|[a-z]{2,3}(_[A-Za-z]{4})?)$")
_REQUIRED_MANIFEST = ("architecture", "dtype", "decoder_layers", "heads", "head_dim", "special_tokens", "files")


def parse_model_map(spec: str) -> dict[str, Path]:
    """`hi=/models/a,fa=/models/b,*=/models/c` -> {"hi": Path(...), ...}; raises SettingsError on bad syntax."""
    mapping: dict[str, Path] = {}
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        lang, sep, directory = entry.partition("=")
        lang, directory = lang.strip().lower(), directory.strip()
        if not sep or not lang or not directory:
            raise SettingsError(
                f"CLAIMSTREAM_TRANSLATE_MODELS: entry {entry!r} is not LANG=DIR (e.g. hi=/models/opus-mt-hi-en)"
            )
        if not _LANG_KEY.match(lang):
            raise SettingsError(
                f"CLAIMSTREAM_TRANSLATE_MODELS: {lang!r} is not a language code (ISO 639-1/3 such as 'hi', "
                "or '*' for a many-to-English model)"
            )
        if lang in mapping:
            raise SettingsError(f"CLAIMSTREAM_TRANSLATE_MODELS: language {lang!r} is given twice")
        mapping[lang] = Path(directory)
    return mapping


@dataclass
class _Route:
    """How one document is handled: by which model, with which language codes."""

    model: OnnxTranslator | None
    source_code: str = ""      # the model's code for the source language ("" for Marian)
    detail: str = ""


class OnnxTranslator:
    """One exported model directory: tokenizer, encoder and decoder sessions."""

    def __init__(self, path: Path, providers: Sequence[str], threads: int | Threads) -> None:
        self.path = Path(path)
        self.manifest = self._read_manifest()
        self.architecture: str = self.manifest["architecture"]
        self.name = self.path.name
        import onnxruntime as ort

        options = session_options(threads)
        sessions = []
        for role in ("encoder", "decoder"):
            file = self.path / self.manifest["files"][role]
            if not file.is_file():
                raise ModelLoadError(f"{file}: missing ({role} graph); re-run `claimstream export-model`")
            try:
                sessions.append(ort.InferenceSession(str(file), options, providers=list(providers)))
            except Exception as exc:  # ORT raises its own exception types
                raise ModelLoadError(f"{file}: not a loadable ONNX {role} graph ({exc})") from None
        self.encoder, self.decoder = sessions
        self.provider = self.decoder.get_providers()[0]
        try:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        except Exception as exc:
            raise ModelLoadError(f"{self.path}: cannot load the tokenizer files ({exc})") from None
        special = self.manifest["special_tokens"]
        self.vocab = Vocabulary(
            pad=special["pad"], eos=special["eos"], decoder_start=special["decoder_start"],
            forced_eos=special.get("forced_eos"), banned=tuple(sorted({special["pad"], *special.get("banned", [])})),
        )
        self.search = Decoder(self.encoder, self.decoder, self.manifest["decoder_layers"], self.manifest["heads"],
                              self.manifest["head_dim"], self.vocab)
        self.language_tokens: dict[str, int] = self.manifest.get("language_tokens", {})
        # The position tables bound both sides: a source of `max_positions` tokens (less the end
        # token and a language token), and as many decoder steps (each generated token takes one).
        positions = int(self.manifest.get("max_positions", 512))
        self.max_source_tokens = positions - 2
        self.max_target_tokens = positions
        pieces = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        # Which token ids start a word / end a clause, for cutting over-long sentences safely.
        self._word_start = {i for i, p in enumerate(pieces) if p and p.startswith("▁")}
        self._clause_end = {i for i, p in enumerate(pieces) if p and p.strip("▁") and p.strip("▁")[-1] in CLAUSE_MARKS}

    def _read_manifest(self) -> dict[str, Any]:
        if not self.path.is_dir():
            raise ModelLoadError(f"{self.path}: no such model directory (see `claimstream export-model`)")
        file = self.path / "manifest.json"
        if not file.is_file():
            raise ModelLoadError(
                f"{file}: missing; {self.path} is not an exported translation model (run `claimstream export-model`)"
            )
        try:
            manifest = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{file}: not valid JSON ({exc})") from None
        missing = [key for key in _REQUIRED_MANIFEST if key not in manifest]
        if manifest.get("format") != MANIFEST_FORMAT or missing:
            raise ModelLoadError(
                f"{file}: not a {MANIFEST_FORMAT} manifest (missing: {', '.join(missing) or 'format'}); re-export"
            )
        if manifest.get("export_revision", 1) < EXPORT_REVISION:
            # Still correct, but exported before the weights became shared initializers: larger,
            # and an int8 export of that time quantized the LM head only (about 2x slower).
            log.warning("%s: exported by an older claimstream (revision %s < %d); re-export it with "
                        "`claimstream export-model` for the smaller, faster graphs", self.path,
                        manifest.get("export_revision", 1), EXPORT_REVISION)
        return manifest

    @property
    def multilingual(self) -> bool:
        return self.architecture in ("nllb", "m2m100")

    def language_token(self, code: str) -> int | None:
        return self.language_tokens.get(code)

    def tokenize(self, sentences: Sequence[str]) -> list[list[int]]:
        """Token ids of each sentence, without special tokens."""
        if not sentences:
            return []
        return [list(ids) for ids in self.tokenizer(list(sentences), add_special_tokens=False)["input_ids"]]

    def cut(self, ids: Sequence[int], limit: int) -> list[list[int]]:
        """Runs of at most `limit` tokens, cut after clause marks or before word starts."""
        return cut_tokens(ids, limit, self._word_start.__contains__, self._clause_end.__contains__)

    def wrap(self, ids: Sequence[int], source_code: str) -> list[int]:
        """The encoder input: [source language token] ids </s>."""
        prefix = [self.language_tokens[source_code]] if self.multilingual else []
        return [*prefix, *ids, self.vocab.eos]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True)).strip()


class TranslationModel:
    """StageModel of the translate service: the model map, routing, batching, statuses."""

    service = SERVICE

    def __init__(self, settings: Settings, models: dict[str, OnnxTranslator]) -> None:
        self.settings = settings
        self.models = models
        self.target = settings.translate_target
        unique = {id(m): m for m in models.values()}
        self.model_name = ",".join(sorted(m.name for m in unique.values())) or "none"
        providers = sorted({m.provider for m in unique.values()})
        self.provider = ",".join(providers) or "none"
        self._target_tokens: dict[int, int | None] = {}
        for model in unique.values():
            if model.multilingual:
                code = model_language_code(model.architecture, self.target)
                token = model.language_token(code) if code else None
                if token is None:
                    raise ModelLoadError(f"{model.path}: has no language token for the target {self.target!r}")
                self._target_tokens[id(model)] = token

    # -- StageModel --------------------------------------------------------
    def warmup(self) -> None:
        """Translate one short sentence with every model so the first real batch is not slow."""
        for model in {id(m): m for m in self.models.values()}.values():
            code = next(iter(model.language_tokens), "") if model.multilingual else ""
            ids = model.wrap(model.tokenize(["Warm-up."])[0], code)
            model.search.generate([ids], self.search_options(model, max_new_tokens=2))

    def close(self) -> None:
        self.models.clear()

    def predict(self, batch: Sequence[Document]) -> list[Document | Rejection]:
        """Fill `translation` of every document; failures become `processing_error` rejections."""
        results: list[Document | Rejection] = list(batch)
        routes = [self._route(doc) for doc in batch]
        pieces: list[Piece] = []
        layouts: dict[int, list[tuple[list[list[str]], list[str]]]] = {}
        for index, (doc, route) in enumerate(zip(batch, routes, strict=True)):
            if route.model is None:
                continue
            try:
                layouts[index] = self._segment(index, doc, route, pieces)
            except Exception as exc:  # one bad document must not stop the batch
                results[index] = Rejection("processing_error", f"segmenting failed: {exc}"[:500])
        outputs, failed = self._translate(pieces, routes)
        by_doc: dict[int, list[tuple[int, Piece]]] = {}
        for i, piece in enumerate(pieces):
            by_doc.setdefault(piece.doc, []).append((i, piece))
        for index, layout in layouts.items():
            if index in failed:
                results[index] = Rejection("processing_error", f"translation failed: {failed[index]}"[:500])
                continue
            self._assemble(batch[index], routes[index], layout, by_doc.get(index, []), outputs)
        return results

    # -- routing -----------------------------------------------------------
    def _route(self, doc: Document) -> _Route:
        lang = (doc.language.code or "und").lower()
        tr = doc.translation
        tr.Clear()
        tr.source_language = lang
        tr.target_language = self.target
        if lang == self.target or lang.split("-")[0] == self.target:
            tr.status = Translation.SOURCE_IS_TARGET
            tr.detail = f"the document is already in the target language {self.target!r}"
            return _Route(None)
        model = self.models.get(lang) or self.models.get("*")
        if lang == "und":
            detail = "the language is unknown (und), so no model can be chosen"
        elif model is None:
            configured = ", ".join(sorted(self.models)) or "none"
            detail = f"no translation model for language {lang!r} (CLAIMSTREAM_TRANSLATE_MODELS has: {configured})"
        else:
            code = model_language_code(model.architecture, lang, doc.language.script)
            if not model.multilingual:
                return _Route(model)
            if code and model.language_token(code) is not None:
                return _Route(model, code)
            detail = f"model {model.name} has no language token for {lang!r} ({code or 'no code known'})"
        tr.status = Translation.NO_MODEL
        tr.detail = detail
        return _Route(None, detail=detail)

    # -- segmentation and batching -----------------------------------------
    def _segment(self, index: int, doc: Document, route: _Route, pieces: list[Piece]
                 ) -> list[tuple[list[list[str]], list[str]]]:
        """Add the pieces of `doc` to `pieces`; return per field the blocks' sentences and separators.

        A sentence entry is either literal text (nothing to translate) or "" (filled from pieces).
        """
        model = route.model
        assert model is not None
        limit = max(1, min(self.settings.translate_max_length, model.max_source_tokens))
        layout = []
        for field_no, text in enumerate((doc.text, doc.title)):
            blocks, seps = split_blocks(text)
            field_sentences: list[list[str]] = []
            for block_no, block in enumerate(blocks):
                sentences = split_sentences(block)
                literal = [s if not needs_model(s) else "" for s in sentences]
                to_run = [(i, s) for i, s in enumerate(sentences) if not literal[i]]
                for (sent_no, _), ids in zip(to_run, model.tokenize([s for _, s in to_run]), strict=True):
                    for part_no, run in enumerate(model.cut(ids, limit)):
                        pieces.append(Piece(index, field_no, block_no, sent_no, part_no,
                                            model.wrap(run, route.source_code), str(id(model)),
                                            route.source_code))
                field_sentences.append(literal)
            layout.append((field_sentences, seps))
        return layout

    def search_options(self, model: OnnxTranslator, max_new_tokens: int | None = None) -> SearchOptions:
        s = self.settings
        return SearchOptions(
            beam_size=max(1, s.translate_beam_size),
            max_new_tokens=min(max_new_tokens or s.translate_max_length, model.max_target_tokens),
            length_penalty=s.translate_length_penalty, no_repeat_ngram=s.translate_no_repeat_ngram,
            forced_bos=self._target_tokens.get(id(model)),
        )

    def _translate(self, pieces: list[Piece], routes: Sequence[_Route]
                   ) -> tuple[dict[int, list[int]], dict[int, str]]:
        """Generated ids per piece (by position in `pieces`) and the error of each failed document."""
        outputs: dict[int, list[int]] = {}
        failed: dict[int, str] = {}
        position = {id(p): i for i, p in enumerate(pieces)}
        # Beam rows multiply the decoder's work, so the budget counts beams.
        budget = max(1, self.settings.max_batch_tokens // max(1, self.settings.translate_beam_size))
        for batch in token_batches(pieces, budget):
            model = routes[batch[0].doc].model
            assert model is not None
            try:
                generated = model.search.generate([p.ids for p in batch], self.search_options(model))
            except Exception:  # find which document fails, translate the rest
                generated = []
                for doc in sorted({p.doc for p in batch}):
                    mine = [p for p in batch if p.doc == doc]
                    try:
                        ids = model.search.generate([p.ids for p in mine], self.search_options(model))
                    except Exception as exc:
                        log.warning("translating document %d failed: %s", doc, exc)
                        failed[doc] = str(exc) or type(exc).__name__
                        continue
                    for p, out in zip(mine, ids, strict=True):
                        outputs[position[id(p)]] = out
                continue
            for p, out in zip(batch, generated, strict=True):
                outputs[position[id(p)]] = out
        return outputs, failed

    def _assemble(self, doc: Document, route: _Route, layout: list[tuple[list[list[str]], list[str]]],
                  pieces: list[tuple[int, Piece]], outputs: dict[int, list[int]]) -> None:
        model = route.model
        assert model is not None
        parts: dict[tuple[int, int, int], list[tuple[int, str]]] = {}
        source_tokens = target_tokens = 0
        for i, piece in pieces:
            out = outputs[i]
            source_tokens += len(piece.ids)
            target_tokens += sum(1 for t in out if t not in (model.vocab.eos, model.vocab.pad))
            parts.setdefault((piece.field, piece.block, piece.sentence), []).append((piece.part, model.decode(out)))
        texts = []
        for field_no, (field_sentences, seps) in enumerate(layout):
            blocks = []
            for block_no, literal in enumerate(field_sentences):
                sentences = []
                for sent_no, text in enumerate(literal):
                    if not text:
                        runs = sorted(parts.get((field_no, block_no, sent_no), []))
                        text = " ".join(t for _, t in runs if t)
                    if text:
                        sentences.append(text)
                blocks.append(" ".join(sentences))
            texts.append(join_blocks(blocks, seps))
        tr = doc.translation
        tr.status = Translation.OK
        tr.text, tr.title = texts[0], texts[1]
        tr.model = model.name
        tr.source_tokens = source_tokens
        tr.target_tokens = target_tokens
        tr.detail = ""


def load(settings: Settings) -> TranslationModel:
    """Load every model of the model map once; raise ModelLoadError/SettingsError when one cannot be used."""
    mapping = parse_model_map(settings.translate_models)
    providers = select_providers(settings.provider)
    threads = Threads.of(settings)
    loaded: dict[Path, OnnxTranslator] = {}
    models: dict[str, OnnxTranslator] = {}
    for lang, directory in mapping.items():
        key = directory.resolve()
        if key not in loaded:
            loaded[key] = OnnxTranslator(directory, providers, threads)
            log.info("translate: loaded %s (%s, %s) for %s on %s", directory, loaded[key].architecture,
                     loaded[key].manifest.get("dtype"), lang, loaded[key].provider)
        models[lang] = loaded[key]
    if not models:
        log.info("translate: no models configured; every non-%s document passes through as NO_MODEL",
                 settings.translate_target)
    return TranslationModel(settings, models)
