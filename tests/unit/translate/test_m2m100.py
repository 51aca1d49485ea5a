"""M2M100 (the pre-LN, language-token architecture NLLB-200 shares) through export and ONNX search.

A tiny checkpoint the test builds (random weights, trained SentencePiece, 100 language
tokens) is exported with `export_model`; the ONNX path must reproduce transformers'
`generate()` with the target-language token forced first, greedy and beam.
"""

from __future__ import annotations

import pytest
import torch
from claimstream.translate.export import export_model
from claimstream.translate.model import OnnxTranslator
from claimstream.translate.search import SearchOptions
from transformers import M2M100ForConditionalGeneration, M2M100Tokenizer

from tests.fixtures.tiny_marian import build_tiny_m2m100, generated_tokens

SENTENCES = ["उत्तर भारत में बाढ़ से लगभग 20,000 लोग विस्थापित हुए।", "क्या सरकार मदद भेजेगी?", "मंत्री ने कहा"]


@pytest.fixture(scope="module")
def m2m(tmp_path_factory: pytest.TempPathFactory):
    checkpoint = build_tiny_m2m100(tmp_path_factory.mktemp("m2m") / "tiny-m2m100")
    out = tmp_path_factory.mktemp("m2m-onnx") / "onnx"
    manifest = export_model(checkpoint, out, "fp32")
    tokenizer = M2M100Tokenizer.from_pretrained(checkpoint)
    tokenizer.src_lang = "hi"
    model = M2M100ForConditionalGeneration.from_pretrained(checkpoint).eval()
    return tokenizer, model, manifest, OnnxTranslator(out, ["CPUExecutionProvider"], 1)


def test_export_writes_an_m2m100_manifest_with_language_tokens(m2m) -> None:
    tokenizer, _, manifest, onnx = m2m
    assert manifest["architecture"] == "m2m100"
    assert {"hi", "fa", "en", "ru"} <= set(manifest["languages"])
    assert onnx.language_token("en") == tokenizer.get_lang_id("en")


def test_source_tokens_carry_the_source_language_prefix(m2m) -> None:
    tokenizer, _, _, onnx = m2m
    assert [onnx.wrap(ids, "hi") for ids in onnx.tokenize(SENTENCES)] == tokenizer(SENTENCES)["input_ids"]


@pytest.mark.parametrize(("beams", "no_repeat"), [(1, 0), (1, 2), (3, 2)])
def test_onnx_tokens_equal_generate_with_the_target_language_forced(m2m, beams: int, no_repeat: int) -> None:
    tokenizer, model, _, onnx = m2m
    batch = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    english = tokenizer.get_lang_id("en")
    with torch.no_grad():
        out = model.generate(**batch, num_beams=beams, max_new_tokens=20, max_length=None,
                             no_repeat_ngram_size=no_repeat, forced_bos_token_id=english)
    expected = generated_tokens(out, model.config.pad_token_id)
    sources = [onnx.wrap(ids, "hi") for ids in onnx.tokenize(SENTENCES)]
    got = onnx.search.generate(sources, SearchOptions(beam_size=beams, max_new_tokens=20, no_repeat_ngram=no_repeat,
                                                      forced_bos=english))
    assert got == expected
    assert all(row[0] == english for row in got)
    if no_repeat:
        assert any(len(set(row[1:])) > 3 for row in got)  # not only a degenerate repetition
