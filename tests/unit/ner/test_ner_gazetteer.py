"""Finding and linking KB names in text of many languages and scripts, inflected forms included."""

from __future__ import annotations

import pytest
from claimstream.ner.gazetteer import Gazetteer
from claimstream.ner.normalize import normalize, tokenize


def found(gazetteer: Gazetteer, text: str) -> list[tuple[str, str]]:
    """(surface, canonical id) of every match, checking that offsets point at the surface."""
    out = []
    for m in gazetteer.find(text):
        assert 0 <= m.start < m.end <= len(text)
        out.append((text[m.start:m.end], m.entity.id))
    return out


# (language, sentence, surface as it appears, canonical id)
SENTENCES = [
    ("en", "Talks between Iran and Germany resumed in Tehran on Monday.", "Germany", "country:DE"),
    ("en", "The U.S. and the United Nations issued a joint statement.", "United Nations", "org:un"),
    ("hi", "भारत के प्रधानमंत्री ने कहा कि जर्मनी से बातचीत जारी है।", "जर्मनी", "country:DE"),
    ("hi", "भारत की सेना और भारत ने मिलकर काम किया।", "भारत", "country:IN"),
    ("hi", "अमेरिकी अधिकारियों ने बयान दिया।", "अमेरिकी", "country:US"),
    ("hi", "भारतीय विदेश मंत्री तेहरान पहुँचे।", "भारतीय", "country:IN"),
    ("fa", "ایرانی‌ها در انتخابات شرکت کردند.", "ایرانی‌ها", "country:IR"),
    ("fa", "سفیر ایرانِ در مسکو دیدار کرد.", "ایرانِ", "country:IR"),
    ("fa", "هیئتی از آلمان به تهران رفت.", "آلمان", "country:DE"),
    ("fa", "سازمان ملل متحد هشدار داد.", "سازمان ملل متحد", "org:un"),
    ("ar", "وصل الوفد إلى القاهرة والعراق وبالسعودية.", "السعودية", "country:SA"),
    ("ar", "قال المتحدث باسم الأمم المتحدة إن الوضع خطير.", "الأمم المتحدة", "org:un"),
    ("ur", "پاکستان اور بھارت کے درمیان مذاکرات ہوئے۔", "بھارت", "country:IN"),
    ("ru", "Переговоры России и Германии прошли в Москве.", "Германии", "country:DE"),
    ("ru", "Санкции против России не остановили Россию.", "Россию", "country:RU"),
    ("ru", "Владимир Путин встретился с делегацией.", "Владимир Путин", "person:vladimir-putin"),
    ("uk", "Делегація України прибула до Києва.", "Києва", "city:kyiv"),
    ("uk", "Росія атакувала Україну вночі.", "Україну", "country:UA"),
    ("ko", "독일은 미국의 동맹국이다.", "미국의", "country:US"),
    ("ko", "북한이 러시아에 병력을 보냈다.", "러시아에", "country:RU"),
    ("zh", "德国总理访问中国并会见了习近平。", "习近平", "person:xi-jinping"),
    ("zh", "联合国秘书长发表讲话。", "联合国", "org:un"),
    ("de", "Die Beziehungen Deutschlands zu Russland sind angespannt.", "Deutschlands", "country:DE"),
    ("fr", "La France et l'Allemagne ont signé un accord à Bruxelles.", "Bruxelles", "city:brussels"),
    ("es", "El gobierno de Irán negó las acusaciones de Estados Unidos.", "Estados Unidos", "country:US"),
]


@pytest.mark.parametrize(
    ("lang", "text", "surface", "entity_id"), SENTENCES, ids=[f"{s[0]}-{i}" for i, s in enumerate(SENTENCES)]
)
def test_sentence_in_many_languages_links_the_name(gazetteer: Gazetteer, lang: str, text: str, surface: str,
                                                   entity_id: str) -> None:
    assert (surface, entity_id) in found(gazetteer, text)


# One country, one leader, one organisation, written in five languages: one id each.
CROSS_LANGUAGE = {
    "country:RU": ["Russia", "रूस", "روسیه", "Россия", "러시아"],
    "person:vladimir-putin": ["Vladimir Putin", "व्लादिमीर पुतिन", "ولادیمیر پوتین", "Владимир Путин", "블라디미르 푸틴"],
    "org:nato": ["NATO", "नाटो", "ناتو", "НАТО", "나토"],
    "country:DE": ["Germany", "जर्मनी", "آلمان", "Германия", "독일"],
    "org:un": ["United Nations", "संयुक्त राष्ट्र", "سازمان ملل", "ООН", "유엔"],
}


@pytest.mark.parametrize("entity_id", sorted(CROSS_LANGUAGE))
def test_one_entity_in_five_languages_gets_one_id(gazetteer: Gazetteer, entity_id: str) -> None:
    ids = {m.entity.id for name in CROSS_LANGUAGE[entity_id] for m in gazetteer.find(f"{name} ")}
    assert ids == {entity_id}
    assert gazetteer.by_id[entity_id].name  # an English canonical name


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("ايران", "ایران"),  # Arabic yeh
        ("ایـــران", "ایران"),  # tatweel
        ("كرمان", "کرمان"),  # Arabic kaf
        ("ایرانیها", "ایرانی‌ها"),  # ZWNJ missing
        ("إيرَان", "ایران"),  # hamza carrier and a haraka
        ("ज़र्मनी", "जर्मनी"),  # nukta
        ("हिन्दी", "हिंदी"),  # nasal + virama vs anusvara
        ("हँस", "हंस"),  # chandrabindu vs anusvara
        ("ＩＲＡＮ", "iran"),  # full-width (NFKC) and case
        ("Téhéran", "teheran"),  # diacritics
        ("Ёж", "еж"),
    ],
)
def test_normalization_folds_spelling_variants(variant: str, canonical: str) -> None:
    assert normalize(variant) == normalize(canonical)


def test_normalization_keeps_letters_that_differ() -> None:
    assert normalize("Китай") != normalize("Китаи")  # й is a letter, not и with a mark
    assert normalize("भारत") != normalize("भरत")  # a vowel sign is not a diacritic


@pytest.mark.parametrize(
    "text",
    [
        "سفیر اسرائيل در ايران",  # Arabic letters in Persian text
        "ایـران و آلمان",
        "ایران‌ی‌ها",
    ],
)
def test_persian_spelling_variants_still_link_iran(gazetteer: Gazetteer, text: str) -> None:
    assert "country:IR" in {e for _, e in found(gazetteer, text)}


def test_arabic_attached_conjunction_is_outside_the_span(gazetteer: Gazetteer) -> None:
    text = "وصل إلى بغداد ووالعراق والعراق"
    assert ("العراق", "country:IQ") in found(gazetteer, text)
    assert all(not s.startswith("و") for s, _ in found(gazetteer, text))


def test_lowercase_words_do_not_match_capitalized_names(gazetteer: Gazetteer) -> None:
    assert found(gazetteer, "let us cook turkey in china bowls for chad") == []
    assert ("US", "country:US") in found(gazetteer, "The US said")
    assert ("Turkey", "country:TR") in found(gazetteer, "Turkey said")


def test_longest_name_wins(gazetteer: Gazetteer) -> None:
    assert found(gazetteer, "North Korea and South Korea") == [
        ("North Korea", "country:KP"), ("South Korea", "country:KR")]
    assert found(gazetteer, "Kim Jong Un") == [("Kim Jong Un", "person:kim-jong-un")]


def test_names_do_not_run_across_sentences(gazetteer: Gazetteer) -> None:
    # "New" ends one sentence and "York" begins the next: not New York.
    assert ("New. York", "city:new-york") not in found(gazetteer, "It was New. York is far.")


def test_offsets_are_code_points_into_the_original_text(gazetteer: Gazetteer) -> None:
    text = "😀 آلمان 😀 Германии"
    for surface, _ in found(gazetteer, text):
        assert surface in ("آلمان", "Германии")
    assert [t.start for t in tokenize("😀 ab")] == [2]


def test_link_checks_whole_span_and_type(gazetteer: Gazetteer) -> None:
    assert gazetteer.link("the United States", "GPE").id == "country:US"  # type: ignore[union-attr]
    assert gazetteer.link("Iran's", "GPE").id == "country:IR"  # type: ignore[union-attr]
    assert gazetteer.link("Iran Air", "ORG") is None  # not the whole span
    assert gazetteer.link("Iran", "PERSON") is None  # a person is not a country
    assert gazetteer.link("Reuters", "ORG").id == "agency:reuters"  # type: ignore[union-attr]
    assert gazetteer.link("July 5", "DATE") is None


def test_empty_and_symbol_only_text_find_nothing(gazetteer: Gazetteer) -> None:
    assert gazetteer.find("") == []
    assert gazetteer.find("  ... 123 !!! ") == []
