"""The trained number classifier: the shipped head, what it decides, and broken weight files."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from claimstream.claims.classifier import CARD, NO_RULE, WEIGHTS, NumberClassifier, NumberContext, NumberHead
from claimstream.claims.model import load
from claimstream.claims.predicates import PredicateEmbedder, find_triggers
from claimstream.core.model import ModelLoadError
from claimstream.core.schema import Document
from claimstream.core.settings import Settings


@pytest.fixture(scope="module")
def classifier() -> NumberClassifier:
    return NumberClassifier(PredicateEmbedder().encoder)


def test_the_shipped_head_says_what_it_was_trained_on() -> None:
    card = json.loads(CARD.read_text(encoding="utf-8"))
    head = NumberHead.load()
    assert card["trained_on"] == "tools/data/claim_numbers/train.jsonl" and card["numbers"] > 1000
    assert head.classes[-1] == "other" and "people_killed" in head.classes
    assert head.weight.shape == (768 + (len(head.rules) + len(head.units) if head.hybrid else 0), len(head.classes))


@pytest.mark.parametrize(("sentence", "surface", "predicate"), [
    # no lexicon trigger in these sentences: the rules cannot decide them
    ("The storm left 3,000 people without a roof over their heads.", "3,000", "people_displaced"),
    ("Polizei nahm 45 Demonstranten fest.", "45", "people_arrested"),
    ("Las inundaciones obligaron a 5.000 personas a abandonar sus casas.", "5.000", "people_displaced"),
])
def test_it_decides_numbers_the_lexicon_cannot(classifier: NumberClassifier, sentence: str, surface: str,
                                               predicate: str) -> None:
    assert not [t for t in find_triggers(sentence) if t.kind == "verb"]
    start = sentence.index(surface)
    ((name, prob),) = classifier.classify([NumberContext(sentence, start, start + len(surface), NO_RULE, "")])
    assert name == predicate and prob >= 0.5


def test_a_number_of_things_is_other(classifier: NumberClassifier) -> None:
    for sentence in ("Das Museum zeigt 200 Gemälde aus dem 17. Jahrhundert.", "The bridge is 300 metres long."):
        start = next(i for i, ch in enumerate(sentence) if ch.isdigit())
        ((name, _),) = classifier.classify([NumberContext(sentence, start, start + 3, NO_RULE, "")])
        assert name == "other", sentence


def test_the_stage_uses_it_only_where_no_trigger_binds() -> None:
    model = load(Settings(claims_predicate_fallback="classifier"))
    doc = Document(id="en", text="The storm left 3,000 people without a roof over their heads. "
                                 "At least 12 people died.", source="t")
    doc.language.code = "en"
    doc.published_at.FromDatetime(datetime(2025, 3, 5, tzinfo=UTC))
    model.predict([doc])
    methods = {c.quantity.surface: c.predicate_method for c in doc.claims}
    assert methods.get("At least 12") == "lexicon"  # "died": a trigger
    assert methods.get("3,000") == "classifier"


@pytest.mark.parametrize("damage", ["missing", "corrupt", "wrong_shape"])
def test_a_missing_or_corrupt_head_is_a_clear_load_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "numbers-head.npz"
    if damage != "missing":
        shutil.copy(WEIGHTS, path)
        shutil.copy(CARD, path.with_suffix(".json"))
    if damage == "corrupt":
        path.write_bytes(b"not a numpy archive")
    if damage == "wrong_shape":
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        card["classes"] = card["classes"][:3]
        path.with_suffix(".json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="numbers-head"):
        NumberHead.load(path)


def test_an_unknown_fallback_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="claims_predicate_fallback"):
        load(Settings(claims_predicate_fallback="oracle"))
