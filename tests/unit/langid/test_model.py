"""The langid model on sentences written for these tests, in the languages the pipeline must tell apart."""

from __future__ import annotations

import pytest
from claimstream.core.schema import Document, Rejection
from claimstream.core.settings import Settings
from claimstream.langid.model import load

SENTENCES = {
    "hi": ("hi", "Deva", "असम में बाढ़ के कारण हज़ारों लोगों को अपने घर छोड़कर राहत शिविरों में जाना पड़ा है।"),
    "fa": ("fa", "Arab", "سیل در شمال هند هزاران نفر را آواره کرد و دولت برای کمک به آسیب‌دیدگان اقدام کرد."),
    "en": ("en", "Latn", "Officials said the flood waters were receding slowly and relief camps remained open."),
    "ru": ("ru", "Cyrl", "Власти сообщили, что уровень воды в реке начал снижаться, но опасность сохраняется."),
    "uk": ("uk", "Cyrl", "Уряд повідомив, що рівень води в річці почав знижуватися, але небезпека залишається."),
    "ko": ("ko", "Hang", "당국은 강물의 수위가 천천히 낮아지고 있지만 위험은 여전히 남아 있다고 밝혔다."),
    "ar": ("ar", "Arab", "قالت السلطات إن منسوب المياه في النهر بدأ في الانخفاض لكن الخطر لا يزال قائما."),
    "ur": ("ur", "Arab", "حکام کا کہنا ہے کہ دریا میں پانی کی سطح کم ہونا شروع ہو گئی ہے لیکن خطرہ ابھی باقی ہے۔"),
    "zh": ("zh", "Hani", "当局表示，河水水位已经开始缓慢下降，但危险仍然存在，救援营地继续开放。"),
    "es": ("es", "Latn", "Las autoridades dijeron que el nivel del río comenzó a bajar, pero el peligro continúa."),
    "fr": ("fr", "Latn", "Les autorités ont déclaré que le niveau du fleuve baissait, mais le danger demeure."),
    "de": ("de", "Latn", "Die Behörden erklärten, dass der Wasserstand des Flusses sinkt, die Gefahr aber bleibt."),
}


@pytest.fixture(scope="module")
def model():
    return load(Settings())


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_each_language_is_identified_with_its_script(model, lang):
    code, script, text = SENTENCES[lang]
    doc = Document(id=lang, text=text)
    [result] = model.predict([doc])
    assert isinstance(result, Document)
    assert result.language.code == code
    assert result.language.script == script
    assert result.language.confidence > 0.5
    assert result.language.method == "fasttext"


def test_english_headline_over_hindi_body_is_hindi_with_english_as_alternative(model):
    doc = Document(
        id="mixed",
        title="Assam floods: thousands displaced as the Brahmaputra rises",
        text=SENTENCES["hi"][2] + "\n" + "राज्य आपदा प्रबंधन प्राधिकरण ने कहा कि राहत कार्य जारी है और नावें भेजी गई हैं।",
    )
    [result] = model.predict([doc])
    assert result.language.code == "hi"
    assert "en" in [alt.code for alt in result.language.alternatives]
    english = next(alt for alt in result.language.alternatives if alt.code == "en")
    assert 0.05 < english.confidence < result.language.confidence


def test_short_text_follows_the_hint(model):
    [result] = model.predict([Document(id="s", text="OK, 12:30", lang_hint="fa")])
    assert (result.language.code, result.language.method) == ("fa", "hint")


def test_short_text_without_hint_uses_an_unambiguous_script(model):
    [result] = model.predict([Document(id="s", text="서울 속보")])
    assert (result.language.code, result.language.method) == ("ko", "script")


def test_short_latin_text_without_hint_still_gets_a_guess(model):
    [result] = model.predict([Document(id="s", text="Guten Tag")])
    assert result.language.method == "fasttext"
    assert result.language.code  # a best guess, with its (low) confidence
    assert result.language.confidence <= 1.0


def test_digits_only_is_undetermined_not_an_error(model):
    [result] = model.predict([Document(id="n", text="2024 - 20,000 / 35,000")])
    assert result.language.code == "und"
    assert result.language.confidence == 0.0


def test_hint_does_not_override_a_long_text(model):
    [result] = model.predict([Document(id="h", text=SENTENCES["ru"][2], lang_hint="en")])
    assert result.language.code == "ru"


def test_empty_text_is_rejected_with_reason(model):
    results = model.predict([Document(id="e", text="   \n\t "), Document(id="ok", text=SENTENCES["en"][2])])
    assert isinstance(results[0], Rejection) and results[0].reason == "empty_text"
    assert isinstance(results[1], Document) and results[1].language.code == "en"


def test_sample_documents_are_identified(model, examples):
    import json

    for line in (examples / "news.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        expected = obj["id"].split("-")[-2] if obj["id"].split("-")[-2] != "mixed" else "hi"
        [result] = model.predict([Document(id=obj["id"], title=obj["title"], text=obj["text"])])
        assert result.language.code == expected, obj["id"]


def test_a_sentence_of_another_language_inside_one_paragraph_shows_as_an_alternative(model):
    # A German report quoting one English sentence, all in one paragraph: the default reads it sentence by
    # sentence, so the quote's language is reported; read as one line (langid_segments=lines) fastText
    # averages the paragraph and the quote vanishes from the scores.
    text = " ".join([
        "Die Behörden erklärten am Montag, dass der Wasserstand des Rheins langsam sinkt.",
        "Viele Straßen in der Altstadt bleiben aber gesperrt, und die Schulen sind geschlossen.",
        "The mayor said that the city would need weeks to repair the damage to its bridges.",
        "Die Feuerwehr pumpt seit Tagen Wasser aus den Kellern der Häuser am Ufer.",
    ])
    [by_sentence] = model.predict([Document(id="q", text=text)])
    [by_line] = load(Settings(langid_segments="lines")).predict([Document(id="q", text=text)])
    assert by_sentence.language.code == by_line.language.code == "de"
    english = {alt.code: alt.confidence for alt in by_sentence.language.alternatives}.get("en", 0.0)
    english_by_line = {alt.code: alt.confidence for alt in by_line.language.alternatives}.get("en", 0.0)
    assert english > 0.1
    assert english_by_line < english / 2


def test_an_unknown_segmentation_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="lines.*sentences"):
        load(Settings(langid_segments="words"))
