"""Subdivisions and cities in the shipped KB: the `parent` field, linking in several languages,
and names that must not become places."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from claimstream.core.schema import Document
from claimstream.ner.gazetteer import Gazetteer
from claimstream.ner.kb import KBError, load_kb
from claimstream.ner.model import EntityModel, _stands_alone


def _write(path: Path, *objects: dict) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects), encoding="utf-8")
    return path


def test_parent_is_read_and_defaults_to_empty(tmp_path: Path) -> None:
    kb = load_kb([_write(tmp_path / "a.jsonl",
                         {"id": "subdivision:XX-A", "type": "GPE", "name": "Aland", "country": "XX"},
                         {"id": "city:1", "type": "GPE", "name": "Acity", "country": "XX",
                          "parent": "subdivision:XX-A"})])
    assert kb["city:1"].parent == "subdivision:XX-A"
    assert kb["subdivision:XX-A"].parent == ""


def test_a_later_file_sets_the_parent(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", {"id": "subdivision:XX-A", "type": "GPE", "name": "Aland"},
               {"id": "city:1", "type": "GPE", "name": "Acity"})
    b = _write(tmp_path / "b.jsonl", {"id": "city:1", "parent": "subdivision:XX-A"})
    assert load_kb([a, b])["city:1"].parent == "subdivision:XX-A"


@pytest.mark.parametrize("parent", [3, "", "city:1"])
def test_a_bad_parent_is_refused_with_its_line(tmp_path: Path, parent: object) -> None:
    path = _write(tmp_path / "a.jsonl", {"id": "city:1", "type": "GPE", "name": "Acity", "parent": parent})
    with pytest.raises(KBError, match=r"a\.jsonl:1: 'parent'"):
        load_kb([path])


def test_an_unknown_parent_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", {"id": "x:1", "type": "GPE", "name": "X"},
                  {"id": "city:1", "type": "GPE", "name": "Acity", "parent": "subdivision:NOPE"})
    with pytest.raises(KBError, match=r"a\.jsonl:2: 'parent' 'subdivision:NOPE'"):
        load_kb([path])


def test_the_shipped_kb_has_subdivisions_and_cities_with_parents(gazetteer: Gazetteer) -> None:
    by_id = gazetteer.by_id
    assert sum(i.startswith("subdivision:") for i in by_id) > 3000
    assert sum(i.startswith("city:") for i in by_id) > 1500
    assert by_id["city:1167528"].parent == "subdivision:PK-BA"  # Quetta, Balochistan
    assert by_id["city:709930"].parent == "subdivision:UA-12"  # Dnipro, Dnipropetrovsk oblast
    assert by_id["city:kyiv"].country == "UA"  # a curated city keeps its id
    for entity in gazetteer.entities:
        assert not entity.parent or entity.parent in by_id


def _linked(model: EntityModel, text: str, lang: str) -> dict[str, str]:
    doc = Document(id="t", text=text)
    doc.language.code = lang
    [out] = model.predict([doc])
    assert isinstance(out, Document)
    return {e.text: e.canonical_id for e in out.entities if e.canonical_id}


LINKS = [
    ("en", "Floods in Bihar displaced thousands.", "Bihar", "subdivision:IN-BR"),
    ("hi", "बिहार में बाढ़ से भारी तबाही हुई।", "बिहार", "subdivision:IN-BR"),
    ("ur", "بہار میں سیلاب سے ہزاروں لوگ بے گھر ہو گئے۔", "بہار", "subdivision:IN-BR"),
    ("ur", "کوئٹہ میں زلزلے کے جھٹکے محسوس کیے گئے۔", "کوئٹہ", "city:1167528"),
    ("en", "A blast was reported in Quetta on Monday.", "Quetta", "city:1167528"),
    ("ru", "В провинции Хормозган произошло землетрясение.", "Хормозган", "subdivision:IR-22"),
    ("fa", "زلزله‌ای در استان هرمزگان رخ داد.", "استان هرمزگان", "subdivision:IR-22"),
    ("uk", "Уночі Дніпро зазнав ракетного удару.", "Дніпро", "city:709930"),
    ("zh", "台风袭击了广东省。", "广东省", "subdivision:CN-GD"),
    # a state and a foreign city share the Hindi name: the state wins (Gujarat, not Gujrat in Pakistan)
    ("hi", "संयुक्त अरब अमीरात गुजरात में एक नए बंदरगाह में निवेश करेगा।", "गुजरात", "subdivision:IN-GJ"),
]


@pytest.mark.parametrize(("lang", "text", "surface", "wanted"), LINKS)
def test_subdivisions_and_cities_link_in_many_languages(loaded_model: EntityModel, lang: str, text: str,
                                                        surface: str, wanted: str) -> None:
    assert _linked(loaded_model, text, lang).get(surface) == wanted


def test_a_city_never_takes_a_country_name(gazetteer: Gazetteer) -> None:
    for text, country in (("Georgia", "country:GE"), ("Mexico", "country:MX"), ("Palau", "country:PW")):
        [match] = gazetteer.find(f"Talks in {text} resumed.")
        assert match.entity.id == country


@pytest.mark.parametrize(("text", "word"), [
    ("Jackson said the talks would resume.", "Jackson"),  # a person, not Jackson, Mississippi
    ("Hamilton won the race on Sunday.", "Hamilton"),  # a person, not Hamilton, Ontario
    ("Victoria thanked her fans.", "Victoria"),
])
def test_ambiguous_one_word_names_do_not_stand_alone(gazetteer: Gazetteer, text: str, word: str) -> None:
    alone = [m for m in gazetteer.find(text) if text[m.start:m.end] == word and _stands_alone(text, m)]
    assert not alone, [(m.entity.id, m.entity.name) for m in alone]


def test_a_caseless_city_name_alone_needs_a_tagger_span(gazetteer: Gazetteer) -> None:
    text = "کوئٹہ"
    [match] = gazetteer.find(text)
    assert match.entity.id == "city:1167528" and not _stands_alone(text, match)
