"""A title over a body in another language: the body decides once it is substantial.

Every text here was written for this test (short invented news items, not the sample documents):
an English title at least about as long as a 2-3 sentence body, for each script the pipeline reads.
"""

from __future__ import annotations

import pytest
from claimstream.core.schema import Document
from claimstream.core.settings import Settings
from claimstream.langid.model import _weight, load

# lang: (script, English title, body in that language)
TITLED = {
    "hi": (
        "Deva",
        "Heavy monsoon rain shuts mountain roads across the state as rescue teams search for missing pilgrims "
        "and officials ask people to stay indoors until the rain eases",
        "पहाड़ी इलाकों में लगातार बारिश के कारण कई सड़कें बंद कर दी गई हैं। बचाव दल लापता तीर्थयात्रियों की "
        "तलाश कर रहे हैं। प्रशासन ने लोगों से घरों में रहने की अपील की है।",
    ),
    "mr": (
        "Deva",
        "City council approves a new water supply plan for the eastern suburbs after months of severe "
        "shortages, officials say, with work on two new pipelines due to begin before the monsoon arrives in June",
        "महापालिकेने पूर्व उपनगरांसाठी नवीन पाणीपुरवठा योजनेला मंजुरी दिली आहे. गेल्या काही महिन्यांपासून या "
        "भागात पाण्याची तीव्र टंचाई होती. दोन नवीन जलवाहिन्यांचे काम पावसाळ्यापूर्वी सुरू होणार असल्याचे "
        "अधिकाऱ्यांनी सांगितले.",
    ),
    "fa": (
        "Arab",
        "Tehran metro opens two new stations on its northern line, cutting travel times for commuters, "
        "while the city promises to add more trains to the line before winter",
        "دو ایستگاه جدید در خط شمالی متروی تهران افتتاح شد. مسئولان می‌گویند زمان سفر مسافران کوتاه‌تر خواهد "
        "شد. شهرداری وعده داده است که پیش از زمستان قطارهای بیشتری به این خط اضافه شود.",
    ),
    "ur": (
        "Arab",
        "Flash floods cut off villages in the northern valleys as rescue teams struggle to reach stranded "
        "families and the army sends helicopters carrying food and medicine to the area",
        "شمالی وادیوں میں اچانک آنے والے سیلاب سے کئی دیہات کا رابطہ منقطع ہو گیا ہے۔ امدادی ٹیمیں پھنسے ہوئے "
        "خاندانوں تک پہنچنے کی کوشش کر رہی ہیں۔ فوج نے ہیلی کاپٹروں کے ذریعے خوراک اور ادویات بھیجی ہیں۔",
    ),
    "ar": (
        "Arab",
        "Heavy rain floods streets in the port city, schools close for two days and the civil defence urges "
        "residents to avoid low-lying areas near the river",
        "غمرت الأمطار الغزيرة شوارع المدينة الساحلية صباح اليوم. وقررت السلطات إغلاق المدارس لمدة يومين. "
        "ودعا الدفاع المدني السكان إلى تجنب المناطق المنخفضة القريبة من النهر.",
    ),
    "sd": (
        "Arab",
        "Farmers in the lower valley say the canal water arrived late this season, and officials promise "
        "repairs to the damaged banks before the next sowing",
        "هيٺين وادي جي هارين جو چوڻ آهي ته هن سال واهه ۾ پاڻي دير سان پهتو. ڪيترن ئي ڳوٺن ۾ فصل سڪي ويا آهن. "
        "آبپاشي کاتي جي عملدارن چيو آهي ته ٽٽل ڪنارن جي مرمت جلد ڪئي ويندي.",
    ),
    "ru": (
        "Cyrl",
        "Regional authorities close several mountain roads after days of heavy snow, as rescuers search for "
        "a group of missing tourists near the pass and residents are told to stay at home",
        "Из-за сильных снегопадов в горных районах закрыты несколько дорог. Спасатели продолжают поиски группы "
        "пропавших туристов у перевала. Власти призвали жителей без необходимости не выезжать из дома.",
    ),
    "uk": (
        "Cyrl",
        "The city council approves a plan to rebuild the old bridge over the river, with work expected to "
        "start in spring, last about two years and send traffic through side streets",
        "Міська рада схвалила план відбудови старого мосту через річку. Роботи мають розпочатися навесні й "
        "триватимуть близько двох років. На цей час рух транспорту буде перенаправлено об'їзними вулицями.",
    ),
    "ko": (
        "Hang",
        "Heavy rain shuts roads in the mountain region as rescue workers search for missing hikers and "
        "officials tell residents to stay at home",
        "산간 지역에 며칠째 폭우가 이어지면서 여러 도로의 통행이 전면 통제됐다. 구조대는 연락이 끊긴 등산객들을 "
        "찾기 위해 밤새 수색 작업을 벌이고 있다. 당국은 주민들에게 불필요한 외출을 자제해 달라고 당부했다.",
    ),
    "zh": (
        "Hani",
        "Days of heavy rain close mountain roads, rescuers search for missing hikers and the authorities urge "
        "residents to stay at home and avoid the riverbanks",
        "山区连日暴雨，多条公路已经全面封闭，部分村庄的电力和通讯也受到影响。救援人员正在山谷中搜寻几名失踪的"
        "游客，目前搜救工作仍在继续。当局呼吁居民尽量留在家中，不要前往河边或者山坡附近，并随时关注最新的天气预报。",
    ),
    "de": (
        "Latn",
        "Days of rain close mountain roads in the south while rescue teams search since the morning for "
        "missing hikers and officials ask residents to stay at home until the weather improves",
        "Nach tagelangem Regen sind in den Bergregionen mehrere Straßen gesperrt worden. Rettungskräfte suchen "
        "seit dem Morgen nach vermissten Wanderern. Die Behörden riefen die Bewohner auf, zu Hause zu bleiben.",
    ),
    "fr": (
        "Latn",
        "Lyon reopens its old covered market this Saturday after two years of work, with some twenty new "
        "stalls for producers from the region and longer opening hours at weekends, the city hall says",
        "Après deux ans de travaux, le vieux marché couvert de Lyon rouvre ses portes ce samedi. Une vingtaine "
        "de nouveaux étals accueillent des producteurs de la région. Le marché restera ouvert plus tard le week-end.",
    ),
    "es": (
        "Latn",
        "The regional government announces new train services between the coast and the capital, with the "
        "first trains running from March and cheaper tickets for students all year",
        "El gobierno regional anunció nuevos servicios de tren entre la costa y la capital. Los primeros trenes "
        "circularán a partir de marzo. Los estudiantes tendrán billetes más baratos durante todo el año.",
    ),
    "tr": (
        "Latn",
        "Istanbul ferry services suspended for the day as strong winds sweep across the Bosphorus, the city "
        "warns drivers to watch out for fallen trees and the storm is expected to ease by the evening",
        "Boğaz'da etkili olan kuvvetli rüzgar nedeniyle bugün tüm vapur seferleri iptal edildi. Belediye, "
        "devrilen ağaçlar nedeniyle sürücüleri dikkatli olmaları konusunda uyardı. Fırtınanın akşam "
        "saatlerinde azalması bekleniyor.",
    ),
}

# An English body under a title in another language.
ENGLISH_BODY = (
    "Heavy rain flooded several neighbourhoods of the capital overnight. Schools will stay closed for two "
    "days, and commuters faced long delays on the main roads into the city."
)
FOREIGN_TITLES = {
    "hi": "राजधानी में रात भर की भारी बारिश से कई इलाकों में जलभराव, दो दिन स्कूल बंद और मुख्य सड़कों पर लंबा जाम",
    "ru": "Ливень затопил несколько районов столицы: школы закрыты на два дня, на въездах в город огромные пробки",
    "zh": "首都一夜暴雨多个街区被淹，学校停课两天，进城主干道严重拥堵",
    "de": "Starkregen überflutet mehrere Viertel der Hauptstadt, Schulen bleiben zwei Tage geschlossen",
    "fa": "باران شدید چند محله پایتخت را زیر آب برد؛ مدارس دو روز تعطیل شد و جاده‌های ورودی شهر قفل شد",
}


@pytest.fixture(scope="module")
def model():
    return load(Settings())


def test_the_cases_are_what_this_file_says():
    for lang, (_, title, body) in TITLED.items():
        assert 100 <= len(body) <= 250, lang
        assert len(title) >= 0.85 * len(body), lang  # similar or longer
        assert 2 <= sum(body.count(end) for end in ".।۔。") <= 3, lang


@pytest.mark.parametrize("lang", sorted(TITLED))
def test_english_title_over_a_body_in_another_language_gives_the_body_language(model, lang):
    script, title, body = TITLED[lang]
    [result] = model.predict([Document(id=lang, title=title, text=body)])
    assert result.language.code == lang
    assert result.language.script == script
    assert result.language.method == "fasttext"
    alternatives = {alt.code: alt.confidence for alt in result.language.alternatives}
    assert "en" in alternatives, alternatives
    assert 0.05 < alternatives["en"] < result.language.confidence


@pytest.mark.parametrize("lang", sorted(FOREIGN_TITLES))
def test_english_body_under_a_foreign_title_stays_english(model, lang):
    [result] = model.predict([Document(id=lang, title=FOREIGN_TITLES[lang], text=ENGLISH_BODY)])
    assert (result.language.code, result.language.script) == ("en", "Latn")
    assert lang in [alt.code for alt in result.language.alternatives]


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        (TITLED["de"][1], "Mehr dazu in Kürze.", "en"),
        (TITLED["es"][1], "Más información pronto.", "en"),
        (
            "Власти закрыли несколько горных дорог после сильных снегопадов, спасатели ищут пропавших туристов",
            "Подробиці згодом.",
            "ru",
        ),
        (
            "पहाड़ी इलाकों में भारी बारिश से कई सड़कें बंद, बचाव दल लापता तीर्थयात्रियों की तलाश में जुटे",
            "अधिक माहिती लवकरच.",
            "hi",
        ),
    ],
)
def test_a_body_of_a_few_words_does_not_override_a_long_title_in_its_script(model, title, body, expected):
    [result] = model.predict([Document(id="short", title=title, text=body)])
    assert result.language.code == expected


def test_title_and_body_in_one_language_keep_it_with_full_weight(model):
    _, _, body = TITLED["fr"]
    title = "Le vieux marché couvert de Lyon rouvre après deux ans de travaux avec de nouveaux étals"
    [result] = model.predict([Document(id="fr", title=title, text=body)])
    assert result.language.code == "fr"
    assert result.language.confidence > 0.8


def test_identify_without_a_title_reads_the_whole_text_as_body(model):
    _, title, body = TITLED["mr"]
    assert model.identify(body).code == "mr"
    assert model.identify(body, title=title).code == "mr"


def test_weight_counts_combining_marks_as_part_of_the_text():
    # न म स त are letters; the vowel sign े (Mn) and the virama ् (Mn) carry text too.
    assert _weight("नमस्ते") == 6
    # Arabic harakat (Mn) count like the vowels they are.
    assert _weight("كَتَبَ") == 6
    # A precomposed Latin letter and its decomposed form weigh the same.
    assert _weight("café") == _weight("cafe\u0301") == 4


def test_weight_of_hangul_is_its_jamo_and_of_han_a_measured_factor():
    assert _weight("하") == 2  # ㅎ + ㅏ
    assert _weight("한") == 3  # ㅎ + ㅏ + ㄴ
    assert _weight("\u1112\u1161\u11ab") == 3  # the same syllable as conjoining jamo
    assert _weight("洪水") == 6  # about three Latin letters per ideograph
    assert _weight("カナ") == 4  # one mora, about two romanised letters
    assert _weight("2024, 12:30 — !") == 0


def test_a_body_of_one_sentence_already_decides(model):
    title = TITLED["de"][1]
    body = "Die Behörden riefen die Bewohner der betroffenen Täler auf, zu Hause zu bleiben."
    assert _weight(body) >= 40  # about one sentence: enough to stand for the document
    [result] = model.predict([Document(id="de", title=title, text=body)])
    assert result.language.code == "de"
    assert "en" in [alt.code for alt in result.language.alternatives]
