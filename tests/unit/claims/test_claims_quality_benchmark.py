"""The claims quality benchmark's scorer (benchmarks/claims_quality.py) on a hand-made two-document case.

No model runs here: the emitted claims are written by hand, as the claims stage would emit them,
so what is tested is the matching and the figures, not the stage.
"""

from __future__ import annotations

import pytest
from claimstream.core.schema import Claim, Document, Quantity

from benchmarks.claims_quality import emitted_claims, gold_from_records, load_gold, match_document, score, surface_spans

EN = "Floods displaced about 20,000 people, officials said. Waves 20 feet high hit the coast. At least 12 people died."
HI = "35,000 से अधिक लोग विस्थापित हुए। मृतकों की संख्या 12 हो गई।"


def _gold_claim(text: str, cid: str, surface: str, predicate: str, value: float, unit: str, fact: str = "",
                status: str = "expected", qualifier: str = "exact", after: int = 0) -> dict:
    start = text.index(surface, after)
    return {"id": cid, "kind": "quantity", "predicate": predicate, "status": status, "value": value,
            "qualifier": qualifier, "unit": unit, "counted": "", "surface": surface, "start": start,
            "end": start + len(surface), "fact": fact}


def _gold():
    docs = [
        {"id": "a", "lang": "en", "text": EN, "claims": [
            _gold_claim(EN, "c1", "20,000", "people_displaced", 20000, "people", "flood/displaced", qualifier="approx"),
            _gold_claim(EN, "c2", "20 feet", "other", 20, "feet", status="abstain"),
            _gold_claim(EN, "c3", "12", "people_killed", 12, "people", "flood/killed", qualifier="at_least"),
        ]},
        {"id": "b", "lang": "hi", "text": HI, "claims": [
            _gold_claim(HI, "c1", "35,000", "people_displaced", 35000, "people", "flood/displaced",
                        qualifier="more_than"),
            _gold_claim(HI, "c2", "12", "people_killed", 12, "people", "flood/killed"),
        ]},
    ]
    relations = [{"type": "conflict", "a": ["a#c1"], "b": ["b#c1"], "note": "20,000 vs more than 35,000"}]
    return gold_from_records(docs, relations)


def _claim(text: str, sentence: str, surface: str, predicate: str, value: float, key: str, qualifier: str = "exact",
           lower: float | None = None, upper: float | None = None, contradiction: str = "") -> Claim:
    start = text.index(sentence)
    q = Quantity(value=value, unit="people", qualifier=qualifier, surface=surface)
    if lower is not None:
        q.lower = lower
    if upper is not None:
        q.upper = upper
    return Claim(source_text=sentence, start=start, end=start + len(sentence), predicate=predicate, key=key,
                 quantity=q, contradiction=contradiction)


def _emitted():
    """What a stage might emit: right claims, a claim on the wave height, a wrong predicate."""
    a = Document(id="a", text=EN)
    a.claims.extend([
        _claim(EN, "Floods displaced about 20,000 people, officials said.", "about 20,000", "people_displaced", 20000,
               "displaced|flood", "approx", 18000, 22000, contradiction="vs 20"),
        _claim(EN, "Waves 20 feet high hit the coast.", "20", "people_displaced", 20, "displaced|flood",
               contradiction="vs about 20,000"),
        _claim(EN, "At least 12 people died.", "At least 12", "people_killed", 12, "killed|flood", "at_least", 12),
    ])
    b = Document(id="b", text=HI)
    b.claims.extend([
        _claim(HI, "35,000 से अधिक लोग विस्थापित हुए।", "35,000 से अधिक", "people_displaced", 35000, "displaced|flood",
               "more_than", 35000),
        _claim(HI, "मृतकों की संख्या 12 हो गई।", "12", "people_injured", 12, "injured|flood"),
    ])
    return {d.id: emitted_claims(d) for d in (a, b)}


def test_every_figure_on_two_documents():
    report = score(_gold(), _emitted(), {"displaced|flood": "a vs b"}, tolerance=0.10)
    row = report["rows"]["all"]
    figures = {name: (row[name]["num"], row[name]["den"]) for name in (
        "precision", "recall", "found", "predicate_accuracy", "abstained", "group_pair_precision",
        "group_pair_recall", "group_conflicts_genuine", "conflict_pairs_genuine", "contradictions_genuine")}
    assert figures == {
        "precision": (3, 5),  # the wave height and the wrong predicate are wrong
        "recall": (3, 4),
        "found": (4, 4),  # every expected number has a claim on it
        "predicate_accuracy": (3, 4),
        "abstained": (0, 1),  # "20 feet" should have been left alone
        "group_pair_precision": (1, 2),  # 20,000 with 35,000 is right; 20 (feet) with 35,000 is not
        "group_pair_recall": (1, 2),  # the two tolls of 12 are in different groups
        "group_conflicts_genuine": (1, 1),  # the group holds 20,000 vs more than 35,000
        "conflict_pairs_genuine": (1, 2),  # ... and 20 vs 35,000, which is no genuine conflict
        "contradictions_genuine": (0, 2),  # 20,000 vs 20 feet within document a
    }
    assert row["verdicts"] == {"abstain": 1, "correct": 3, "wrong_predicate": 1}
    assert [e["gold"]["id"] for e in report["errors"]] == ["a#c2", "b#c2"]
    assert report["missed"] == []
    # Per language: a row counts its own documents, and the pairs and groups that touch them.
    assert report["rows"]["hi"]["precision"]["num"] == 1 and report["rows"]["hi"]["precision"]["den"] == 2
    assert report["rows"]["en"]["group_pairs"] == report["rows"]["hi"]["group_pairs"] == 2


def test_a_number_is_matched_whole_and_a_second_claim_on_it_is_a_duplicate():
    text = "The typhoon displaced 12.6 thousand people; 2 are missing."
    assert surface_spans(text, "2", 0, len(text)) == ((44, 45),)  # not the 2 of 12.6
    doc = Document(id="a", text=text)
    doc.claims.extend([
        _claim(text, text, "2", "people_missing", 2, "missing"),
        _claim(text, text, "2", "people_killed", 2, "killed"),
    ])
    gold = gold_from_records([{"id": "a", "lang": "en", "text": text, "claims": [
        _gold_claim(text, "c1", "12.6 thousand", "people_displaced", 12600, "people", "t/displaced"),
        _gold_claim(text, "c2", "2", "people_missing", 2, "people", "t/missing", after=40)]}], [])
    verdicts = [m.verdict for m in match_document(gold.documents[0], emitted_claims(doc))]
    assert verdicts == ["correct", "duplicate"]


def test_an_inconsistent_gold_record_is_refused():
    bad = _gold_claim(EN, "c1", "20,000", "people_displaced", 20000, "people", "f")
    bad["start"] += 1
    with pytest.raises(ValueError, match="a#c1"):
        gold_from_records([{"id": "a", "lang": "en", "text": EN, "claims": [bad]}], [])


def test_the_shipped_gold_set_loads():
    gold = load_gold()
    assert len(gold.documents) >= 40 and len(gold.claims) >= 200
    assert {"en", "hi", "fa", "ar", "ru", "ur"} <= {d.lang for d in gold.documents}
