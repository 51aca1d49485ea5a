"""The shipped e5 NER head (claimstream.ner.transformer) on fresh sentences, corrupt heads, long texts, the graph cache.

The tagger is built once for this module into a temporary cache. The sentences below were
written for this test (not taken from the training or dev data); each case lists only
entities the shipped head finds, so a retrained head that loses one is noticed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from claimstream.core.model import ModelLoadError
from claimstream.ner.transformer import (
    CONFIG_FILE,
    CONTEXT,
    HEAD_DIR,
    HEAD_FILE,
    IGNORE,
    LABELS,
    STRIDE,
    WINDOW,
    HeadError,
    TransformerTagger,
    best_window,
    decode_spans,
    join_words,
    read_head,
    subword_labels,
    token_words,
    window_starts,
)

# (language, text, [(surface, label), ...] that must be among the spans found)
CASES = [
    ("en", "Barack Obama met Angela Merkel in Berlin on Tuesday.",
     [("Barack Obama", "PER"), ("Angela Merkel", "PER"), ("Berlin", "LOC")]),
    ("en", "Microsoft opened a new office in India last year.", [("Microsoft", "ORG"), ("India", "LOC")]),
    ("hi", "नरेंद्र मोदी ने दिल्ली में भाषण दिया।", [("नरेंद्र मोदी", "PER"), ("दिल्ली", "LOC")]),
    ("hi", "भारत और पाकिस्तान के बीच बातचीत हुई।", [("भारत", "LOC"), ("पाकिस्तान", "LOC")]),
    ("fa", "حسن روحانی دیروز به تهران بازگشت.", [("حسن روحانی", "PER"), ("تهران", "LOC")]),
    ("fa", "ایران و فرانسه یک قرارداد امضا کردند.", [("ایران", "LOC"), ("فرانسه", "LOC")]),
    ("ar", "التقى الرئيس عبد الفتاح السيسي بوفد من الأمم المتحدة في القاهرة.",
     [("الأمم المتحدة", "ORG"), ("القاهرة", "LOC")]),
    ("ar", "وصل محمد إلى مصر صباح اليوم.", [("محمد", "PER"), ("مصر", "LOC")]),
    ("ru", "Владимир Путин прилетел в Москву.", [("Владимир Путин", "PER"), ("Москву", "LOC")]),
    ("ru", "Компания Газпром подписала контракт с Китаем.", [("Газпром", "ORG"), ("Китаем", "LOC")]),
    ("ur", "عمران خان نے لاہور میں جلسہ کیا۔", [("عمران خان", "PER"), ("لاہور", "LOC")]),
    ("ur", "پاکستان اور چین نے ایک معاہدہ کیا۔", [("پاکستان", "LOC"), ("چین", "LOC")]),
    ("uk", "Володимир Зеленський відвідав Київ.", [("Володимир Зеленський", "PER"), ("Київ", "LOC")]),
    ("uk", "Україна і Польща підписали угоду.", [("Україна", "LOC"), ("Польща", "LOC")]),
    # Korean WikiANN tags whole space-delimited words, so a span keeps the particle (서울에서 = "in Seoul").
    ("ko", "문재인 대통령이 서울에서 연설했다.", [("서울에서", "LOC")]),
    ("ko", "삼성전자는 미국에 공장을 지었다.", [("삼성전자는", "ORG"), ("미국에", "LOC")]),
    ("zh", "习近平访问了北京大学。", [("北京大学", "ORG")]),
    ("zh", "中国和日本举行了会谈。", [("中国", "LOC"), ("日本", "LOC")]),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ner-transformer-cache")


@pytest.fixture(scope="module")
def tagger(cache: Path) -> TransformerTagger:
    return TransformerTagger(cache_dir=cache, threads=2)


def _found(tagger: TransformerTagger, text: str) -> set[tuple[str, str]]:
    return {(text[s.start: s.end], s.label) for s in tagger.tag([text])[0]}


def test_shipped_head_files_are_small_and_complete() -> None:
    config, arrays, _ = read_head()
    assert 1 <= config["top_layers"] <= 4
    assert config["bottom_layers"] + config["top_layers"] == 12
    assert sum(p.stat().st_size for p in HEAD_DIR.iterdir() if p.is_file()) < 20e6


@pytest.mark.parametrize(("lang", "text", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_tags_people_organisations_places(tagger: TransformerTagger, lang: str, text: str,
                                          expected: list[tuple[str, str]]) -> None:
    found = _found(tagger, text)
    for entity in expected:
        assert entity in found, f"{lang}: {entity} not in {found}"


def test_spans_are_valid_and_confident(tagger: TransformerTagger) -> None:
    texts = [text for _, text, _ in CASES] + ["", "   ", "no entities here at all"]
    for text, spans in zip(texts, tagger.tag(texts), strict=True):
        for span in spans:
            assert 0 <= span.start < span.end <= len(text)
            assert text[span.start: span.end] == text[span.start: span.end].strip()
            assert span.label in ("PER", "ORG", "LOC")
            assert 0.0 < span.confidence <= 1.0
    assert tagger.tag([]) == []


COUNTRIES = ["India", "France", "Brazil", "Japan", "Kenya", "Canada", "Mexico", "Egypt", "Spain", "Germany", "Italy",
             "China", "Russia", "Turkey", "Norway", "Poland", "Chile", "Peru", "Iran", "Nigeria"]


def test_long_text_is_windowed_with_valid_offsets_on_both_sides_of_an_edge(tagger: TransformerTagger) -> None:
    verbs = ("opened a new office in", "signed a trade deal with", "sent a delegation to")
    sentences = [f"The minister {verb} {country} last year." for verb in verbs for country in COUNTRIES]
    text = " ".join(sentences)
    tokens = tagger.tokenize([text])[0]  # the token count decides the windows
    assert len(tokens.ids) > WINDOW
    spans = tagger.tag([text])[0]
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    places = [s for s in spans if s.label == "LOC"]
    assert all(text[s.start: s.end] in COUNTRIES for s in places)
    # tagged sentence by sentence the head finds all 60; with long windows it found 12
    assert len(places) >= 0.9 * len(sentences)
    for edge_token in (tagger.context, WINDOW):  # the first window's edge, and the encoder's limit
        edge = int(tokens.offsets[edge_token][0])
        assert any(s.end < edge for s in places) and any(s.start > edge for s in places)


def _one_hot(tags: list[str]) -> np.ndarray:
    probs = np.full((len(tags), len(LABELS)), 0.01)
    for t, tag in enumerate(tags):
        probs[t, LABELS.index(tag)] = 0.94
    return probs


@pytest.mark.parametrize(("tokens", "tags"), [
    (["Нагибин", ",", "Владимир", "Владимирович"], ["B-PER", "I-PER", "I-PER", "I-PER"]),
    (["Иван", "Дмитриевич"], ["B-PER", "I-PER"]),
    (["토트넘", "홋스퍼", "클럽"], ["B-ORG", "I-ORG", "I-ORG"]),
    (["ஸ்ரீ", "லட்சுமி"], ["B-PER", "I-PER"]),
])
def test_a_lone_space_subword_inside_a_name_neither_trains_nor_breaks_it(
        tagger: TransformerTagger, tokens: list[str], tags: list[str]) -> None:
    """The tokenizer gives some words (in every script; punctuation after a space) a lone "▁"
    sub-word of their own. Labelled O it would cut the name in two; it is left out of the loss,
    and decoding skips it whatever the model says there, so the whole name is one span."""
    text, word_spans = join_words(tokens)
    tok = tagger.tokenize([text])[0]
    words = token_words(tok.offsets, word_spans, len(text))
    lone = [t for t, (a, b) in enumerate(tok.offsets.tolist()) if not text[a:b].strip()]
    assert lone, f"the tokenizer no longer splits a lone space sub-word off in {text!r}"
    labels = subword_labels(words, tags)
    assert all(labels[t] == IGNORE for t in lone)
    assert all(labels[t] != IGNORE for t in range(len(labels)) if t not in lone)
    # what the model was taught before: O on the lone sub-word
    taught = [LABELS[x] if x != IGNORE else "O" for x in labels.tolist()]
    spans = decode_spans(text, tok.offsets, _one_hot(taught))
    assert [(text[s.start: s.end], s.label) for s in spans] == [(text, tags[0][2:])]


def test_window_plan_covers_every_token_away_from_edges() -> None:
    for window, stride in ((CONTEXT, STRIDE), (WINDOW, 384)):
        starts = window_starts(1200, window, stride)
        assert starts[0] == 0 and starts[-1] == 1200 - window
        choice = best_window(1200, starts, window)
        for t, w in enumerate(choice.tolist()):
            assert starts[w] <= t < starts[w] + window
            if window // 2 < t < 1200 - window // 2:  # not at the text's own ends
                assert min(t - starts[w], starts[w] + window - 1 - t) >= (window - stride) // 2 - 1
        assert window_starts(window, window, stride) == [0]


def test_graph_is_cached(tagger: TransformerTagger, cache: Path) -> None:
    assert tagger.built
    stamp = tagger.graph.stat().st_mtime_ns
    again = TransformerTagger(cache_dir=cache, threads=1)
    assert not again.built and again.graph == tagger.graph
    assert tagger.graph.stat().st_mtime_ns == stamp
    again.close()


@pytest.mark.parametrize("broken", ["missing-npz", "missing-json", "garbage-npz", "garbage-json"])
def test_missing_or_corrupt_head_names_the_file(tmp_path: Path, cache: Path, broken: str) -> None:
    head = tmp_path / "head"
    shutil.copytree(HEAD_DIR, head)
    name = HEAD_FILE if broken.endswith("npz") else CONFIG_FILE
    if broken.startswith("missing"):
        (head / name).unlink()
    else:
        (head / name).write_bytes(b"\x00not a head\xff" * 10)
    with pytest.raises(HeadError, match=name) as err:
        TransformerTagger(head, cache_dir=cache)
    assert isinstance(err.value, ModelLoadError)
