"""The ner stage, as services load it, does not make entities of words that only look like names.

Classes of error the knowledge-base gazetteer made on its own, each with examples in several
languages (sentences written for these tests): common words that its spelling folding or a
homograph maps onto a place; nationality adjectives linked as the country; the country inside
an organisation's name; the country token inside a person's name. The gazetteer now stands
alone only for safe names (several words, or a capitalized place or organisation name in a
script with case); everything else needs the transformer tagger's span, and the gazetteer
links it.
"""

from __future__ import annotations

import pytest
from claimstream.core.schema import Document, Entity
from claimstream.ner.gazetteer import Gazetteer
from claimstream.ner.model import EntityModel, _stands_alone

PLACES = ("GPE", "LOC")


def tag(model: EntityModel, text: str, lang: str) -> list[Entity]:
    doc = Document(id="t", text=text)
    doc.language.code = lang
    [out] = model.predict([doc])
    assert isinstance(out, Document)
    return list(out.entities)


COMMON_WORDS = [
    # (language, sentence, the common word, the place it folds onto or spells)
    ("hi", "बच्चों ने स्कूल में गाने गाए और फिर चाय पी।", "गाने", "country:GH"),  # songs -> Ghana
    ("hi", "चाय में चीनी कम डालिए, डॉक्टर ने कहा।", "चीनी", "country:CN"),  # sugar -> China
    ("fa", "وضعیت مالی شرکت در سال گذشته بهتر شد.", "مالی", "country:ML"),  # financial -> Mali
    ("fa", "او گفت چین و چروک لباس را باید با اتو صاف کرد.", "چین", "country:CN"),  # wrinkle -> China
    ("ar", "كيف يمكن تطوير البرنامج النووي السلمي؟", "كيف", "city:kyiv"),  # how -> Kyiv
    ("ar", "قال المدير إن البرنامج النووي سلمي تماما.", "النووي", "country:NU"),  # nuclear -> Niue
    ("ur", "حکومت نے کہا کہ مالی حالات بہتر ہیں۔", "مالی", "country:ML"),  # financial -> Mali
]


# What the stage still gets wrong is marked, so the test fails the day it is fixed.
_KNOWN_MISSES = {"چین": "a homograph the e5 tagger reads as China (LOC)"}
STAGE_COMMON_WORDS = [
    pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason=_KNOWN_MISSES[case[2]]))
    if case[2] in _KNOWN_MISSES else case for case in COMMON_WORDS
]


@pytest.mark.parametrize(("lang", "text", "word", "wrong"), STAGE_COMMON_WORDS)
def test_common_words_are_not_places(loaded_model: EntityModel, lang: str, text: str, word: str,
                                     wrong: str) -> None:
    entities = tag(loaded_model, text, lang)
    assert not [e for e in entities if e.canonical_id == wrong], (word, [(e.text, e.canonical_id) for e in entities])


@pytest.mark.parametrize(("lang", "text", "word", "wrong"), COMMON_WORDS)
def test_the_gazetteer_alone_never_takes_a_single_caseless_word(gazetteer: Gazetteer, lang: str, text: str,
                                                                word: str, wrong: str) -> None:
    found = [m for m in gazetteer.find(text) if text[m.start:m.end] == word]
    assert found and found[0].entity.id == wrong  # the knowledge base does spell or fold it so...
    assert not _stands_alone(text, found[0])  # ...but that alone does not make an entity


def test_safe_names_still_stand_alone(gazetteer: Gazetteer) -> None:
    text = "Officials in New Delhi and NATO said Россия and the United Nations met."
    alone = {text[m.start:m.end] for m in gazetteer.find(text) if _stands_alone(text, m)}
    assert {"New Delhi", "NATO", "Россия", "United Nations"} <= alone


ADJECTIVES = [
    ("hi", "भारतीय टीम ने कल रात मैच जीत लिया।", "भारतीय"),  # Indian
    ("hi", "ईरानी अधिकारियों ने बयान जारी किया।", "ईरानी"),  # Iranian
    ("fa", "دانشجویان ایرانی در این مسابقه برنده شدند.", "ایرانی"),  # Iranian
    ("ur", "پاکستانی ٹیم نے میچ جیت لیا۔", "پاکستانی"),  # Pakistani
]


@pytest.mark.parametrize(("lang", "text", "word"), ADJECTIVES)
def test_nationality_adjectives_are_not_places(loaded_model: EntityModel, lang: str, text: str, word: str) -> None:
    entities = tag(loaded_model, text, lang)
    assert not [e for e in entities if word in e.text and e.label in PLACES], [(e.text, e.label) for e in entities]


INSIDE_NAMES = [
    # (language, sentence, the country inside a name, its id)
    pytest.param("hi", "श्रीलंका सरकार ने कोलंबो में आपातकाल घोषित किया।", "श्रीलंका", "country:LK",  # government
                 marks=pytest.mark.xfail(strict=True, reason="the e5 tagger leaves सरकार out of the name")),
    ("ru", "ВВС США нанесли удар по складу.", "США", "country:US"),  # the US Air Force
    ("hi", "अभिनेता बोमन ईरानी ने मुंबई में नई फिल्म की घोषणा की।", "ईरानी", "country:IR"),  # a person
    ("fa", "بانک مرکزی ایران نرخ بهره را افزایش داد.", "ایران", "country:IR"),  # the central bank
]


@pytest.mark.parametrize(("lang", "text", "word", "country"), INSIDE_NAMES)
def test_the_country_inside_a_name_is_not_an_entity_of_its_own(loaded_model: EntityModel, lang: str, text: str,
                                                               word: str, country: str) -> None:
    entities = tag(loaded_model, text, lang)
    start = text.index(word)
    alone = [e for e in entities if (e.start, e.end) == (start, start + len(word)) and e.canonical_id == country]
    assert not alone, [(e.text, e.label, e.canonical_id) for e in entities]
