"""The ONNX path generates exactly the tokens transformers' generate() does, greedy and beam."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from claimstream.translate.model import OnnxTranslator
from claimstream.translate.search import SearchOptions
from transformers import MarianMTModel, MarianTokenizer

from tests.fixtures.tiny_marian import generated_tokens

SENTENCES = [
    "Floods displaced about 20,000 people in the north.",
    "मंत्री ने कहा कि 35,000 से अधिक लोगों ने अपने घर छोड़ दिए।",
    "آیا دولت کمک می‌فرستد؟",
    "Hello",
    "The minister said more than 35,000 people had left their homes on Monday, officials said.",
    "Der Minister sagte",
]


@pytest.fixture(scope="module")
def pair(tiny_checkpoint: Path, tiny_onnx: Path) -> tuple[MarianTokenizer, MarianMTModel, OnnxTranslator]:
    tokenizer = MarianTokenizer.from_pretrained(tiny_checkpoint)
    model = MarianMTModel.from_pretrained(tiny_checkpoint).eval()
    return tokenizer, model, OnnxTranslator(tiny_onnx, ["CPUExecutionProvider"], 1)


def _reference(tokenizer: MarianTokenizer, model: MarianMTModel, beams: int, max_new: int,
               no_repeat: int, length_penalty: float) -> list[list[int]]:
    batch = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**batch, num_beams=beams, max_new_tokens=max_new, max_length=None,
                             no_repeat_ngram_size=no_repeat, length_penalty=length_penalty)
    return generated_tokens(out, model.config.pad_token_id)


@pytest.mark.parametrize(
    ("beams", "max_new", "no_repeat", "length_penalty"),
    [(1, 24, 0, 1.0), (1, 24, 2, 1.0), (4, 24, 0, 1.0), (4, 16, 3, 0.6), (3, 20, 0, 2.0), (2, 5, 0, 1.0)],
)
def test_onnx_tokens_equal_transformers_generate(pair, beams, max_new, no_repeat, length_penalty) -> None:
    tokenizer, model, onnx = pair
    expected = _reference(tokenizer, model, beams, max_new, no_repeat, length_penalty)
    sources = [onnx.wrap(ids, "") for ids in onnx.tokenize(SENTENCES)]
    got = onnx.search.generate(
        sources, SearchOptions(beam_size=beams, max_new_tokens=max_new, no_repeat_ngram=no_repeat,
                               length_penalty=length_penalty),
    )
    assert got == expected
    # The tiny model ends some sentences early and runs others to the limit: both paths are covered.
    if max_new > 10:
        assert {len(g) for g in got} != {max_new}


def test_source_tokens_equal_the_tokenizer(pair) -> None:
    tokenizer, _, onnx = pair
    assert [onnx.wrap(ids, "") for ids in onnx.tokenize(SENTENCES)] == tokenizer(SENTENCES)["input_ids"]


def test_batched_and_single_generation_agree(pair) -> None:
    _, _, onnx = pair
    sources = [onnx.wrap(ids, "") for ids in onnx.tokenize(SENTENCES)]
    opts = SearchOptions(beam_size=1, max_new_tokens=16)
    assert onnx.search.generate(sources, opts) == [onnx.search.generate([s], opts)[0] for s in sources]


def test_min_new_tokens_fixes_the_length(pair) -> None:
    _, _, onnx = pair
    sources = [onnx.wrap(ids, "") for ids in onnx.tokenize(SENTENCES)]
    got = onnx.search.generate(sources, SearchOptions(max_new_tokens=9, min_new_tokens=9))
    assert [len(g) for g in got] == [9] * len(SENTENCES)
