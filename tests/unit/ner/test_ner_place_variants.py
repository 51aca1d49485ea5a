"""Linking a tagged place span that is not exactly an alias: type words, particles, Arabic
prefixes, Slavic case endings (`claimstream.ner.place_variants`), and what must not link."""

from __future__ import annotations

import pytest
from claimstream.core.schema import Document
from claimstream.ner.gazetteer import Gazetteer
from claimstream.ner.kb import KBEntity
from claimstream.ner.model import EntityModel
from claimstream.ner.place_variants import load_place_words

BIHAR, GUANGDONG, HORMOZGAN = "subdivision:IN-BR", "subdivision:CN-GD", "subdivision:IR-22"
DNIPRO, QUETTA, MULTAN = "city:709930", "city:1167528", "city:1169825"


@pytest.mark.parametrize(("surface", "expected"), [
    # a type word before or after the name
    ("Guangdong province", GUANGDONG),
    ("Hormozgan Province", HORMOZGAN),
    ("Bihar state", BIHAR),
    ("the state of Bihar", BIHAR),
    ("Provinz Guangdong", GUANGDONG),
    ("province du Guangdong", GUANGDONG),
    ("霍尔木兹甘省", HORMOZGAN),
    ("बिहार राज्य", BIHAR),
    ("штате Бихар", BIHAR),
    ("Balochistan province", "subdivision:PK-BA"),
    ("बलूचिस्तान प्रांत", "subdivision:PK-BA"),
    # the type word's kind narrows the entity: "New York" alone is the city
    ("New York state", "subdivision:US-NY"),
    # type word and an inflected name
    ("Днепропетровской области", "subdivision:UA-12"),
    ("Донецької області", "subdivision:UA-14"),
    # postpositions and prepositions left in the span
    ("کوئٹہ کی", QUETTA),
    ("ملتان میں", MULTAN),
    ("बिहार में", BIHAR),
    ("ईरान के", "country:IR"),
    ("ایران کے", "country:IR"),
    ("ریاست بہار میں", BIHAR),  # type word and postposition
    ("در تهران", "city:tehran"),
    ("в Дніпрі", DNIPRO),
    # Russian/Ukrainian case endings the index does not fold
    ("Дніпрі", DNIPRO),
    ("Дніпру", DNIPRO),
    ("Білорусі", "country:BY"),
    ("Білоруссю", "country:BY"),
])
def test_a_place_span_links_through_a_variant(gazetteer: Gazetteer, surface: str, expected: str) -> None:
    match = gazetteer.link_match(surface, "LOC")
    assert match is not None and match.entity.id == expected
    assert gazetteer.link(surface, "GPE").id == expected


@pytest.mark.parametrize("surface", ["Бихаре", "Ирана", "Харькова", "Irans", "والإسكندرية", "广东省", "广东"])
def test_forms_the_index_already_folds_still_link(gazetteer: Gazetteer, surface: str) -> None:
    assert gazetteer.link(surface, "LOC") is not None


@pytest.mark.parametrize("surface", [
    "province", "the state of", "Indian state of", "Provinz", "провинции", "области", "استان", "राज्य",
    "省", "में", "کی",  # a type word or a particle alone
    "Statesman", "Bihar Statesman", "The Statesman",  # "state" is not a word of "Statesman"
    "ईरानी के",  # the adjective "Iranian" with a postposition: not the country
])
def test_words_around_a_name_alone_do_not_link(gazetteer: Gazetteer, surface: str) -> None:
    assert gazetteer.link(surface, "LOC") is None
    assert gazetteer.link(surface, "GPE") is None


@pytest.mark.parametrize("surface", ["Ирина Львова", "Олена Києва", "Дніпрі", "Bihar state", "کوئٹہ کی"])
@pytest.mark.parametrize("label", ["PERSON", "ORG"])
def test_variants_are_for_place_spans_only(gazetteer: Gazetteer, surface: str, label: str) -> None:
    match = gazetteer.link_match(surface, label)
    assert match is None or not match.entity.id.startswith(("city:", "subdivision:", "country:"))


def _gazetteer(*entities: KBEntity) -> Gazetteer:
    return Gazetteer(entities)


def test_slavic_endings_need_a_place_of_four_letters() -> None:
    g = _gazetteer(
        KBEntity("city:oro", "GPE", "Oro", {"uk": ["Оро"]}),
        KBEntity("city:kolo", "GPE", "Kolo", {"uk": ["Коло"]}),
        KBEntity("person:dnipro", "PERSON", "Ivan Dnipro", {"uk": ["Дніпро"]}),
    )
    assert g.link("Колі", "LOC").id == "city:kolo"
    assert g.link("Орі", "LOC") is None  # "Оро": three letters, too short to guess
    assert g.link("Дніпрі", "LOC") is None  # a person's name, not a place's


def test_a_type_word_links_only_to_its_kind() -> None:
    g = _gazetteer(
        KBEntity("subdivision:XX-QC", "GPE", "Quebeka", {}, prior=2.7),
        KBEntity("city:1", "GPE", "Lutsa", {}, prior=2.8),
        KBEntity("org:x", "ORG", "Marena", {}),
    )
    assert g.link("Quebeka province", "LOC").id == "subdivision:XX-QC"
    assert g.link("Quebeka City", "LOC") is None  # a province is not a city
    assert g.link("Lutsa city", "LOC").id == "city:1"
    assert g.link("Lutsa province", "LOC") is None
    assert g.link("Marena region", "LOC") is None  # an organisation is never a place variant


def test_han_and_korean_type_suffixes() -> None:
    g = _gazetteer(
        KBEntity("subdivision:XX-A", "GPE", "Aprov", {"zh": ["甲乙省"], "ko": ["가나다"]}),
        KBEntity("city:2", "GPE", "Bcity", {"zh": ["丙丁"]}),
    )
    assert g.link("甲乙", "LOC").id == "subdivision:XX-A"  # the alias has 省, the span not
    assert g.link("丙丁市", "LOC").id == "city:2"  # the span has 市, the alias not
    assert g.link("丙丁省", "LOC") is None  # a city is not a province
    assert g.link("가나다성", "LOC").id == "subdivision:XX-A"
    assert g.link("가나다시", "LOC") is None


def test_arabic_article_is_dropped_or_added() -> None:
    g = _gazetteer(
        KBEntity("city:a", "GPE", "Adam", {"ar": ["الزرقاء"]}),
        KBEntity("city:b", "GPE", "Bdam", {"ar": ["مأرب"]}),
    )
    assert g.link("وزرقاء", "LOC").id == "city:a"  # و + the name without its article
    assert g.link("والمأرب", "LOC").id == "city:b"  # و + an article the alias does not have
    assert g.link("المأرب", "LOC").id == "city:b"


def test_the_place_words_file_is_read() -> None:
    words = load_place_words()
    assert ("province",) in words.type_phrases and ("state",) in words.type_phrases
    assert "city" in words.type_phrases[("city",)]
    assert words.min_letters == 4


def test_no_entity_is_made_where_no_tagger_found_one(gazetteer: Gazetteer) -> None:
    doc = Document(id="d", text="کوئٹہ کی سبزی منڈی میں دھماکہ ہوا۔")
    doc.language.code = "ur"
    (out,) = EntityModel(gazetteer).predict([doc])
    assert list(out.entities) == []


@pytest.mark.parametrize(("lang", "text", "span", "expected"), [
    ("en", "Floods hit Guangdong province on Monday, officials said.", "Guangdong province", GUANGDONG),
    ("zh", "霍尔木兹甘省发生地震。", "霍尔木兹甘省", HORMOZGAN),
    ("ru", "Взрывы прогремели в Днепропетровской области ночью.", "Днепропетровской области", "subdivision:UA-12"),
    ("uk", "Вибухи пролунали в Дніпрі вночі.", "Дніпрі", DNIPRO),
])
def test_the_stage_links_the_tagged_span_and_keeps_it(ner_model: EntityModel, lang: str, text: str, span: str,
                                                      expected: str) -> None:
    doc = Document(id="d", text=text)
    doc.language.code = lang
    (out,) = ner_model.predict([doc])
    found = {(e.text, e.canonical_id) for e in out.entities}
    assert (span, expected) in found


@pytest.mark.parametrize(("lang", "text"), [
    ("ru", "Ирина Львова заявила, что встреча состоится завтра."),  # Львова: also "of Lviv"
    ("uk", "Олена Києва сказала журналістам, що все гаразд."),  # Києва: also "of Kyiv"
    ("en", "The Statesman reported that the minister resigned."),
])
def test_a_surname_or_a_title_does_not_become_a_place(ner_model: EntityModel, lang: str, text: str) -> None:
    doc = Document(id="d", text=text)
    doc.language.code = lang
    (out,) = ner_model.predict([doc])
    assert not [e for e in out.entities if e.canonical_id.startswith(("city:", "subdivision:", "country:"))]
