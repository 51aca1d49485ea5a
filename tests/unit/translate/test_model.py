"""TranslationModel: statuses, routing, order, long and odd documents, load and export errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from claimstream.core.model import ModelLoadError, StageModel
from claimstream.core.schema import Document, Rejection, Translation
from claimstream.core.settings import Settings, SettingsError
from claimstream.translate import model as translate_model
from claimstream.translate.export import ExportError, export_model
from claimstream.translate.langcodes import m2m100_code, model_language_code, nllb_code
from claimstream.translate.model import load, parse_model_map


def _doc(text: str, lang: str, title: str = "", doc_id: str = "d") -> Document:
    doc = Document(id=doc_id, text=text, title=title)
    if lang:
        doc.language.code = lang
    return doc


@pytest.fixture(scope="module")
def translator(tiny_settings: Settings):
    model = load(tiny_settings)
    model.warmup()
    return model


def test_is_a_stage_model_on_cpu(translator) -> None:
    assert isinstance(translator, StageModel)
    assert translator.service == "translate"
    assert translator.provider == "CPUExecutionProvider"
    assert translator.model_name == "tiny-marian-onnx"


def test_statuses_ok_source_is_target_and_no_model(translator) -> None:
    docs = [
        _doc("बाढ़ से 20,000 लोग विस्थापित हुए।", "hi", title="बाढ़"),
        _doc("Floods displaced 20,000 people.", "en"),
        _doc("Das Hochwasser hat 20.000 Menschen vertrieben.", "de"),
        _doc("???", ""),
    ]
    out = translator.predict(docs)
    assert [d.translation.status for d in out] == [
        Translation.OK, Translation.SOURCE_IS_TARGET, Translation.NO_MODEL, Translation.NO_MODEL,
    ]
    ok = out[0].translation
    assert ok.text and ok.title and ok.model == "tiny-marian-onnx"
    assert (ok.source_language, ok.target_language) == ("hi", "en")
    assert ok.source_tokens > 0 and ok.target_tokens > 0
    assert out[1].translation.text == "" and "already in the target language" in out[1].translation.detail
    assert "'de'" in out[2].translation.detail and "hi" in out[2].translation.detail
    assert "unknown (und)" in out[3].translation.detail
    assert out[1].text == "Floods displaced 20,000 people."  # the source is never rewritten


def test_batched_documents_equal_one_at_a_time_and_keep_paragraphs(translator) -> None:
    texts = [
        "उत्तर भारत में बाढ़। मंत्री ने कहा।\n\nक्या सरकार मदद भेजेगी?\nबचाव दल पहुँचे।",
        "سیل حدود ۲۰٬۰۰۰ نفر را آواره کرد. آیا دولت کمک می‌فرستد؟",
        "मंत्री ने कहा कि 35,000 से अधिक लोगों ने अपने घर छोड़ दिए।",
    ]
    together = translator.predict([_doc(t, "hi" if i != 1 else "fa", doc_id=str(i)) for i, t in enumerate(texts)])
    alone = [translator.predict([_doc(t, "hi" if i != 1 else "fa")])[0] for i, t in enumerate(texts)]
    assert [d.translation.text for d in together] == [d.translation.text for d in alone]
    first = together[0].translation.text
    assert re.findall(r"\s*\n\s*", first) == ["\n\n", "\n"]
    # each sentence is translated on its own and put back in order
    sentences = ["उत्तर भारत में बाढ़।", "मंत्री ने कहा।"]
    singles = [translator.predict([_doc(s, "hi")])[0].translation.text for s in sentences]
    assert first.split("\n\n")[0] == " ".join(s for s in singles if s)


def test_punctuation_and_digits_only_pass_through(translator) -> None:
    out = translator.predict([_doc("20,000 — 35,000!!! ۲۰٬۰۰۰", "hi"), _doc("... ?!", "fa")])
    assert out[0].translation.status == Translation.OK
    assert out[0].translation.text == "20,000 — 35,000!!! ۲۰٬۰۰۰"
    assert out[1].translation.text == "... ?!"
    assert out[0].translation.source_tokens == 0


def test_very_long_document_and_over_long_sentence(translator) -> None:
    sentence = "बचाव दल नाव से गाँवों तक पहुँचे, अधिकारियों ने यह जानकारी दी "
    long_sentence = sentence * 30 + "।"  # one sentence of several hundred tokens
    many = "\n".join("मंत्री ने कहा कि 35,000 लोग विस्थापित हुए।" for _ in range(150))
    out = translator.predict([_doc(long_sentence, "hi"), _doc(many, "hi")])
    assert all(isinstance(d, Document) and d.translation.status == Translation.OK for d in out)
    assert out[0].translation.source_tokens > 3 * 12  # cut into several runs of <= translate_max_length
    assert out[1].translation.text.count("\n") == 149


def test_one_failing_document_is_rejected_alone(translator, monkeypatch) -> None:
    onnx = translator.models["hi"]
    search = onnx.search
    real = search.generate
    good, bad = "बाढ़ आई।", "बचाव दल नाव से गाँवों तक पहुँचे।"
    poison = set(onnx.tokenize([bad])[0]) - set(onnx.tokenize([good])[0])

    def failing(sources, opts):
        if any(poison & set(s) for s in sources):
            raise RuntimeError("decoder exploded")
        return real(sources, opts)

    monkeypatch.setattr(search, "generate", failing)
    out = translator.predict([_doc(good, "hi", doc_id="a"), _doc(bad, "hi", doc_id="b"), _doc(good, "en")])
    assert isinstance(out[0], Document) and out[0].translation.status == Translation.OK
    assert isinstance(out[1], Rejection) and out[1].reason == "processing_error"
    assert "decoder exploded" in out[1].detail
    assert isinstance(out[2], Document) and out[2].translation.status == Translation.SOURCE_IS_TARGET


def test_beam_search_setting_is_used(tiny_settings: Settings) -> None:
    greedy = load(tiny_settings)
    beam = load(tiny_settings.replace(translate_beam_size=4, translate_no_repeat_ngram=2))
    text = "The minister said more than 35,000 people had left their homes on Monday."
    a = greedy.predict([_doc(text, "hi")])[0].translation.text
    b = beam.predict([_doc(text, "hi")])[0].translation.text
    assert a and b


def test_model_map_parsing() -> None:
    assert parse_model_map(" hi=/m/a , fa=/m/b,*=/m/c,") == {"hi": Path("/m/a"), "fa": Path("/m/b"), "*": Path("/m/c")}
    assert parse_model_map("") == {}
    for bad, words in [("hi", "LANG=DIR"), ("hi=", "LANG=DIR"), ("Hindi!=/m", "not a language code"),
                       ("hi=/a,hi=/b", "given twice")]:
        with pytest.raises(SettingsError, match=words):
            parse_model_map(bad)


def test_no_models_configured_passes_everything_through() -> None:
    model = load(Settings(provider="cpu"))
    out = model.predict([_doc("बाढ़ आई।", "hi")])
    assert out[0].translation.status == Translation.NO_MODEL and "none" in out[0].translation.detail


def test_unavailable_gpu_provider_is_a_load_error(tiny_onnx: Path) -> None:
    with pytest.raises(ModelLoadError, match="onnxruntime-gpu"):
        load(Settings(translate_models=f"hi={tiny_onnx}", provider="cuda"))


def test_broken_model_directories_name_what_is_wrong(tiny_onnx: Path, tmp_path: Path) -> None:
    def broken(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(tiny_onnx, target)
        return target

    cases = []
    cases.append((tmp_path / "nowhere", "no such model directory"))
    no_manifest = broken("no-manifest")
    (no_manifest / "manifest.json").unlink()
    cases.append((no_manifest, "manifest.json: missing"))
    bad_manifest = broken("bad-manifest")
    (bad_manifest / "manifest.json").write_text("{not json")
    cases.append((bad_manifest, "not valid JSON"))
    old_manifest = broken("old-manifest")
    (old_manifest / "manifest.json").write_text(json.dumps({"format": "other"}))
    cases.append((old_manifest, "missing: architecture"))
    no_decoder = broken("no-decoder")
    (no_decoder / "decoder.onnx").unlink()
    cases.append((no_decoder, "decoder.onnx: missing"))
    corrupt = broken("corrupt")
    (corrupt / "encoder.onnx").write_bytes(b"\x00garbage" * 10)
    cases.append((corrupt, "encoder.onnx: not a loadable ONNX encoder graph"))
    for path, message in cases:
        with pytest.raises(ModelLoadError, match=message) as err:
            load(Settings(translate_models=f"hi={path}", provider="cpu"))
        assert str(path) in str(err.value)


def test_export_int8_loads_and_translates(tiny_checkpoint: Path, tmp_path: Path) -> None:
    manifest = export_model(tiny_checkpoint, tmp_path / "int8", "int8")
    assert manifest["dtype"] == "int8" and manifest["architecture"] == "marian"
    saved = json.loads((tmp_path / "int8" / "manifest.json").read_text())
    assert saved["special_tokens"]["decoder_start"] == saved["special_tokens"]["pad"]
    model = load(Settings(translate_models=f"hi={tmp_path / 'int8'}", provider="cpu", translate_max_length=8))
    out = model.predict([_doc("बाढ़ आई।", "hi")])
    assert out[0].translation.status == Translation.OK and out[0].translation.target_tokens > 0


def test_export_output_is_readable_by_other_users(tiny_checkpoint: Path, tmp_path: Path) -> None:
    # `export-model` runs as one user; the image's services run as uid 10001 and only read /models.
    import os

    old = os.umask(0o022)
    try:
        export_model(tiny_checkpoint, tmp_path / "shared", "fp32")
    finally:
        os.umask(old)
    out = tmp_path / "shared"
    assert out.stat().st_mode & 0o777 == 0o755
    assert all(f.stat().st_mode & 0o004 for f in out.rglob("*")), "a file others cannot read"


def test_export_errors_name_the_problem(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such directory"):
        export_model(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="no config.json"):
        export_model(tmp_path / "empty", tmp_path / "out")
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(tiny_checkpoint / "config.json", no_weights / "config.json")
    with pytest.raises(ExportError, match="no weights"):
        export_model(no_weights, tmp_path / "out")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_model(tiny_checkpoint, busy)
    with pytest.raises(ExportError, match="dtype"):
        export_model(tiny_checkpoint, tmp_path / "out", "int4")


def test_language_codes_for_multilingual_models() -> None:
    assert nllb_code("hi") == "hin_Deva" and nllb_code("fa") == "pes_Arab" and nllb_code("ur") == "urd_Arab"
    assert nllb_code("zh", "Hant") == "zho_Hant" and nllb_code("zh", "Hans") == "zho_Hans"
    assert nllb_code("xx") is None
    assert m2m100_code("nb") == "no" and m2m100_code("hi") == "hi"
    assert model_language_code("marian", "hi") == "hi"


def test_multilingual_routing_forces_the_target_language_token(tiny_onnx: Path, tmp_path: Path) -> None:
    # Give the tiny model NLLB-style language tokens: routing, source prefix and forced BOS use them.
    nllb = tmp_path / "nllb"
    shutil.copytree(tiny_onnx, nllb)
    manifest = json.loads((nllb / "manifest.json").read_text())
    manifest["architecture"] = "nllb"
    manifest["language_tokens"] = {"hin_Deva": 10, "eng_Latn": 11}
    (nllb / "manifest.json").write_text(json.dumps(manifest))
    model = load(Settings(translate_models=f"*={nllb}", provider="cpu", translate_max_length=6))
    seen = []
    search = model.models["*"].search
    real = search.generate
    search.generate = lambda sources, opts: seen.append((sources, opts)) or real(sources, opts)
    out = model.predict([_doc("बाढ़ आई।", "hi"), _doc("Hochwasser.", "de")])
    assert out[0].translation.status == Translation.OK
    assert out[0].translation.text.split()[0:1] != ["eng_Latn"]
    assert seen[0][0][0][0] == 10 and seen[0][1].forced_bos == 11
    assert out[1].translation.status == Translation.NO_MODEL and "deu_Latn" in out[1].translation.detail


def test_module_exposes_load() -> None:
    assert translate_model.load is load


def test_short_position_table_caps_source_and_decode_length(tmp_path: Path) -> None:
    """A model with 16 positions, which never ends a sentence by itself, under a 256-token limit.

    Uncapped, the decoder would index past its position table (an ONNX Runtime Gather error,
    the document dead-lettered); capped, every sentence translates with at most 16 tokens.
    """
    from tests.fixtures.tiny_marian import build_marian

    checkpoint = build_marian(tmp_path / "short", max_positions=16, eos_bias=-50.0)
    export_model(checkpoint, tmp_path / "short-onnx", "fp32")
    model = load(Settings(translate_models=f"hi={tmp_path / 'short-onnx'}", provider="cpu",
                          translate_max_length=256, inference_threads=1))
    long_sentence = " ".join(["उत्तर भारत में बाढ़ से लगभग 20,000 लोग विस्थापित हुए"] * 6) + "।"
    out = model.predict([_doc(long_sentence, "hi"), _doc("बाढ़ आई।", "hi", doc_id="short")])
    assert [type(d) for d in out] == [Document, Document]
    assert all(d.translation.status == Translation.OK for d in out)
    pieces = model.models["hi"].cut(model.models["hi"].tokenize([long_sentence])[0], 14)
    assert len(pieces) > 1  # the source was cut to fit the table, not fed whole
    # each piece's translation stops at the table's length (the model never ends one by itself)
    onnx = model.models["hi"]
    generated = onnx.search.generate([onnx.wrap(piece, "") for piece in pieces], model.search_options(onnx))
    assert {len(ids) for ids in generated} == {16}
    assert out[0].translation.target_tokens > out[1].translation.target_tokens > 0
