"""Predicate selection: lexicons in hi, fa, en, ru; embeddings for languages without one."""

from __future__ import annotations

import pytest
from claimstream.claims.predicates import PredicateEmbedder, find_triggers, unit_fits, vocabulary


@pytest.mark.parametrize(("sentence", "predicate"), [
    ("लगभग २०,००० लोग विस्थापित हुए हैं", "people_displaced"),
    ("अब तक १२ लोगों की मौत हो चुकी है", "people_killed"),
    ("दोनों देशों ने समझौते पर हस्ताक्षर किए", "agreement_signed"),
    ("دست‌کم ۲۰،۰۰۰ نفر را آواره کرده است", "people_displaced"),
    ("۳۵ نفر مصدوم شدند", "people_injured"),
    ("بیش از ۱۱٬۰۰۰ سرباز کره شمالی", "troops_deployed"),
    ("Floods have displaced 18,000 people", "people_displaced"),
    ("the deal was worth $370 million", "deal_value"),
    ("Parliament ratified the treaty", "agreement_ratified"),
    ("около 12 000 военнослужащих КНДР", "troops_deployed"),
    ("погибли 15 человек", "people_killed"),
    ("Россия выслала двух дипломатов", "diplomats_expelled"),
    ("संसद ने संधि का अनुसमर्थन किया", "agreement_ratified"),
    # money for the bereaved or for relief is aid, however the sentence names it
    ("The state announced Rs 5 lakh ex gratia for the family of each person killed", "aid_pledged"),
    ("The province released $3 million for relief in the flooded districts", "aid_pledged"),
])
def test_lexicon_trigger(sentence: str, predicate: str) -> None:
    assert predicate in [t.predicate for t in find_triggers(sentence)]


@pytest.mark.parametrize(("sentence", "predicate"), [
    ("पुलिस ने 7 लोगों की मौत की पुष्टि की", "agreement_ratified"),   # "confirmed", not "ratified"
    ("मंत्रालय ने सोमवार को घटना की पुष्टि की थी", "agreement_ratified"),
])
def test_a_common_verb_is_no_trigger_of_a_rare_predicate(sentence: str, predicate: str) -> None:
    assert predicate not in [t.predicate for t in find_triggers(sentence)]


def test_units_restrict_predicates() -> None:
    assert unit_fits("people_killed", "people", 12)
    assert not unit_fits("people_killed", "places", 15)  # "15 districts"
    assert not unit_fits("people_killed", "", 5.6)  # a magnitude is not a head count
    assert unit_fits("deal_value", "usd", 370e6) and not unit_fits("deal_value", "people", 370e6)
    assert not unit_fits("agreement_signed", "people", 2)


def test_every_predicate_is_documented() -> None:
    for name, entry in vocabulary().items():
        assert entry["kind"] in ("quantity", "event"), name
        assert entry["prototypes"] and entry["template"], name
        assert {"hi", "fa", "en", "ru"} <= set(entry["triggers"]), name


@pytest.fixture(scope="module")
def embedder() -> PredicateEmbedder:
    return PredicateEmbedder()


@pytest.mark.parametrize(("text", "predicate"), [
    ("Las lluvias obligaron a 5.000 familias a abandonar sus casas", "people_displaced"),
    ("Bei dem Busunglück kamen 23 Fahrgäste um", "people_killed"),
    ("북한이 러시아에 약 1만 명의 군대를 보냈다", "troops_deployed"),
])
def test_embedding_fallback_without_lexicon_words(embedder: PredicateEmbedder, text: str, predicate: str) -> None:
    assert not [t for t in find_triggers(text) if t.predicate == predicate]  # the lexicon cannot decide
    (name, score), = embedder.classify([text])
    assert name == predicate
    assert score >= 0.86


def test_embedding_scores_unrelated_text_below_threshold(embedder: PredicateEmbedder) -> None:
    (_, score), = embedder.classify(["Das Museum zeigt 200 Gemälde aus dem 17. Jahrhundert"])
    assert score < 0.86


def test_searching_by_script_finds_what_one_pattern_of_every_form_finds() -> None:
    # find_triggers searches a sentence only with the forms of its own scripts; it must find exactly
    # what the single pattern of every form finds, mixed-script sentences included.
    import json
    import random
    from pathlib import Path

    from claimstream.claims.extract import split_sentences
    from claimstream.claims.predicates import _ARABIC_MARK, Trigger, _trigger_regex, find_triggers

    pattern, owner = _trigger_regex()

    def one_pattern(sentence: str) -> list[Trigger]:
        return [Trigger(p, m.start(), m.end(), k) for m in pattern.finditer(sentence)
                for p, k in owner[_ARABIC_MARK.sub("", m.group(0)).lower()]]

    news = Path(__file__).resolve().parents[3] / "examples" / "news.jsonl"
    texts = [json.loads(line)["text"] for line in news.read_text(encoding="utf-8").splitlines()]
    sentences = [t[a:b] for t in texts for a, b in split_sentences(t)]
    rng = random.Random(3)
    sentences += ["".join(rng.choice(sentences)[:30] for _ in range(4)) for _ in range(300)]
    sentences += ["Погибли 12 человек, 30 killed, وأصيب 5, 死亡3人", "ums Leben gekommen", ""]
    for sentence in sentences:
        assert find_triggers(sentence) == one_pattern(sentence), sentence


def _full_search(sentence: str) -> list[tuple[str, int, int, str]]:
    """The definition `find_triggers` must keep: each script's whole pattern searched everywhere, then the
    leftmost, longest matches that do not overlap."""
    from claimstream.claims.predicates import _ARABIC_MARK, _script_patterns, _trigger_regex

    _, owner = _trigger_regex()
    matches = sorted((m for pattern in _script_patterns().values() for m in pattern.finditer(sentence)),
                     key=lambda m: (m.start(), -len(m.group(0))))
    kept, end = [], -1
    for m in matches:
        if m.start() >= end:
            kept.append(m)
            end = m.end()
    return [(p, m.start(), m.end(), k) for m in kept for p, k in owner[_ARABIC_MARK.sub("", m.group(0)).lower()]]


def test_the_prefix_search_finds_what_the_whole_pattern_finds() -> None:
    # find_triggers tries, at each place a word starts, only the forms that begin with its first two
    # letters; it must agree with the whole pattern on any text: cases, scripts, Arabic wa-/fa- and vowel
    # marks, CJK runs, letters whose case folding is not their lower case.
    import json
    import random
    from pathlib import Path

    data = Path(__file__).resolve().parents[3] / "benchmarks" / "data"
    texts = [row[field] for name in ("claims_gold", "claims_heldout")
             for row in map(json.loads, (data / f"{name}.jsonl").read_text(encoding="utf-8").splitlines())
             for field in ("title", "text")]
    texts += [t.upper() for t in texts[:60]] + [t.title() for t in texts[:60]]
    pieces = ["killed", "Killed", "KILLED", " ", "people", "displaced", "ums Leben gekommen", "Leben", "погибли",
              "ПОГИБЛИ", "ſ", "İ", "ς", "\u064e", "\u0651", "\u0670", "وقتل", "فقتل", "قُتل", "و", "ف", "ق",
              "قتل", "وأصيب", "死亡", "死", "伤", "사망", "명이",
              "मौत", "हुई", "آواره", "\u200c", "شدند", "12", ",", "。", "injured", "wounded", "ᲀ"]
    rng = random.Random(11)
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 25))) for _ in range(2000)]
    found = 0
    for text in texts:
        fast = [(t.predicate, t.start, t.end, t.kind) for t in find_triggers(text)]
        assert fast == _full_search(text), repr(text)
        found += len(fast)
    assert found > 2000  # the texts are full of triggers: the comparison is not of empty lists


def test_no_character_above_the_cased_planes_folds_oddly() -> None:
    from claimstream.claims.predicates import _CASED_PLANES_END, _folds_oddly

    assert not [code for code in range(_CASED_PLANES_END, 0x110000) if _folds_oddly(code)]
    assert _folds_oddly(ord("ſ")) and _folds_oddly(ord("İ")) and not _folds_oddly(ord("K"))
