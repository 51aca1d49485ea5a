"""The ONNX token-classification backend on a tiny random BERT that the test exports itself.

The model's weights are random, so the tests pin its output by setting the classifier
bias (every token gets one chosen tag) and check what the backend does with it:
sub-word alignment, BIO merging, offsets, windows and batching. Accuracy is not tested.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from claimstream.core.model import ModelLoadError
from claimstream.core.schema import Document
from claimstream.ner.gazetteer import Gazetteer
from claimstream.ner.model import EntityModel
from claimstream.ner.onnx_tagger import OnnxTagger, decode_bio

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
CORPUS = [
    "Angela Merkel visited Tehran and Moscow", "The minister spoke in Berlin about Iran",
    "Officials met delegates from Germany and Russia", "Talks continued between the governments",
]


def build_model(directory: Path, winning_tag: str, max_positions: int = 64) -> Path:
    """Export a tiny BertForTokenClassification whose every token is tagged `winning_tag`."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    directory.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # a small vocabulary, so that longer words are cut into several sub-words
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(
        vocab_size=70, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tok.save(str(directory / "tokenizer.json"))

    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=max_positions, num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)), label2id={t: i for i, t in enumerate(LABELS)}, pad_token_id=0,
    )
    torch.manual_seed(0)
    model = transformers.BertForTokenClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(-5.0)
        model.classifier.bias[LABELS.index(winning_tag)] = 5.0
    ids = torch.ones(1, 6, dtype=torch.long)
    torch.onnx.export(
        model, (ids, torch.ones_like(ids)), str(directory / "model.onnx"),
        input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "logits")},
        dynamo=False, opset_version=17,
    )
    config.save_pretrained(directory)  # config.json with id2label
    return directory


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("onnx-ner")
    return {tag: build_model(base / tag, tag) for tag in ("B-PER", "I-LOC", "O")}


def words_of(text: str) -> list[tuple[int, int]]:
    out, start = [], None
    for i, c in enumerate(text + " "):
        if c.isalnum() and start is None:
            start = i
        elif not c.isalnum() and start is not None:
            out.append((start, i))
            start = None
    return out


def test_decode_bio_merges_tags_into_spans() -> None:
    spans = [(0, 5), (6, 12), (13, 15), (16, 22), (23, 28), (29, 33)]
    tags = ["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-PER"]
    result = decode_bio(tags, [0.9, 0.7, 0.99, 0.6, 0.8, 0.5], spans)
    assert [(s.start, s.end, s.label) for s in result] == [
        (0, 12, "PERSON"), (16, 22, "LOC"), (23, 28, "LOC"), (29, 33, "PERSON")]
    assert result[0].confidence == pytest.approx(0.8)


def test_every_word_its_own_entity_with_subwords_merged(models: dict[str, Path]) -> None:
    tagger = OnnxTagger(models["B-PER"])
    text = "Angela Merkel visited Tehran, then Moscow."
    (spans,) = tagger.tag([text])
    # each word, however many sub-words it became, is one PERSON span with exact offsets
    words = [(s.start, s.end) for s in spans if text[s.start:s.end].isalnum()]
    assert words == words_of(text)
    assert [text[s.start:s.end] for s in spans if (s.start, s.end) not in words] == [",", "."]  # BERT splits these
    assert all(s.label == "PERSON" and 0 < s.confidence <= 1 for s in spans)
    assert len(tagger.tokenizer.encode("Merkel", add_special_tokens=False).ids) > 1  # really split


def test_inside_tags_make_one_span_and_o_makes_none(models: dict[str, Path]) -> None:
    text = "Delegates from Germany and Russia"
    (spans,) = OnnxTagger(models["I-LOC"]).tag([text])
    assert [(text[s.start:s.end], s.label) for s in spans] == [(text, "LOC")]
    assert OnnxTagger(models["O"]).tag([text, "Moscow"]) == [[], []]


def test_long_text_is_cut_into_windows_without_splitting_words(models: dict[str, Path]) -> None:
    tagger = OnnxTagger(models["B-PER"])
    text = " ".join(["Tehran Moscow governments"] * 60)  # far more than 64 positions
    (spans,) = tagger.tag([text])
    assert [(s.start, s.end) for s in spans] == words_of(text)


def test_batch_gives_the_same_spans_as_one_at_a_time(models: dict[str, Path]) -> None:
    tagger = OnnxTagger(models["I-LOC"], max_batch_tokens=64)
    texts = ["Berlin", "Officials met delegates from Germany and Russia " * 5, "", "Iran and Moscow"]
    assert tagger.tag(texts) == [tagger.tag([t])[0] for t in texts]


def test_model_uses_onnx_entities_and_longer_spans_win(models: dict[str, Path], gazetteer: Gazetteer) -> None:
    model = EntityModel(gazetteer, None, OnnxTagger(models["I-LOC"]))
    assert model.model_name.endswith("gazetteer")
    doc = Document(id="x", text="Germany Russia")
    (out,) = model.predict([doc])
    assert isinstance(out, Document)
    assert [(e.text, e.recognizer, e.label) for e in out.entities] == [("Germany Russia", "onnx", "LOC")]


def test_missing_or_broken_model_files_fail_clearly(tmp_path: Path, models: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="lacks model.onnx"):
        OnnxTagger(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("tokenizer.json", "config.json"):
        (broken / name).write_bytes((models["O"] / name).read_bytes())
    (broken / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelLoadError, match="cannot load ONNX model"):
        OnnxTagger(broken)
    (broken / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="id2label"):
        OnnxTagger(broken)
